"""Loads the pvesim fixtures until tests.plugin registers them."""

from __future__ import annotations

from tests.fixtures.pvesim import pvesim, pvesim_factory, sim_client  # noqa: F401
