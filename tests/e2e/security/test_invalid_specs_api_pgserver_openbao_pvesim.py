"""What the API can know to be invalid it refuses, with a 422 naming the field, before the reconciler
ever sees it: memory below the provider's 64 MiB minimum, a disk of size 0, a node the cluster does not
have, a storage the chosen node (or no node) has. Valid values next to them are accepted. Real
PostgreSQL, OpenBao, the API and a registered simulator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.reconciler.apiflow import PATHS, set_up


def _doc(name: str, **spec: Any) -> dict[str, Any]:
    body = {"cluster": "demo", "node": "auto", "cores": 1, "memory_mb": 512, "image": "debian-12",
            "disks": [{"size_gb": 4, "storage": "local-lvm"}], "power": "running"}
    body.update(spec)
    return {"apiVersion": "controlplane/v1", "kind": "VirtualMachine",
            "metadata": {"name": name, "project": "shop"}, "spec": body}


@pytest.mark.parametrize("kind", ["VirtualMachine", "Container"])
def test_invalid_specs_are_refused_naming_the_field(kind, database, vault, toolchain, pvesim_factory,
                                                    tmp_path: Path) -> None:
    sim = pvesim_factory(nodes=2, task_seconds=0)
    product = set_up(database, vault, toolchain, sim, tmp_path)
    refused = {
        "spec.memory_mb": {"memory_mb": 16},
        "spec.disks.0.size_gb": {"disks": [{"size_gb": 0, "storage": "local-lvm"}]},
        "spec.node": {"node": "pve9"},
        "spec.disks.0.storage": {"disks": [{"size_gb": 4, "storage": "no-such-storage"}]},
        "spec.disks.1.storage": {"node": "pve1", "disks": [{"size_gb": 4, "storage": "local-lvm"},
                                                           {"size_gb": 4, "storage": "nowhere"}]},
    }
    for index, (field, spec) in enumerate(refused.items()):
        doc = _doc(f"bad-{index}", **spec)
        doc["kind"] = kind
        resp = product.user.post(PATHS[kind], json=doc)
        assert resp.status_code == 422, (field, resp.status_code, resp.text)
        assert field in resp.text, (field, resp.text)
    good = _doc("good-1", memory_mb=64, node="pve2")
    good["kind"] = kind
    created = product.user.post(PATHS[kind], json=good)
    assert created.status_code == 201, created.text
    path = f"{PATHS[kind]}/{created.json()['id']}"
    patched = product.user.patch(path, json={"spec": {"disks": [{"size_gb": 4, "storage": "gone"}]}})
    assert patched.status_code == 422 and "spec.disks.0.storage" in patched.text, patched.text
    assert product.user.get(path).json()["spec"]["disks"][0]["storage"] == "local-lvm"
