"""The bundled endpoint constraints match the official schema and let the simulator run without it."""

from __future__ import annotations

from pathlib import Path

import pytest

from controlplane.pvesim import schema, schema_subset
from controlplane.pvesim.routes import all_routes

OFFICIAL = Path(__file__).resolve().parents[3].parent / "shared" / "pve-api" / "apischema.json"


def test_bundled_subset_is_up_to_date_with_the_official_schema() -> None:
    if not OFFICIAL.is_file():
        pytest.fail(f"the official PVE API schema is expected at {OFFICIAL}", pytrace=False)
    expected = schema_subset.render(OFFICIAL)
    assert schema.BUNDLED_SUBSET.read_text() == expected, (
        "regenerate with: python -m controlplane.pvesim.schema_subset ../shared/pve-api/apischema.json"
    )


def test_every_served_route_has_constraints_in_the_bundled_subset() -> None:
    bundled = schema.ApiSchema(schema.BUNDLED_SUBSET)
    missing = [(r.method, r.template) for r in all_routes() if bundled.endpoint(r.method, r.template) is None]
    assert missing == []


def test_bundled_subset_carries_no_description_text() -> None:
    text = schema.BUNDLED_SUBSET.read_text()
    assert "verbose_description" not in text and "typetext" not in text
    bundled = schema.ApiSchema(schema.BUNDLED_SUBSET)
    create = bundled.endpoint("POST", "/nodes/{node}/qemu")
    assert create is not None and "cores" in create.props and "description" not in create.props["cores"]
