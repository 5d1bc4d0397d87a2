"""Proof against the official schema: every served route exists in apischema.json with the same method,
and every required parameter of every served endpoint is enforced over HTTP (400 naming it)."""

from __future__ import annotations

import pytest

from controlplane.pvesim import Simulator
from controlplane.pvesim.routes import all_routes
from controlplane.pvesim.schema import load_schema
from tests.fixtures.pvesim import SimClient

ROUTES = all_routes()
PATH_VALUES = {
    "node": "pve1",
    "vmid": "100",
    "storage": "local-lvm",
    "poolid": "nopool",
    "volume": "local-lvm:vm-100-disk-0",
    "upid": "UPID:pve1:00000001:00000001:00000001:x:1:root@pam:",
}


def _cases() -> list[tuple[str, str, str]]:
    schema = load_schema()
    cases = []
    for route in ROUTES:
        endpoint = schema.endpoint(route.method, route.template)
        assert endpoint is not None
        path_params = {p[1:-1] for p in route.parts if p.startswith("{")}
        cases.extend((route.method, route.template, name) for name in endpoint.required if name not in path_params)
    return cases


def test_every_route_is_in_the_schema() -> None:
    schema = load_schema()
    assert len(ROUTES) > 50
    missing = [f"{r.method} {r.template}" for r in ROUTES if schema.endpoint(r.method, r.template) is None]
    assert missing == []


def test_routes_are_unique() -> None:
    keys = [(r.method, r.template) for r in ROUTES]
    assert len(keys) == len(set(keys))


CASES = _cases()


def test_there_are_required_parameters_to_check() -> None:
    names = {(m, t, n) for m, t, n in CASES}
    assert ("POST", "/nodes/{node}/lxc", "ostemplate") in names
    assert ("POST", "/access/ticket", "username") in names
    assert ("GET", "/nodes/{node}/rrddata", "timeframe") in names


@pytest.mark.parametrize(("method", "template", "name"), CASES, ids=[f"{m} {t} -{n}" for m, t, n in CASES])
def test_required_parameter_is_enforced(
    pvesim: Simulator, sim_client: SimClient, method: str, template: str, name: str
) -> None:
    path = template
    for key, value in PATH_VALUES.items():
        path = path.replace("{" + key + "}", value)
    resp = sim_client.request(method, path)
    assert resp.status_code == 400, (resp.status_code, resp.reason)
    assert resp.reason == "Parameter verification failed."
    body = resp.json()
    assert body["data"] is None
    assert body["errors"][name] == "property is missing and it is not optional"
