"""Proof against the schema the simulator validates with (the official apischema.json when it is on this
machine, else the bundled subset; the test id and the report header say which): every served route exists
in it with the same method, and every required parameter of every served endpoint is enforced over HTTP
(400 naming it). ``make schema-check`` compares the routes with the official schema itself."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from controlplane.pvesim import Simulator
from controlplane.pvesim.routes import all_routes
from controlplane.pvesim.schema import BUNDLED_SUBSET, ApiSchema, load_schema
from tests.fixtures.pvesim import SimClient

ROUTES = all_routes()
SCHEMA = load_schema()
SCHEMA_LABEL = "bundled-subset" if SCHEMA.source == BUNDLED_SUBSET.resolve() else "official-apischema"
README = Path(__file__).resolve().parents[3] / "README.md"
PATH_VALUES = {
    "node": "pve1",
    "vmid": "100",
    "storage": "local-lvm",
    "poolid": "nopool",
    "volume": "local-lvm:vm-100-disk-0",
    "upid": "UPID:pve1:00000001:00000001:00000001:x:1:root@pam:",
}


def _cases() -> list[tuple[str, str, str]]:
    cases = []
    for route in ROUTES:
        endpoint = SCHEMA.endpoint(route.method, route.template)
        assert endpoint is not None
        path_params = {p[1:-1] for p in route.parts if p.startswith("{")}
        cases.extend((route.method, route.template, name) for name in endpoint.required if name not in path_params)
    return cases


@pytest.mark.parametrize("schema", [SCHEMA], ids=[SCHEMA_LABEL])
def test_every_route_is_in_the_schema_the_simulator_validates_with(schema: ApiSchema) -> None:
    missing = [f"{r.method} {r.template}" for r in ROUTES if schema.endpoint(r.method, r.template) is None]
    assert missing == [], f"not in {schema.source}"


def test_the_simulator_serves_exactly_the_number_of_routes_the_readme_says() -> None:
    documented = re.search(r"(\d+)\s+routes:", README.read_text())
    assert documented is not None, "the README's simulator section names its route count"
    assert len(ROUTES) == int(documented.group(1)), [f"{r.method} {r.template}" for r in ROUTES]


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
