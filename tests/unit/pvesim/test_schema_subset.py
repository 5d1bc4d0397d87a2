"""The bundled endpoint constraints let the simulator run without the official schema (which is compared with
them by ``make schema-check``)."""

from __future__ import annotations

from controlplane.pvesim import schema
from controlplane.pvesim.routes import all_routes


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
