"""One-shot set-up of the compose OpenBao, safe to run on every ``docker compose up``.

Initialises the server on its first start (one unseal key; the key and the root token go to
``$OPENBAO_INIT_FILE``, mode 0600, on a volume only this service mounts), unseals it when sealed, applies
``vault/bootstrap.sh`` (KV v2, AppRole, the policies and roles), and writes the AppRole credentials of the
API and of the worker (``role_id``, ``secret_id``, mode 0600) into the volume each of them mounts. A secret
id that still logs in is kept; nothing secret is printed.

For production, keep the unseal key and the root token off this host (or use an auto-unseal seal) and
remove the init file once they are stored elsewhere: the service then only unseals when given
``OPENBAO_UNSEAL_KEY_FILE``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import hvac

T = TypeVar("T")

ADDR = os.environ["VAULT_ADDR"]
INIT_FILE = Path(os.environ.get("OPENBAO_INIT_FILE", "/var/lib/controlplane/openbao-init/init.json"))
APPROLE_DIR = Path(os.environ.get("APPROLE_DIR", "/var/lib/controlplane/approle"))
BOOTSTRAP = Path(__file__).resolve().parents[2] / "vault" / "bootstrap.sh"
ROLES = ("api", "worker")


def say(message: str) -> None:
    """One line of progress for the compose log."""
    print(f"openbao-init: {message}", flush=True)


def write_private(path: Path, text: str) -> None:
    """Replace ``path`` with ``text``, readable by this user only."""
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    tmp.replace(path)


def wait_for(what: str, probe: Callable[[], T], seconds: float = 120.0) -> T:
    """Call ``probe`` until it returns without raising; exit after ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return probe()
        except Exception as exc:  # any failure means: not yet
            if time.monotonic() > deadline:
                sys.exit(f"openbao-init: {what} within {seconds:.0f} s failed: {exc}")
            time.sleep(1)


def unseal_key_and_root(client: hvac.Client) -> tuple[str | None, str | None]:
    """Initialise on the first start; return the unseal key and root token from the init file (or given)."""
    status = wait_for("reaching OpenBao", client.sys.read_seal_status)
    if not status["initialized"]:
        result = client.sys.initialize(secret_shares=1, secret_threshold=1)
        INIT_FILE.parent.mkdir(parents=True, exist_ok=True)
        write_private(INIT_FILE, json.dumps({"unseal_keys": result["keys"], "root_token": result["root_token"]}))
        say(f"initialised; unseal key and root token kept in {INIT_FILE} (mode 0600)")
    if INIT_FILE.exists():
        saved = json.loads(INIT_FILE.read_text())
        return saved["unseal_keys"][0], saved["root_token"]
    given = os.environ.get("OPENBAO_UNSEAL_KEY_FILE")
    return (Path(given).read_text().strip() if given else None), None


def credentials_work(role_id: str, secret_file: Path) -> bool:
    """True when ``secret_file`` holds a secret id that logs in with ``role_id``."""
    if not secret_file.exists():
        return False
    try:
        hvac.Client(url=ADDR).auth.approle.login(role_id=role_id, secret_id=secret_file.read_text().strip())
    except hvac.exceptions.VaultError:
        return False
    return True


def main() -> None:
    """Initialise, unseal, bootstrap, and hand out the services' AppRole credentials."""
    client = hvac.Client(url=ADDR)
    key, root = unseal_key_and_root(client)
    if client.sys.read_seal_status()["sealed"]:
        if key is None:
            sys.exit("openbao-init: OpenBao is sealed and no unseal key is available (OPENBAO_UNSEAL_KEY_FILE)")
        client.sys.submit_unseal_key(key)
        say("unsealed")
    if root is None:
        say("no root token here: bootstrap and AppRole credentials are left as they are")
        return
    client.token = root
    wait_for("OpenBao becoming active", lambda: client.sys.list_mounted_secrets_engines())
    env = {**os.environ, "VAULT_TOKEN": root, "BAO_TOKEN": root, "BAO_ADDR": ADDR}
    subprocess.run(["bash", str(BOOTSTRAP)], env=env, check=True, stdout=subprocess.DEVNULL)
    say("policies and AppRole roles applied (vault/bootstrap.sh)")
    for role in ROLES:
        name = f"controlplane-{role}"
        directory = APPROLE_DIR / role
        role_id = client.auth.approle.read_role_id(role_name=name)["data"]["role_id"]
        write_private(directory / "role_id", role_id)
        if credentials_work(role_id, directory / "secret_id"):
            say(f"{name}: credentials in {directory} still valid")
            continue
        secret_id = client.auth.approle.generate_secret_id(role_name=name)["data"]["secret_id"]
        write_private(directory / "secret_id", secret_id)
        say(f"{name}: new credentials in {directory}")


if __name__ == "__main__":
    main()
