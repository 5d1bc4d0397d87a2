"""Unit checks of schema-driven validation, property strings and fault rule parsing."""

from __future__ import annotations

import pytest

from controlplane.pvesim import propstring
from controlplane.pvesim.errors import ParamError
from controlplane.pvesim.faults import FaultRule, Faults
from controlplane.pvesim.schema import load_schema


def _create():  # type: ignore[no-untyped-def]
    endpoint = load_schema().endpoint("POST", "/nodes/{node}/qemu")
    assert endpoint is not None
    return endpoint


def test_coercion_of_form_values() -> None:
    out = _create().validate(
        {
            "node": "pve1",
            "vmid": "101",
            "onboot": "true",
            "cores": "2",
            "memory": "1024",
            "net31": "virtio,bridge=vmbr0",
            "scsi30": "local-lvm:1",
            "cpulimit": "1.5",
        }
    )
    assert out["vmid"] == 101 and out["onboot"] == 1 and out["cores"] == 2 and out["memory"] == "1024"
    assert out["cpulimit"] == 1.5


@pytest.mark.parametrize(
    ("params", "name", "message"),
    [
        ({"vmid": "99"}, "vmid", "value must have a minimum value of 100"),
        ({"vmid": "abc"}, "vmid", "type check ('integer') failed - got 'abc'"),
        (
            {"net32": "virtio"},
            "net32",
            "property is not defined in schema and the schema does not allow additional properties",
        ),
        (
            {"scsi31": "local-lvm:1"},
            "scsi31",
            "property is not defined in schema and the schema does not allow additional properties",
        ),
        ({"ostype": "plan9"}, "ostype", "value 'plan9' does not have a value in the enumeration"),
        ({"name": "bad name!"}, "name", "value does not look like a valid DNS name"),
        ({"net0": "virtio,tag=5000"}, "net0", "net0.tag: value must have a maximum value of 4094"),
        ({"node": "-bad"}, "node", "value does not look like a valid node name"),
    ],
)
def test_rejections_name_the_parameter(params: dict[str, str], name: str, message: str) -> None:
    base = {"node": "pve1", "vmid": "100"}
    with pytest.raises(ParamError) as err:
        _create().validate({**base, **params})
    assert err.value.status == 400 and err.value.reason == "Parameter verification failed."
    assert message in err.value.errors[name]  # type: ignore[index]


def test_missing_required() -> None:
    with pytest.raises(ParamError) as err:
        _create().validate({"node": "pve1"})
    assert err.value.errors == {"vmid": "property is missing and it is not optional"}


def test_property_strings_round_trip() -> None:
    items = propstring.parse("local-lvm:vm-1-disk-0,size=8G,cache=none", "file")
    assert items == {"file": "local-lvm:vm-1-disk-0", "size": "8G", "cache": "none"}
    assert propstring.render(items, first="file") == "local-lvm:vm-1-disk-0,size=8G,cache=none"
    assert propstring.parse_size("8G") == 8 << 30 and propstring.format_size(4608 << 20) == "4608M"
    fmt = _create().spec_for("net0")["format"]  # type: ignore[index]
    assert propstring.resolve_aliases(propstring.parse("virtio=BC:24:11:00:00:01", "model"), fmt) == {
        "model": "virtio",
        "macaddr": "BC:24:11:00:00:01",
    }


def test_fault_rules_parse_and_seeded_rolls() -> None:
    rule = FaultRule.parse("error,path=/x/*,rate=0.25,status=503")
    assert (rule.kind, rule.path, rule.rate, rule.status) == ("error", "/x/*", 0.25, 503)
    with pytest.raises(ValueError):
        FaultRule.parse("explode,rate=1")
    with pytest.raises(ValueError):
        FaultRule.parse("error,colour=red")

    def run(seed: int) -> list[bool]:
        faults = Faults(seed)
        faults.add("error,rate=0.5")
        return [faults.for_request("GET", "/version").error is not None for _ in range(64)]

    assert run(5) == run(5) != run(6)
