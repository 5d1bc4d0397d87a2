"""The demo cluster: a Proxmox VE simulator that ``controlplane up`` starts and registers as ``demo``.

When no cluster is registered, a newcomer still sees the whole flow work: ``up`` starts
:mod:`controlplane.pvesim` (state kept in ``<data>/pvesim``), registers it as cluster ``demo`` through
the same path as ``POST /api/v1/clusters`` (its token in Vault like any other), and restarts it on
every later ``up``. A fresh token is made at each start; nothing secret is written to disk.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from controlplane.drivers.proxmox_probe import probe
from controlplane.drivers.vault import VaultStore
from controlplane.pvesim import SimConfig, Simulator
from controlplane.services.bootstrap import has_clusters, register_cluster
from controlplane.util.net import port_is_free

DEMO_CLUSTER = "demo"
PREFERRED_PORT = 8006
META_FILE = "simulator.json"
TOKEN_ID = "root@pam!controlplane"


class DemoCluster:
    """Start, register and stop the simulated demo cluster kept in ``directory``."""

    def __init__(self, directory: Path, *, nodes: int = 3) -> None:
        self.directory = directory
        self.nodes = nodes
        self.simulator: Simulator | None = None

    @property
    def meta_file(self) -> Path:
        """Where the simulator's last port is remembered (no secrets)."""
        return self.directory / META_FILE

    def wanted(self, engine: Engine) -> bool:
        """True on a first start without clusters, and on every start after the demo was set up."""
        return self.meta_file.exists() or not has_clusters(engine)

    def _port(self) -> int:
        remembered = json.loads(self.meta_file.read_text()).get("port") if self.meta_file.exists() else None
        for candidate in (remembered, PREFERRED_PORT):
            if candidate and port_is_free(int(candidate)):
                return int(candidate)
        return 0

    def start(self, engine: Engine, vault: VaultStore, report: Callable[[str], None]) -> Simulator:
        """Run the simulator and (re-)register it as cluster ``demo``."""
        self.directory.mkdir(parents=True, exist_ok=True)
        secret = secrets.token_hex(16)
        config = SimConfig(
            nodes=self.nodes, port=self._port(), state_file=str(self.directory / "state.json"),
            ca_dir=str(self.directory / "tls"), token=f"{TOKEN_ID}={secret}",
        )
        simulator = Simulator(config).start()
        try:
            ca_pem = Path(simulator.ca_file).read_text()
            result = register_cluster(
                engine, vault, DEMO_CLUSTER, simulator.url, simulator.token_id, secret,
                ca_cert_pem=ca_pem, verify_tls=True, prober=probe,
            )
        except BaseException:
            simulator.stop()
            raise
        self.simulator = simulator
        self.meta_file.write_text(json.dumps({"port": simulator.port, "url": simulator.url}))
        report(f"Proxmox VE: simulator at {simulator.url} registered as cluster '{DEMO_CLUSTER}' "
               f"(nodes: {', '.join(result['nodes'])}; state in {self.directory})")
        return simulator

    def check(self) -> dict[str, Any]:
        """Readiness of the simulator for ``/readyz``."""
        if self.simulator is None:
            return {"status": "down", "error": "not started", "required": True}
        return {"status": "ok", "version": "simulated Proxmox VE", "url": self.simulator.url, "required": True}

    def stop(self) -> None:
        """Stop the simulator (its state is saved to the state file)."""
        if self.simulator is not None:
            self.simulator.stop()
            self.simulator = None
