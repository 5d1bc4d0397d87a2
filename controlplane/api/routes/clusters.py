"""``/api/v1/clusters``: admins register Proxmox VE clusters (token secret to Vault); everyone reads."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Response, status

from controlplane.api.deps import DbDep, RuntimeDep
from controlplane.api.etag import PRECONDITION, ExpectedVersion, tagged
from controlplane.api.listparams import list_params
from controlplane.models import tables as t
from controlplane.models.cluster import ClusterCreate, ClusterPublic, NodePublic
from controlplane.models.common import Page
from controlplane.services import clusters
from controlplane.services.caller import Caller
from controlplane.services.listing import ListParams, paginate

router = APIRouter(prefix="/clusters", tags=["clusters"])
C = t.clusters
VAULT: dict[int | str, dict[str, Any]] = {502: {"description": "Vault failed to store or delete the token secret"}}


def public(row: Any, nodes: list[Any], caller: Caller) -> ClusterPublic:
    """A cluster as the API shows it; only admins see where it is and which token it uses."""
    admin = caller.is_admin
    return ClusterPublic(
        id=row.id, name=row.name, endpoint=row.endpoint if admin else "", token_id=row.token_id if admin else "",
        verify_tls=row.verify_tls, status=row.status, created_at=row.created_at, updated_at=row.updated_at,
        resource_version=row.resource_version,
        nodes=[NodePublic.model_validate(n, from_attributes=True) for n in nodes],
    )


@router.get("", response_model=Page[ClusterPublic], operation_id="listClusters")
def list_clusters(db: DbDep, params: Annotated[ListParams, Depends(list_params)]) -> Page[ClusterPublic]:
    """Registered clusters with their nodes."""

    def run(s: Any) -> Page[ClusterPublic]:
        rows, cursor = paginate(s, clusters.list_query(), params, id_column=C.c.id, default_sort="name",
                                sortable={"name": C.c.name, "created_at": C.c.created_at}, search=[C.c.name])
        nodes = clusters.nodes_of(s, [r.id for r in rows])
        return Page(items=[public(r, nodes[r.id], db.caller) for r in rows], next_cursor=cursor)

    return db.read(run)


@router.post("", response_model=ClusterPublic, status_code=status.HTTP_201_CREATED, operation_id="registerCluster",
             responses=VAULT)
def register_cluster(body: ClusterCreate, db: DbDep, rt: RuntimeDep, response: Response) -> ClusterPublic:
    """Test the connection, store the token secret in Vault, record nodes and storages (admins)."""

    def run(s: Any) -> ClusterPublic:
        row = clusters.register(s, db.caller, body, rt.deps.vault, rt.prober)
        return public(row, clusters.nodes_of(s, [row.id])[row.id], db.caller)

    return tagged(response, db.write("cluster.register", run, target_kind="Cluster"))


@router.get("/{cluster_id}", response_model=ClusterPublic, operation_id="getCluster")
def get_cluster(cluster_id: UUID, db: DbDep, response: Response) -> ClusterPublic:
    """One cluster with its nodes (and its version as the ETag)."""

    def run(s: Any) -> ClusterPublic:
        row = clusters.get(s, cluster_id)
        return public(row, clusters.nodes_of(s, [row.id])[row.id], db.caller)

    return tagged(response, db.read(run))


@router.delete("/{cluster_id}", status_code=status.HTTP_204_NO_CONTENT, operation_id="removeCluster",
                responses={**PRECONDITION, **VAULT})
def remove_cluster(cluster_id: UUID, db: DbDep, rt: RuntimeDep, expected: ExpectedVersion) -> Response:
    """Forget a cluster no guest uses, and its secret (admins; If-Match: only while unchanged)."""
    db.write("cluster.remove", lambda s: clusters.remove(s, db.caller, cluster_id, rt.deps.vault, expected),
             target_kind="Cluster", target=cluster_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
