"""The guest document schema: what it accepts, what it refuses, and which field it names."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from controlplane.models.guest import GuestDocument, Spec

BASE: dict[str, Any] = {"metadata": {"name": "web-1", "project": "shop"}, "spec": {"cluster": "demo",
                                                                                  "image": "debian-12"}}


def _loc(doc: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as err:
        GuestDocument.model_validate(doc)
    return ".".join(str(p) for p in err.value.errors()[0]["loc"])


def test_defaults_fill_a_minimal_document() -> None:
    doc = GuestDocument.model_validate(BASE)
    assert doc.apiVersion == "controlplane/v1" and doc.spec.node == "auto" and doc.spec.power == "running"
    assert doc.spec.disk_gb == 8 and doc.spec.network[0].ipv4 == "dhcp"


def test_status_and_bookkeeping_are_ignored_on_input() -> None:
    doc = GuestDocument.model_validate(BASE | {"status": {"vmid": 1}, "id": "x",
                                               "metadata": BASE["metadata"] | {"generation": 9}})
    assert "status" not in doc.model_dump()


@pytest.mark.parametrize(("spec", "field"), [
    ({"cores": 0}, "spec.cores"),
    ({"memory_mb": 1}, "spec.memory_mb"),
    ({"node": "no spaces"}, "spec.node"),
    ({"network": [{"ipv4": "10.0.0.5"}]}, "spec.network.0.ipv4"),
    ({"network": [{"ipv4": "dhcp", "gateway": "10.0.0.1"}]}, "spec.network.0"),
    ({"network": [{"vlan": 5000}]}, "spec.network.0.vlan"),
    ({"configure": {"playbook": "../../etc/passwd.yml"}}, "spec.configure.playbook"),
    ({"typo": 1}, "spec.typo"),
])
def test_bad_spec_fields_are_named(spec: dict[str, Any], field: str) -> None:
    assert _loc(BASE | {"spec": BASE["spec"] | spec}) == field


def test_static_address_is_normalised_and_keys_checked() -> None:
    spec = Spec.model_validate(BASE["spec"] | {
        "network": [{"ipv4": "10.0.0.5/24", "gateway": "10.0.0.1", "vlan": 20}],
        "ssh_keys": ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBase64Key user@host"],
    })
    assert spec.network[0].ipv4 == "10.0.0.5/24"
    assert _loc(BASE | {"spec": BASE["spec"] | {"ssh_keys": ["rm -rf /"]}}) == "spec.ssh_keys"


def test_name_must_be_a_dns_label_and_cluster_is_required() -> None:
    assert _loc(BASE | {"metadata": {"name": "Web_1"}}) == "metadata.name"
    assert _loc(BASE | {"spec": {"image": "debian-12"}}) == "spec"
