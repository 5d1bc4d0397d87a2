"""The OpenAPI document as a generated, typed client needs it.

FastAPI describes the success response of each operation; this module adds, from what each route
depends on, the rest of what the server really sends:

- ``bearer`` (a JWT access token or an API key) on every operation that authenticates its caller,
  with 401 and 403; the public ones (login, refresh, password reset, health) stay open;
- 404 on every operation with a path parameter, 412 where ``If-Match`` is honoured, 409 on writes,
  408 and 413 where a body is taken (the request guard's limits), 422 everywhere (validation, and the
  guard's refusal of NUL characters), 503 where the database is used;
- every error with our one error body (``Error``: ``detail``, ``field``, ``errors``).

A route without an ``operation_id`` gets its name in camel case (``list_vms`` → ``listVms``).
Statuses a route's dependencies cannot reveal (429 of a rate limit, 401 of a bad password) are declared
on the route's decorator; they get the same error body here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import fastapi.routing
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import BaseModel

from controlplane.api.deps import WRITE_METHODS, authenticate, runtime
from controlplane.api.etag import expected_version
from controlplane.models.records import Error

BEARER = "bearer"
SCHEMES = {BEARER: {
    "type": "http", "scheme": "bearer",
    "description": "A JWT access token from POST /api/v1/auth/login, or an API key (cp_...) from /api/v1/api-keys.",
}}
REF = "#/components/schemas/{model}"
FASTAPI_VALIDATION = ("HTTPValidationError", "ValidationError")

DESCRIPTIONS: dict[int, str] = {
    401: "No valid credential (missing, expired or revoked token or key)",
    403: "Authenticated, but the role or the API key's scopes do not allow this",
    404: "No such object, or one the caller may not see",
    408: "The request body was not sent in time",
    409: "Conflicts with the current state (name taken, quota exceeded, object in use or being deleted)",
    412: "If-Match names a version that is no longer current (read the object again)",
    413: "The request body is too large",
    422: "The request is invalid; `field` names the offending field",
    429: "Too many attempts; retry after the Retry-After header's seconds",
    502: "A component the control plane depends on failed",
    503: "A component the control plane depends on is unavailable; retry later",
}


def api_routes(routes: list[Any]) -> Iterator[Any]:
    """Every API route of the document, with its full path (FastAPI may keep included routers nested)."""
    contexts = getattr(fastapi.routing, "iter_route_contexts", None)
    for route in contexts(routes) if contexts else routes:
        if isinstance(getattr(route, "original_route", route), APIRoute) and route.include_in_schema:
            yield route


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _calls(sub)


def is_protected(route: Any) -> bool:
    """Whether the route authenticates its caller."""
    return authenticate in set(_calls(route.dependant))


def error_statuses(route: Any) -> set[int]:
    """The error statuses the server can send for ``route``, derived from its dependencies, method and path."""
    calls = set(_calls(route.dependant))
    statuses = {int(code) for code in route.responses if str(code).isdigit() and int(code) >= 400}
    statuses.add(422)  # the request guard refuses a NUL character in any path or query string
    if authenticate in calls:
        statuses |= {401, 403}
        if route.methods & WRITE_METHODS:
            statuses.add(409)
    if authenticate in calls or runtime in calls:
        statuses.add(503)
    if route.dependant.path_params:
        statuses.add(404)
    if expected_version in calls:
        statuses.add(412)
    if route.body_field is not None:
        statuses |= {408, 413}
    return statuses


def _error_content() -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": REF.format(model=Error.__name__)}}}


def _is_fastapi_validation(response: dict[str, Any]) -> bool:
    ref = response.get("content", {}).get("application/json", {}).get("schema", {}).get("$ref", "")
    return ref == REF.format(model=FASTAPI_VALIDATION[0])


def camel_case(name: str) -> str:
    """``list_vms`` → ``listVms``: the operation id of a route that does not set one."""
    first, *rest = name.split("_")
    return first + "".join(part.capitalize() for part in rest)


def _document_operation(operation: dict[str, Any], route: Any) -> None:
    if route.operation_id is None:
        operation["operationId"] = camel_case(route.name)
    responses = operation.setdefault("responses", {})
    for status in sorted(error_statuses(route)):
        response = responses.setdefault(str(status), {})
        if not response.get("description") or _is_fastapi_validation(response):
            response["description"] = DESCRIPTIONS.get(status, "Error")
        if "content" not in response or _is_fastapi_validation(response):
            response["content"] = _error_content()
    if is_protected(route):
        operation["security"] = [{BEARER: []}]


def _add_models(schemas: dict[str, Any], *models: type[BaseModel]) -> None:
    for model in models:
        schema = model.model_json_schema(ref_template=REF)
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema


def customise(schema: dict[str, Any], routes: list[Any]) -> dict[str, Any]:
    """Add security, error responses and the error schema to a document FastAPI generated from ``routes``."""
    by_operation = {(method.lower(), route.path_format): route for route in api_routes(routes)
                    for method in route.methods}
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            route = by_operation.get((method, path))
            if route is not None:
                _document_operation(operation, route)
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    _add_models(schemas, Error)
    if REF.format(model=FASTAPI_VALIDATION[0]) not in json.dumps(schema.get("paths", {})):
        for name in FASTAPI_VALIDATION:
            schemas.pop(name, None)
    components["securitySchemes"] = SCHEMES
    return schema


def install(app: FastAPI) -> None:
    """Serve the customised document at ``/openapi.json`` (built once, on first request)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = customise(generate(), app.routes)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
