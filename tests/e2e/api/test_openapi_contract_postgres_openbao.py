"""``/openapi.json`` as a generated client reads it, checked against what the server really sends.

The document: a short unique ``operationId`` and one tag per operation, ``bearer`` security on every
protected operation (none on login, refresh, password reset and health), 401/403 on protected ones, 404
on those with a path parameter, 412 where If-Match is taken, 408/413 where a body is taken, every error
with the one ``Error`` schema, enumerated ``action``, typed guest specs. The server: every protected
operation answers 401 without a credential, every write 403 to a read-only API key, every path-parameter
operation 404 for an id that does not exist, always with a status the document declares and a body of
the declared schema. Real PostgreSQL and OpenBao.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from controlplane.models.records import Error, Readiness
from tests.fixtures.api import World

PUBLIC = {"healthz", "readyz", "login", "refreshToken", "requestPasswordReset", "confirmPasswordReset",
          "describePasswordReset", "gitSourceWebhook"}
SOME_IDS = {
    ("get", "/api/v1/vms"): "listVms", ("post", "/api/v1/vms"): "createVm", ("get", "/api/v1/vms/{guest_id}"): "getVm",
    ("patch", "/api/v1/vms/{guest_id}"): "patchVm", ("delete", "/api/v1/vms/{guest_id}"): "deleteVm",
    ("post", "/api/v1/vms/{guest_id}/actions/{action}"): "vmAction", ("get", "/api/v1/containers"): "listContainers",
    ("post", "/api/v1/auth/login"): "login", ("post", "/api/v1/auth/refresh"): "refreshToken",
    ("get", "/api/v1/runs/{run_id}/log"): "getRunLog", ("get", "/api/v1/audit"): "searchAudit",
}
WRITES = {"post", "put", "patch", "delete"}
ERROR_REF = "#/components/schemas/Error"


@pytest.fixture(scope="module")
def document(module_world: World) -> dict[str, Any]:
    resp = module_world.api.client().get("/openapi.json")
    assert resp.status_code == 200
    return resp.json()


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield method, path, operation


def _params(operation: dict[str, Any], where: str) -> list[dict[str, Any]]:
    return [p for p in operation.get("parameters", []) if p["in"] == where]


def test_ids_tags_and_security(document: dict[str, Any]) -> None:
    ids = [op["operationId"] for _, _, op in operations(document)]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    assert all(re.fullmatch(r"[a-z][A-Za-z]{2,30}", i) for i in ids), ids
    for (method, path), wanted in SOME_IDS.items():
        assert document["paths"][path][method]["operationId"] == wanted
    tags = {op["operationId"]: op.get("tags") for _, _, op in operations(document)}
    assert all(len(t or []) == 1 for t in tags.values()), tags
    assert (tags["searchAudit"], tags["listRuns"], tags["vmAction"]) == (["audit"], ["runs"], ["vms"])

    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http", "scheme": "bearer", "description": document["components"]["securitySchemes"]["bearer"]
        ["description"]}
    open_ops = {op["operationId"] for _, _, op in operations(document) if not op.get("security")}
    assert open_ops == PUBLIC
    for _, _, op in operations(document):
        if op["operationId"] not in PUBLIC:
            assert op["security"] == [{"bearer": []}], op["operationId"]


def test_every_operation_declares_its_errors(document: dict[str, Any]) -> None:
    for method, _path, op in operations(document):
        name, declared = op["operationId"], op["responses"]
        if op.get("security"):
            assert {"401", "403", "503"} <= declared.keys(), name
        if _params(op, "path"):
            assert "404" in declared, name
        if any(p["name"] == "If-Match" for p in _params(op, "header")):
            assert "412" in declared, name
        assert "422" in declared, name
        if "requestBody" in op:
            assert {"408", "413"} <= declared.keys(), name
        if op.get("security") and method in WRITES:
            assert "409" in declared, name
        for status, response in declared.items():
            if int(status) >= 400:
                schema = response["content"]["application/json"]["schema"]
                wanted = "#/components/schemas/Readiness" if (name, status) == ("readyz", "503") else ERROR_REF
                assert schema == {"$ref": wanted}, (name, status, schema)
                assert response["description"], (name, status)
    assert {"401", "429"} <= document["paths"]["/api/v1/auth/login"]["post"]["responses"].keys()
    assert "HTTPValidationError" not in document["components"]["schemas"]
    error = document["components"]["schemas"]["Error"]
    assert set(error["properties"]) == {"detail", "field", "errors"} and error["required"] == ["detail"]


def test_enums_and_typed_specs(document: dict[str, Any]) -> None:
    action = next(p for p in _params(document["paths"]["/api/v1/vms/{guest_id}/actions/{action}"]["post"], "path")
                  if p["name"] == "action")
    assert action["schema"]["enum"] == ["start", "stop", "shutdown", "reboot"]
    schemas = document["components"]["schemas"]
    assert schemas["GuestPublic"]["properties"]["spec"] == {"$ref": "#/components/schemas/Spec"}
    patch_spec = schemas["GuestPatch"]["properties"]["spec"]["anyOf"]
    assert {"$ref": "#/components/schemas/SpecPatch"} in patch_spec
    partial = schemas["SpecPatch"]
    assert partial["additionalProperties"] is False and not partial.get("required")
    assert set(partial["properties"]) == set(schemas["Spec"]["properties"])
    ready = document["paths"]["/readyz"]["get"]["responses"]
    assert ready["200"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Readiness"}


def _sample_body(name: str, world: World) -> dict[str, Any]:
    if name.startswith("replace"):
        return world.vm_doc("web-9") | ({"kind": "Container"} if "Container" in name else {})
    if name == "addProjectMember":
        return {"user_id": str(uuid.uuid4())}
    return {}


def _call(client: TestClient, method: str, path: str, body: dict[str, Any] | None) -> Any:
    url = re.sub(r"\{action\}", "start", path)
    url = re.sub(r"\{[a-z_]+\}", lambda _: str(uuid.uuid4()), url)
    return client.request(method, url, json=body)


def _expect(resp: Any, status: int, op: dict[str, Any], what: str) -> None:
    assert resp.status_code == status, (op["operationId"], what, resp.status_code, resp.text[:300])
    assert str(status) in op["responses"], (op["operationId"], status)
    Error.model_validate(resp.json())


def test_the_server_sends_what_is_declared(document: dict[str, Any], module_world: World) -> None:
    world = module_world
    anonymous = world.api.client()
    created = world.admin.post("/api/v1/api-keys", json={"name": "reader", "scopes": ["read"]})
    assert created.status_code == 201, created.text
    reader = world.api.client(created.json()["key"])
    checked = {"401": 0, "403": 0, "404": 0}
    for method, path, op in operations(document):
        body = _sample_body(op["operationId"], world) if "requestBody" in op else None
        if op.get("security"):
            _expect(_call(anonymous, method, path, body), 401, op, "no credential")
            checked["401"] += 1
            if method in WRITES:
                _expect(_call(reader, method, path, body), 403, op, "read-only API key")
                checked["403"] += 1
        if _params(op, "path"):
            _expect(_call(world.admin, method, path, body), 404, op, "an id that does not exist")
            checked["404"] += 1
    assert checked["401"] >= 48 and checked["403"] >= 28 and checked["404"] >= 30, checked

    ready = anonymous.get("/readyz")
    assert ready.status_code == 200
    assert Readiness.model_validate(ready.json()).components["postgresql"].status == "ok"
