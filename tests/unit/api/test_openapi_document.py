"""The OpenAPI customisation on small apps: statuses derived from a route's dependencies, method and path,
the security requirement, the one error schema, and operation ids for routes that set none."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI

from controlplane.api import openapi
from controlplane.api.deps import CallerDep, RuntimeDep
from controlplane.api.etag import ExpectedVersion
from controlplane.models.records import Error


def _document() -> dict[str, Any]:
    app = FastAPI()
    router = APIRouter(prefix="/things")

    @router.get("/{thing_id}")
    def get_thing(thing_id: int, caller: CallerDep) -> dict[str, int]:
        return {}

    @router.patch("/{thing_id}", operation_id="patchThing")
    def patch_thing(thing_id: int, body: Error, caller: CallerDep, expected: ExpectedVersion) -> dict[str, int]:
        return {}

    @router.post("/open", responses={429: {}})
    def open_door(body: Error, rt: RuntimeDep) -> dict[str, int]:
        return {}

    app.include_router(router)
    openapi.install(app)
    return app.openapi()


def test_statuses_follow_the_dependencies() -> None:
    paths = _document()["paths"]
    get, patch, post = paths["/things/{thing_id}"]["get"], paths["/things/{thing_id}"]["patch"], \
        paths["/things/open"]["post"]
    assert sorted(get["responses"]) == ["200", "401", "403", "404", "422", "503"]
    assert sorted(patch["responses"]) == ["200", "401", "403", "404", "408", "409", "412", "413", "422", "503"]
    assert sorted(post["responses"]) == ["200", "408", "413", "422", "429", "503"]
    assert get["security"] == patch["security"] == [{"bearer": []}] and "security" not in post


def test_errors_share_one_schema_and_ids_are_camel_case() -> None:
    document = _document()
    for item in document["paths"].values():
        for operation in item.values():
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    ids = [op["operationId"] for item in document["paths"].values() for op in item.values()]
    assert ids == ["getThing", "patchThing", "openDoor"]
    assert "HTTPValidationError" not in document["components"]["schemas"]
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
