"""Authentication and privileges: tokens, tickets, CSRF, read-only principals, admin endpoint access."""

from __future__ import annotations

from typing import Any

from controlplane.pvesim import TokenSpec, UserSpec
from tests.fixtures.pvesim import SimClient

RO_SECRET = "11111111-2222-3333-4444-555555555555"


def _sim(factory: Any) -> Any:
    return factory(
        nodes=1,
        token="root@pam!ci=00000000-0000-0000-0000-000000000000",
        password="rootpw",
        users=[UserSpec("audit@pve", "auditpw", readonly=True)],
        tokens=[TokenSpec("audit@pve!ro", RO_SECRET, readonly=True)],
    )


def test_missing_and_wrong_credentials_are_401(pvesim_factory: Any) -> None:
    sim = _sim(pvesim_factory)
    assert SimClient(sim, auth="").request("GET", "/version").status_code == 401
    bad = SimClient(sim, auth="PVEAPIToken=root@pam!ci=00000000-0000-0000-0000-000000000001")
    resp = bad.request("GET", "/version")
    assert resp.status_code == 401 and resp.json() == {"data": None}
    assert sim.token_id == "root@pam!ci" and sim.token_secret == "00000000-0000-0000-0000-000000000000"
    login = SimClient(sim, auth="").request("POST", "/access/ticket", data={"username": "root@pam", "password": "x"})
    assert login.status_code == 401


def test_ticket_login_fields_and_csrf(pvesim_factory: Any) -> None:
    sim = _sim(pvesim_factory)
    anon = SimClient(sim, auth="")
    data = anon.data("POST", "/access/ticket", data={"username": "root@pam", "password": "rootpw"})
    assert data["username"] == "root@pam" and data["ticket"].startswith("PVE:root@pam:")
    assert data["CSRFPreventionToken"] and "cap" in data
    cookie = {"Cookie": f"PVEAuthCookie={data['ticket']}"}
    assert anon.request("GET", "/version", headers=cookie).status_code == 200
    no_csrf = anon.request("POST", "/pools", headers=cookie, data={"poolid": "p1"})
    assert no_csrf.status_code == 401 and "csrf" in no_csrf.reason
    ok = anon.request(
        "POST", "/pools", data={"poolid": "p1"}, headers={**cookie, "CSRFPreventionToken": data["CSRFPreventionToken"]}
    )
    assert ok.status_code == 200 and ok.json() == {"data": None}
    renewed = anon.data("POST", "/access/ticket", data={"username": "root@pam", "password": data["ticket"]})
    assert renewed["username"] == "root@pam"
    forged = anon.request("GET", "/version", headers={"Cookie": "PVEAuthCookie=PVE:root@pam:00000000::abc"})
    assert forged.status_code == 401


def test_readonly_token_and_user_get_403_on_writes(pvesim_factory: Any) -> None:
    sim = _sim(pvesim_factory)
    ro = SimClient(sim, auth=f"PVEAPIToken=audit@pve!ro={RO_SECRET}")
    assert ro.request("GET", "/nodes").status_code == 200
    resp = ro.request("POST", "/nodes/pve1/qemu", data={"vmid": 300})
    assert resp.status_code == 403
    assert resp.reason == "Permission check failed (/vms/300, VM.Allocate)"
    anon = SimClient(sim, auth="")
    t = anon.data("POST", "/access/ticket", data={"username": "audit@pve", "password": "auditpw"})
    resp = anon.request(
        "POST",
        "/pools",
        data={"poolid": "x"},
        headers={"Cookie": f"PVEAuthCookie={t['ticket']}", "CSRFPreventionToken": t["CSRFPreventionToken"]},
    )
    assert resp.status_code == 403 and resp.reason.startswith("Permission check failed (/pool/x")
    assert ro.request("GET", "/_sim/state").status_code == 403
    assert SimClient(sim).request("GET", "/_sim/state").status_code == 200
