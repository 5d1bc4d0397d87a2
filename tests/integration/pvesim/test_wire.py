"""Wire format: envelopes, error reason phrases, typing quirks the real clients rely on, path decoding."""

from __future__ import annotations

import re

from controlplane.pvesim import Simulator
from tests.fixtures.pvesim import SimClient

UPID_RX = re.compile(r"UPID:[a-z0-9-]+:[0-9A-F]{8}:[0-9A-F]{8}:[0-9A-F]{8}:[a-z]+:[^:]*:[^:]+:")


def test_envelope_types_and_quirks(pvesim: Simulator, sim_client: SimClient) -> None:
    nextid = sim_client.data("GET", "/cluster/nextid")
    assert isinstance(nextid, str) and int(nextid) >= 100
    vms = sim_client.data("GET", "/cluster/resources", params={"type": "vm"})
    assert vms and all(isinstance(r["vmid"], int) and r["type"] in ("qemu", "lxc") for r in vms)
    qemu = next(r for r in vms if r["type"] == "qemu")
    config = sim_client.data("GET", f"/nodes/{qemu['node']}/qemu/{qemu['vmid']}/config")
    assert isinstance(config["memory"], str) and isinstance(config["cores"], int)
    assert isinstance(config["scsi0"], str) and isinstance(config["net0"], str)
    assert len(config["digest"]) == 40
    lxc = next(r for r in vms if r["type"] == "lxc")
    lconf = sim_client.data("GET", f"/nodes/{lxc['node']}/lxc/{lxc['vmid']}/config")
    assert isinstance(lconf["memory"], int) and isinstance(lconf["rootfs"], str)
    status = sim_client.data("GET", f"/nodes/{qemu['node']}/qemu/{qemu['vmid']}/status/current")
    assert "qmpstatus" in status and isinstance(status["cpus"], int)
    all_types = {r["type"] for r in sim_client.data("GET", "/cluster/resources")}
    assert {"node", "storage", "qemu", "lxc"} <= all_types


def test_errors_use_reason_phrase(pvesim: Simulator, sim_client: SimClient) -> None:
    resp = sim_client.request("GET", "/nodes/pve1/qemu/99999/config")
    assert resp.status_code == 500
    assert resp.reason == "Configuration file 'nodes/pve1/qemu-server/99999.conf' does not exist"
    assert resp.json() == {"data": None}
    resp = sim_client.request("GET", "/nodes/pve1/nothing-here")
    assert resp.status_code == 501 and resp.reason == "Method 'GET /nodes/pve1/nothing-here' not implemented"


def test_parameter_errors_name_the_parameter(pvesim: Simulator, sim_client: SimClient) -> None:
    resp = sim_client.request(
        "POST",
        "/nodes/pve1/qemu",
        data={
            "vmid": 900,
            "cores": 0,
            "bogus": 1,
            "onboot": "maybe",
            "scsi99": "local-lvm:1",
            "net0": "virtio,bridge=vmbr0,colour=blue",
        },
    )
    assert resp.status_code == 400 and resp.reason == "Parameter verification failed."
    errors = resp.json()["errors"]
    assert errors["cores"] == "value must have a minimum value of 1"
    assert errors["bogus"].startswith("property is not defined in schema")
    assert errors["scsi99"].startswith("property is not defined in schema")
    assert errors["onboot"] == "type check ('boolean') failed - got 'maybe'"
    assert "net0.colour" in errors["net0"]
    resp = sim_client.request("GET", "/cluster/resources", params={"type": "vms"})
    assert resp.json()["errors"]["type"].startswith("value 'vms' does not have a value in the enumeration")
    assert 900 not in {r["vmid"] for r in sim_client.data("GET", "/cluster/resources", params={"type": "vm"})}


def test_json_bodies_trailing_slash_and_percent_decoding(pvesim: Simulator, sim_client: SimClient) -> None:
    upid = sim_client.data(
        "POST",
        "/nodes/pve2/qemu",
        json={"vmid": 950, "memory": "512", "cores": 1, "scsi0": "local-lvm:1", "onboot": True},
    )
    assert UPID_RX.fullmatch(upid), upid
    encoded = upid.replace("!", "%21")
    assert "%21" in encoded
    status = sim_client.data("GET", f"/nodes/pve2/tasks/{encoded}/status")
    assert status["status"] == "stopped" and status["exitstatus"] == "OK" and status["upid"] == upid
    assert sim_client.data("GET", f"/nodes/pve2/tasks/{upid}/log")[-1]["t"] == "TASK OK"
    cfg = sim_client.data("GET", "/nodes/pve2/qemu/950/config/")
    assert cfg["onboot"] == 1
    volid = cfg["scsi0"].split(",")[0]
    info = sim_client.data("GET", f"/nodes/pve2/storage/local-lvm/content/{volid.replace(':', '%3A')}")
    assert info["format"] == "raw" and info["size"] == 1 << 30
    tmpl = "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"
    assert sim_client.data("GET", f"/nodes/pve2/storage/local/content/{tmpl.replace('/', '%2F')}")["size"] > 0
    assert sim_client.data("GET", f"/nodes/pve2/storage/local/content/{tmpl}")["format"] == "tzst"
    upid = sim_client.data("DELETE", "/nodes/pve2/qemu/950/?destroy-unreferenced-disks=1&purge=1")
    assert UPID_RX.fullmatch(upid)
    assert sim_client.request("GET", "/nodes/pve2/qemu/950/status/current").status_code == 500


def test_nextid_vmid_check(pvesim: Simulator, sim_client: SimClient) -> None:
    taken = sim_client.data("GET", "/cluster/resources", params={"type": "vm"})[0]["vmid"]
    resp = sim_client.request("GET", "/cluster/nextid", params={"vmid": taken})
    assert resp.status_code == 400 and resp.json()["errors"]["vmid"] == f"VM {taken} already exists"
    assert sim_client.data("GET", "/cluster/nextid", params={"vmid": 77777}) == "77777"


def test_tls_versions_and_certificate_names(pvesim: Simulator) -> None:
    import socket
    import ssl

    for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        ctx = ssl.create_default_context(cafile=pvesim.ca_file)
        ctx.minimum_version = ctx.maximum_version = version
        for name in ("127.0.0.1", "localhost"):
            with (
                socket.create_connection(("127.0.0.1", pvesim.port), timeout=10) as raw,
                ctx.wrap_socket(raw, server_hostname=name) as tls,
            ):
                assert tls.version() == {ssl.TLSVersion.TLSv1_2: "TLSv1.2", ssl.TLSVersion.TLSv1_3: "TLSv1.3"}[version]
