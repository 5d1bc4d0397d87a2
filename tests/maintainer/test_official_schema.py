"""Maintainer checks against the full official PVE API schema, which is not part of the repository:
``make schema-check`` (``pytest tests/maintainer --official-schema PATH``; collected only with that option).
The bundled subset of the served endpoints is what the official schema gives today, and every route the
simulator serves exists in the official schema with the same method."""

from __future__ import annotations

from pathlib import Path

import pytest

from controlplane.pvesim import schema, schema_subset
from controlplane.pvesim.routes import all_routes


@pytest.fixture(scope="module")
def official(request: pytest.FixtureRequest) -> Path:
    """The official ``apischema.json`` named by ``--official-schema`` (must exist)."""
    option = request.config.getoption("official_schema")
    if not option:
        pytest.fail("give the official schema: make schema-check SCHEMA=path/to/apischema.json", pytrace=False)
    given = Path(option)
    path = given if given.is_absolute() else request.config.invocation_params.dir / given
    if not path.is_file():
        pytest.fail(f"--official-schema: no file at {path}", pytrace=False)
    return path.resolve()


def test_bundled_subset_is_up_to_date_with_the_official_schema(official: Path) -> None:
    assert schema.BUNDLED_SUBSET.read_text() == schema_subset.render(official), (
        f"regenerate with: python -m controlplane.pvesim.schema_subset {official}"
    )


def test_every_served_route_is_in_the_official_schema(official: Path) -> None:
    full = schema.ApiSchema(official)
    missing = [f"{r.method} {r.template}" for r in all_routes() if full.endpoint(r.method, r.template) is None]
    assert missing == [], f"not in {official}"
