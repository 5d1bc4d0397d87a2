"""A newcomer's first try: ``controlplane up`` on a fresh data directory (cluster ``demo`` is the simulator),
the first admin made with ``controlplane user create``, and a VM with ``node: auto`` requested through the
API becomes Ready, with its vmid, node and address in its status."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from controlplane.util.net import wait_for
from tests.e2e.upflow import controlplane_up
from tests.fixtures.conditions import condition

PASSWORD = "correct horse battery staple"


def test_a_vm_requested_through_the_api_on_up_becomes_ready(tmp_path: Path) -> None:
    with controlplane_up(tmp_path / "data") as up:
        base = up.url
        created = subprocess.run(
            [sys.executable, "-m", "controlplane.cli", "user", "create", "admin@example.com", "--role", "admin"],
            input=PASSWORD + "\n", env=up.env, cwd=tmp_path, capture_output=True, text=True, timeout=120,
        )
        assert created.returncode == 0, created.stderr

        with httpx.Client(base_url=base, timeout=30) as client:
            login = client.post("/api/v1/auth/login", json={"email": "admin@example.com", "password": PASSWORD})
            assert login.status_code == 200, login.text
            client.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
            assert client.post("/api/v1/tenants", json={"name": "acme"}).status_code == 201
            assert client.post("/api/v1/projects", json={"name": "shop", "tenant": "acme"}).status_code == 201
            document = {
                "apiVersion": "controlplane/v1", "kind": "VirtualMachine",
                "metadata": {"name": "first-vm", "project": "shop"},
                "spec": {"cluster": "demo", "node": "auto", "cores": 1, "memory_mb": 512,
                         "disks": [{"size_gb": 8, "storage": "local-lvm"}], "image": "debian-12",
                         "network": [{"bridge": "vmbr0", "ipv4": "dhcp"}], "power": "running"},
            }
            response = client.post("/api/v1/vms", json=document)
            assert response.status_code == 201, response.text
            vm_id = response.json()["id"]

            def vm_ready() -> dict[str, Any] | None:
                doc = client.get(f"/api/v1/vms/{vm_id}").json()
                return doc if condition(doc, "Ready").get("status") == "True" else None

            doc = wait_for(vm_ready, timeout=300, interval=0.5, what="the VM to become Ready")
        status = doc["status"]
        assert isinstance(status["vmid"], int) and status["node"] in {"pve1", "pve2", "pve3"}
        assert status["ipv4"] and status["power"] == "running"
        assert status["observed_generation"] == doc["metadata"]["generation"] == 1
