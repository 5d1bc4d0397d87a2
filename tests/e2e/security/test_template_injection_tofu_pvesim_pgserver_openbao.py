"""A tenant user puts OpenTofu template expressions (``${file(...)}``, ``%{if}``, ``${path.cwd}``, relative
reads of the embedded OpenBao's ``init.json``, ``/proc/self/environ``) into every string field of a guest
document, over the API, and a worker built as ``controlplane up`` builds one converges what was accepted.
Each field either refuses the payload (422) or the guest ends up with the literal text; no run log, status
or Proxmox (simulator) config ever holds a file's content or a secret. Real PostgreSQL, OpenBao, OpenTofu
+ bpg/proxmox, pvesim, worker.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from controlplane.reconciler.runtime import terraform_setup
from tests.e2e.reconciler.apiflow import PATHS, Product, set_up
from tests.integration.reconciler.harness import proxmox

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHsvT7bqVxg9dQmcE3DhUZjK9qz0+4x1f1hU2wq3t5Yk"


def payloads(sentinel: Path) -> list[str]:
    """The attack strings, the issue's own and one that reads a file whose content we know."""
    return ['${tonumber(file("/etc/hostname"))}', '${file("/etc/hostname")}', "%{if true}x%{endif}",
            "${path.cwd}", '${file("../../../openbao/init.json")}', '${file("../../../../data/openbao/init.json")}',
            '${file("${path.cwd}/../../openbao/init.json")}', '${base64encode(file("/proc/self/environ"))}',
            '${file("/proc/self/environ")}', f'${{file("{sentinel}")}}']


def body(name: str, **spec: Any) -> dict[str, Any]:
    """A valid VM document of project shop."""
    base = {"cluster": "demo", "node": "auto", "cores": 1, "memory_mb": 512, "image": "debian-12",
            "disks": [{"size_gb": 4, "storage": "local-lvm"}], "network": [{"bridge": "vmbr0", "ipv4": "dhcp"}],
            "power": "running"}
    base.update(spec)
    return {"apiVersion": "controlplane/v1", "kind": "VirtualMachine",
            "metadata": {"name": name, "project": "shop", "labels": {"tier": "web"}}, "spec": base}


REFUSED: dict[str, Any] = {
    "metadata.name": lambda d, p: d["metadata"].__setitem__("name", p),
    "metadata.project": lambda d, p: d["metadata"].__setitem__("project", p),
    "metadata.labels key": lambda d, p: d["metadata"]["labels"].__setitem__(p, "x"),
    "metadata.labels value": lambda d, p: d["metadata"]["labels"].__setitem__("tier", p),
    "spec.cluster": lambda d, p: d["spec"].__setitem__("cluster", p),
    "spec.node": lambda d, p: d["spec"].__setitem__("node", p),
    "spec.image": lambda d, p: d["spec"].__setitem__("image", p),
    "spec.network.bridge": lambda d, p: d["spec"]["network"][0].__setitem__("bridge", p),
    "spec.network.ipv4": lambda d, p: d["spec"]["network"][0].__setitem__("ipv4", p),
    "spec.network.gateway": lambda d, p: d["spec"]["network"][0].update(ipv4="10.0.0.5/24", gateway=p),
    "spec.user": lambda d, p: d["spec"].__setitem__("user", p),
    "spec.configure.playbook": lambda d, p: d["spec"].__setitem__("configure", {"playbook": p}),
}


def _sim_configs(px: Any) -> list[dict[str, Any]]:
    configs = []
    for res in px.cluster.resources.get(type="vm"):
        kind = "qemu" if res["type"] == "qemu" else "lxc"
        configs.append(getattr(px.nodes(res["node"]), kind)(res["vmid"]).config.get())
    return configs


def test_template_expressions_stay_literal_text(database, vault, toolchain, pvesim_factory, tmp_path: Path) -> None:
    sim = pvesim_factory(nodes=1, task_seconds=0)
    product: Product = set_up(database, vault, toolchain, sim, tmp_path)
    secret = f"file-content-{uuid.uuid4().hex}"
    sentinel = tmp_path / "sentinel.txt"
    sentinel.write_text(secret)
    init = product.data_dir / "openbao" / "init.json"  # where the embedded OpenBao keeps its root token
    init.parent.mkdir(parents=True)
    root_token = f"s.{uuid.uuid4().hex}"
    init.write_text(json.dumps({"unseal_key": uuid.uuid4().hex, "root_token": root_token}))
    attacks = payloads(sentinel)

    for field, put in REFUSED.items():
        for payload in attacks:
            doc = body(f"r-{uuid.uuid4().hex[:8]}")
            put(doc, payload)
            resp = product.user.post(PATHS["VirtualMachine"], json=doc)
            assert resp.status_code == 422, (field, payload, resp.status_code, resp.text[:300])

    keys = [f"{KEY} {payload}" for payload in attacks]
    in_keys = product.user.post(PATHS["VirtualMachine"], json=body("inj-keys", ssh_keys=keys))
    assert in_keys.status_code == 201, in_keys.text
    storages = [{"size_gb": 1, "storage": payload} for payload in attacks]
    in_storage = product.user.post(PATHS["VirtualMachine"], json=body("inj-storage", node="pve1", disks=storages))
    assert in_storage.status_code in (201, 422), in_storage.text

    # the worker as `controlplane up` builds it: state role, private run root outside the data directory
    setup = terraform_setup(product.data_dir, database.owner, binary=str(toolchain.tofu),
                            cli_config=toolchain.cli_config, plugin_cache=toolchain.plugin_cache)
    assert product.data_dir.resolve() not in setup.run_root.resolve().parents
    with product.worker(terraform=setup):
        ready = product.wait_ready(in_keys.json())
        if in_storage.status_code == 201:
            product.wait(in_storage.json(), lambda d: bool(d["status"].get("last_error")),
                         "the storage guest to fail")
        px = proxmox(sim)
        config = px.nodes(ready["status"]["node"]).qemu(ready["status"]["vmid"]).config.get()
        assert [k for k in unquote(config["sshkeys"]).split("\n") if k] == keys, config["sshkeys"]

        docs = [product.get(d.json())[1] for d in (in_keys, in_storage) if d.status_code == 201]
        seen = json.dumps([d["status"] for d in docs])
        for doc in docs:
            for run in product.runs(doc):
                seen += json.dumps(run) + "".join(line["line"] for line in product.log(run))
        configs = json.dumps(_sim_configs(px))
    assert not any(setup.run_root.iterdir()), "run directories were left behind"
    for forbidden in (secret, root_token, sim.token_secret):
        assert forbidden not in seen and forbidden not in configs, forbidden[:12]
    assert "controlplane_owner" not in seen
