"""``make compose-test``: compose.yaml for real, on this host's Docker.

Starts Debian's dockerd when none answers, builds the base image (debootstrap + docker import, since no image
registry is reachable here), the control plane image from the top-level Dockerfile and stand-ins for the
postgres and openbao images from that base; then brings compose.yaml up with a test override that puts every
service on the host's network, bound to 127.0.0.1 on free ports (no container-network address is used), and
checks: a VM created through the API on the demo cluster becomes Ready while the workers are scaled to 3
and PostgreSQL is restarted, and it was created once (the run records, and the simulator's own state).
Everything it started is removed at the end (containers, volumes, the temporary files).
"""

from __future__ import annotations

import itertools
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import httpx
import yaml

from controlplane.util.net import free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
DOCKER = os.environ.get("DOCKER", "/usr/bin/docker" if Path("/usr/bin/docker").exists() else "docker")
COMPOSE = os.environ.get("COMPOSE", "docker-compose")
BASE = os.environ.get("BASE_IMAGE", "controlplane-base:bookworm")
TAG = "compose-test"
IMAGES = {"controlplane": f"controlplane:{TAG}", "postgres": f"controlplane-postgres:{TAG}",
          "openbao": f"controlplane-openbao:{TAG}"}
PROJECT = "cpcomposetest"
VM_NAME = "web-1"


def step(message: str) -> None:
    """Progress on stdout, with the time since the start."""
    print(f"compose-test [{time.monotonic() - STARTED:6.1f}s] {message}", flush=True)


def run(args: Sequence[str], *, env: dict[str, str] | None = None, stdin: str | None = None,
        capture: bool = False) -> str:
    """Run a command (no shell); fail with its output when it fails."""
    result = subprocess.run(list(args), env=env, input=stdin, text=True,
                            stdout=subprocess.PIPE if capture else None, stderr=subprocess.STDOUT if capture else None)
    if result.returncode != 0:
        raise SystemExit(f"compose-test: {' '.join(args[:4])} ... failed ({result.returncode})\n{result.stdout or ''}")
    return result.stdout or ""


def build_images() -> dict[str, float]:
    """The base, the control plane image and the stand-ins; seconds each build took."""
    took: dict[str, float] = {}
    env = {**os.environ, "DOCKER": DOCKER}
    start = time.monotonic()
    run(["bash", str(HERE / "dockerd.sh")], env=env)
    run(["bash", str(HERE / "base-image.sh"), BASE], env=env)
    took["base"] = time.monotonic() - start
    start = time.monotonic()
    run([DOCKER, "build", "--network", "host", "--build-arg", f"BASE_IMAGE={BASE}", "-t", IMAGES["controlplane"],
         str(ROOT)], env=env)
    took["controlplane"] = time.monotonic() - start
    start = time.monotonic()
    for name in ("postgres", "openbao"):
        run([DOCKER, "build", "--network", "host", "--build-arg", f"BASE_IMAGE={BASE}",
             "--build-arg", f"CONTROLPLANE_IMAGE={IMAGES['controlplane']}", "-t", IMAGES[name],
             "-f", str(HERE / "images" / f"{name}.Dockerfile"), str(HERE / "images")], env=env)
    took["stand-ins"] = time.monotonic() - start
    return took


def check_image() -> None:
    """The image runs every role's command as a non-root user and carries no build tools."""
    image = IMAGES["controlplane"]
    for role in (["api"], ["worker"], ["db", "upgrade"], ["pvesim"], ["demo"]):
        run([DOCKER, "run", "--rm", image, *role, "--help"], capture=True)
    probe = run([DOCKER, "run", "--rm", "--entrypoint", "sh", image, "-c",
                 "id -u; for t in gcc cc go npm node make; do command -v $t; done; "
                 "tofu version | head -1; git --version; ansible-playbook --version | head -1; "
                 "ls /opt/controlplane/.tools/providers/registry.opentofu.org/bpg/proxmox"], capture=True).split("\n")
    assert probe[0] == "10001", probe
    assert not any(line.startswith("/") for line in probe[1:]), f"build tools in the image: {probe}"
    step("image: " + "; ".join(line for line in probe[1:] if line))


def host_network_override(work: Path, ports: dict[str, int]) -> Path:
    """The test override: host networking for every service, each bound to 127.0.0.1 on its own port."""
    hcl = work / "openbao.hcl"
    hcl.write_text(
        'ui = false\ndisable_mlock = true\n'
        'storage "raft" {\n  path = "/openbao/data"\n  node_id = "openbao-1"\n}\n'
        f'listener "tcp" {{\n  address = "127.0.0.1:{ports["openbao"]}"\n'
        f'  cluster_address = "127.0.0.1:{ports["openbao_cluster"]}"\n  tls_disable = true\n}}\n'
        f'api_addr = "http://127.0.0.1:{ports["openbao"]}"\ncluster_addr = "http://127.0.0.1:{ports["openbao_cluster"]}"\n'
    )
    services: dict[str, dict[str, object]] = {
        name: {"network_mode": "host"} for name in ("postgres", "openbao", "openbao-init", "migrate", "api", "worker",
                                                     "demo")
    }
    services["postgres"]["environment"] = {"PGPORT": str(ports["postgres"]), "POSTGRES_LISTEN_ADDRESSES": "127.0.0.1"}
    services["openbao"]["environment"] = {"BAO_ADDR": f"http://127.0.0.1:{ports['openbao']}"}
    services["openbao"]["volumes"] = [f"{hcl}:/etc/openbao/openbao.hcl:ro"]
    override = work / "compose.test.yaml"
    override.write_text(json.dumps({"services": services}, indent=2))  # JSON is YAML
    return override


def without_published_ports(work: Path) -> Path:
    """compose.yaml as it is, less its ``ports:`` (published ports cannot go with host networking, and an
    override file can add to a list but not remove it); anchors and merge keys resolved, paths unchanged
    (the project directory stays the repository)."""
    services = yaml.safe_load((ROOT / "compose.yaml").read_text())
    for service in services["services"].values():
        service.pop("ports", None)
    base = work / "compose.host.yaml"
    base.write_text(json.dumps(services, indent=2))  # JSON is YAML; ${...} are left for compose to fill in
    return base


class Stack:
    """compose.yaml (less its published ports) plus the override, as project PROJECT."""

    def __init__(self, base: Path, override: Path, env: dict[str, str]) -> None:
        self.files = ["-f", str(base), "-f", str(override)]
        self.env = env

    def compose(self, *args: str, stdin: str | None = None, capture: bool = False) -> str:
        """Run docker-compose on the stack."""
        return run([COMPOSE, "-p", PROJECT, "--project-directory", str(ROOT), *self.files, "--profile", "demo",
                    *args], env=self.env, stdin=stdin, capture=capture)


def main() -> None:
    """Build, bring the stack up, exercise it, tear it down; print the timings."""
    took = build_images()
    step("images built: " + ", ".join(f"{k} {v:.0f}s" for k, v in took.items()))
    check_image()
    ports = {name: free_port() for name in ("postgres", "openbao", "openbao_cluster", "api")}
    api = f"http://127.0.0.1:{ports['api']}"
    with tempfile.TemporaryDirectory(prefix="compose-test-") as tmp:
        work = Path(tmp)
        os.chmod(work, 0o755)  # the openbao container's user reads the config mounted from here
        env = {
            **os.environ, "COMPOSE_PROJECT_NAME": PROJECT,
            "CONTROLPLANE_IMAGE": IMAGES["controlplane"], "POSTGRES_IMAGE": IMAGES["postgres"],
            "OPENBAO_IMAGE": IMAGES["openbao"],
            "POSTGRES_PASSWORD": secrets.token_hex(16), "DB_OWNER_PASSWORD": secrets.token_hex(16),
            "DB_APP_PASSWORD": secrets.token_hex(16), "DB_TFSTATE_PASSWORD": secrets.token_hex(16),
            "DB_HOST": "127.0.0.1", "DB_PORT": str(ports["postgres"]), "VAULT_URL": f"http://127.0.0.1:{ports['openbao']}",
            "API_HOST": "127.0.0.1", "API_PORT": str(ports["api"]), "API_PUBLISH": f"127.0.0.1:{ports['api']}",
        }
        stack = Stack(without_published_ports(work), host_network_override(work, ports), env)
        up_started = time.monotonic()
        try:
            stack.compose("up", "-d", "--no-build", "api", "worker", "demo")
            step(f"stack up (api healthy) in {time.monotonic() - up_started:.0f}s")
            exercise(stack, api)
            step(f"compose test passed; up to here {time.monotonic() - up_started:.0f}s after `up`")
        except BaseException:
            stack.compose("ps")
            stack.compose("logs", "--no-color", "--tail", "60")
            raise
        finally:
            stack.compose("down", "-v", "--remove-orphans", "--timeout", "20")
    step("stack removed")


def exercise(stack: Stack, api: str) -> None:
    """The checks, on a running stack."""
    password = secrets.token_urlsafe(18)
    stack.compose("run", "--rm", "--no-deps", "-T", "migrate", "user", "create", "admin@example.com", "--role",
                  "admin", stdin=password + "\n")
    client = httpx.Client(base_url=api, timeout=30)
    admin = login(client, "admin@example.com", password)
    clusters = wait_for(lambda: [c for c in admin.get("/api/v1/clusters").json()["items"] if c["name"] == "demo"],
                        timeout=120, interval=1, what="the demo cluster to be registered")
    step(f"demo cluster registered: {clusters[0]['endpoint']}")
    assert admin.post("/api/v1/tenants", json={"name": "acme"}).status_code == 201
    assert admin.post("/api/v1/projects", json={"name": "shop", "tenant": "acme", "quota": {}}).status_code == 201
    made = admin.post("/api/v1/users", json={"email": "manager@acme.test", "password": password, "role": "manager",
                                              "tenant": "acme"})
    assert made.status_code == 201, made.text
    manager = login(client, "manager@acme.test", password)
    spec = {"cluster": "demo", "cores": 1, "memory_mb": 512, "disks": [{"size_gb": 4, "storage": "local-lvm"}],
            "image": "debian-12", "network": [{"bridge": "vmbr0", "ipv4": "dhcp"}], "power": "running"}
    created = manager.post("/api/v1/vms", json={"apiVersion": "controlplane/v1", "kind": "VirtualMachine",
                                                "metadata": {"name": VM_NAME, "project": "shop"}, "spec": spec})
    assert created.status_code == 201, created.text
    vm_id = created.json()["id"]
    step("VM created through the API; scaling workers to 3 and restarting postgres")
    stack.compose("up", "-d", "--no-build", "--no-recreate", "--scale", "worker=3", "worker")
    workers = stack.compose("ps", "-q", "worker", capture=True).split()
    assert len(workers) == 3, workers
    stack.compose("restart", "postgres")

    def ready() -> dict | None:
        vm = manager.get(f"/api/v1/vms/{vm_id}").json()
        conditions = {c["type"]: c["status"] for c in vm.get("status", {}).get("conditions", [])}
        return vm if conditions.get("Ready") == "True" else None

    wait_for(ready, timeout=600, interval=2, what=f"VM {VM_NAME} to be Ready")
    step("VM Ready")
    check_ran_once(admin, stack, vm_id)
    check_workers_rode_out_the_restart(stack, workers)


def check_workers_rode_out_the_restart(stack: Stack, workers: list[str]) -> None:
    """Every worker is running, was never restarted by Docker (the two started beside the PostgreSQL
    restart waited for it), and has said it runs."""
    def all_started() -> list[str] | None:
        states = []
        for container in workers:
            state = run([DOCKER, "inspect", "-f", "{{.State.Status}} {{.RestartCount}}", container],
                        capture=True).split()
            assert state == ["running", "0"], f"worker {container[:12]}: {state}"
            said = run([DOCKER, "logs", container], capture=True)
            if "concurrent runs" not in said:
                return None
            states.append(container[:12])
        return states

    started = wait_for(all_started, timeout=120, interval=2, what="the three workers to be running")
    step(f"workers {', '.join(started)} running, none restarted")


def login(client: httpx.Client, email: str, password: str) -> httpx.Client:
    """A client with ``email``'s access token."""
    resp = wait_for(lambda: client.post("/api/v1/auth/login", json={"email": email, "password": password}),
                    timeout=60, interval=1, what="a login")
    assert resp.status_code == 200, resp.text
    return httpx.Client(base_url=str(client.base_url), timeout=30,
                        headers={"Authorization": f"Bearer {resp.json()['access_token']}"})


def check_ran_once(admin: httpx.Client, stack: Stack, vm_id: str) -> None:
    """No run of the VM overlapped another, one apply succeeded, and the simulator holds one such guest."""
    runs = admin.get("/api/v1/runs", params={"target_id": vm_id, "limit": 100}).json()["items"]
    step("runs: " + ", ".join(f"{r['action']}:{r['state']}" for r in reversed(runs)))
    spans = sorted((r["started_at"], r["finished_at"] or "9999") for r in runs if r["started_at"])
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert end <= start, f"two runs of the VM overlapped: {spans}"
    succeeded = [r for r in runs if r["state"] == "succeeded" and r["action"] == "create"]
    assert len(succeeded) == 1, runs

    def guests() -> list | None:
        state = json.loads(stack.compose("exec", "-T", "demo", "cat", "/var/lib/controlplane/pvesim/state.json",
                                         capture=True))
        return [g for g in state["guests"] if g["kind"] == "qemu"] or None  # the demo cluster starts empty

    named = wait_for(guests, timeout=30, interval=1, what="the simulator's state file to hold the VM")
    assert len(named) == 1 and VM_NAME in str(named[0]["config"].get("name")), named
    step(f"simulator holds one guest {VM_NAME} (vmid {named[0]['vmid']}); {len(runs)} run(s), none overlapping")


STARTED = time.monotonic()

if __name__ == "__main__":
    if os.geteuid() != 0 and not os.access("/var/run/docker.sock", os.W_OK):
        sys.exit("compose-test: needs root (to start dockerd and debootstrap) or access to a running Docker")
    main()
