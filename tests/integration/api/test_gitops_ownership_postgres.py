"""Who owns a guest: the API shows ``managed_by`` and the source; a git-managed spec is refused (409) through
the API with the repository and file to change instead, while power actions stay allowed."""

from __future__ import annotations

from controlplane.db.engine import RequestContext, session_scope
from controlplane.services import gitops_ownership
from controlplane.services.guests import VM
from tests.fixtures.api import World


def test_a_git_managed_vm_refuses_spec_changes_but_not_power(world: World) -> None:
    client = world.acme.manager
    made = client.post("/api/v1/vms", json=world.vm_doc("web-1"))
    assert made.status_code == 201, made.text
    vm = made.json()
    assert vm["metadata"]["managed_by"] == "api" and vm["metadata"]["source"] is None
    # a read document can be written back, bookkeeping and all
    assert client.put(f"/api/v1/vms/{vm['id']}", json=vm).status_code == 200

    with session_scope(world.api.engine, RequestContext(role="admin")) as session:
        gitops_ownership.mark(session, VM, vm["id"], "git:infra", repository="https://git.example.test/infra.git",
                              file="shop/VirtualMachine/web-1.yaml", commit="0123abc")
    shown = client.get(f"/api/v1/vms/{vm['id']}").json()["metadata"]
    assert shown["managed_by"] == "git:infra"
    assert shown["source"] == {"repository": "https://git.example.test/infra.git",
                               "file": "shop/VirtualMachine/web-1.yaml", "commit": "0123abc"}

    patched = client.patch(f"/api/v1/vms/{vm['id']}", json={"spec": {"cores": 2}})
    assert patched.status_code == 409, patched.text
    assert "shop/VirtualMachine/web-1.yaml in https://git.example.test/infra.git" in patched.text
    replaced = client.put(f"/api/v1/vms/{vm['id']}", json=world.vm_doc("web-1", cores=3))
    assert replaced.status_code == 409
    assert client.delete(f"/api/v1/vms/{vm['id']}").status_code == 409
    assert client.get(f"/api/v1/vms/{vm['id']}").json()["spec"]["cores"] == 1

    stopped = client.post(f"/api/v1/vms/{vm['id']}/actions/stop")
    assert stopped.status_code == 202, stopped.text
    assert client.get(f"/api/v1/vms/{vm['id']}").json()["spec"]["power"] == "stopped"
