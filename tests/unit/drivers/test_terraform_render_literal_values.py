"""The root module OpenTofu evaluates holds no user value: values go to the variables file (taken
literally), the root module refers to them as ``var.<name>``; its own strings are escaped; the process
environment carries none of the worker's variables but an allow-list; secrets are redacted in every
encoding they can take in output."""

from __future__ import annotations

import base64
import json
import os
import re
from pathlib import Path

import pytest

from controlplane.drivers.terraform_events import Redactor
from controlplane.drivers.terraform_render import (
    VARIABLES_FILE,
    GuestModule,
    escape_template,
    root_module,
    run_directory,
    state_only_module,
    variables_file,
)
from controlplane.drivers.terraform_runner import TerraformRunner

PAYLOADS = ['${tonumber(file("/etc/hostname"))}', '${file("/etc/hostname")}', "%{if true}x%{endif}",
            "${path.cwd}", '${file("../../../openbao/init.json")}', '${file("/proc/self/environ")}']
UNESCAPED = re.compile(r"(?<![$])\$\{|(?<!%)%\{")
OURS = re.compile(r"^\$\{(var|module\.guest)\.[a-z0-9_]+\}$")


def _guest(payload: str) -> GuestModule:
    return GuestModule("VirtualMachine", {
        "node_name": payload, "vm_id": 101, "name": payload, "description": payload,
        "ssh_keys": [f"ssh-ed25519 AAAA {payload}"], "disks": [{"size_gb": 4, "storage": payload}],
    })


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


@pytest.mark.parametrize("payload", PAYLOADS)
def test_root_module_holds_no_user_value(payload: str) -> None:
    guest = _guest(payload)
    document = root_module(guest, modules_dir=Path("/m"), adopt=True)
    evaluated = [s for s in _strings(document) if UNESCAPED.search(s)]
    assert evaluated and all(OURS.match(s) for s in evaluated), evaluated
    assert document["import"][0]["id"] == escape_template(f"{payload}/101")
    assert variables_file(guest) == guest.variables


def test_run_directory_holds_the_module_and_the_values_only(tmp_path: Path) -> None:
    guest = _guest(PAYLOADS[0])
    with run_directory(root_module(guest), variables_file(guest), parent=tmp_path) as workdir:
        assert sorted(p.name for p in workdir.iterdir()) == ["guest.auto.tfvars.json", "main.tf.json"]
        assert json.loads((workdir / VARIABLES_FILE).read_text())["name"] == PAYLOADS[0]
        assert workdir.stat().st_mode & 0o077 == 0
    assert not workdir.exists()


def test_a_destroy_module_has_no_guest() -> None:
    document = state_only_module()
    assert set(document) == {"terraform", "provider"}


def test_escape_template() -> None:
    assert escape_template("a${b}%{c}") == "a$${b}%%{c}"


def test_environment_is_an_allow_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONTROLPLANE_DATABASE_URL", "postgresql://owner:pw@db/cp")
    monkeypatch.setenv("CONTROLPLANE_VAULT_TOKEN", "root-token")
    monkeypatch.setenv("VAULT_TOKEN", "root-token")
    monkeypatch.setenv("TF_VAR_name", "x")
    runner = TerraformRunner(binary="tofu", pg_conn_str="postgresql://controlplane_tfstate@/cp?host=/s")
    env = runner.environment({"PROXMOX_VE_API_TOKEN": "u@pve!t=s"})
    assert "root-token" not in env.values() and not any(k.startswith(("CONTROLPLANE_", "VAULT", "TF_VAR"))
                                                      for k in env)
    assert env["PG_CONN_STR"].startswith("postgresql://controlplane_tfstate@")
    assert env["PATH"] == os.environ["PATH"] and env["PROXMOX_VE_API_TOKEN"] == "u@pve!t=s"


def test_opentofu_runs_with_our_go_collector_settings_unless_the_operator_sets_their_own(
        monkeypatch: pytest.MonkeyPatch) -> None:
    runner = TerraformRunner(binary="tofu", pg_conn_str="postgresql://controlplane_tfstate@/cp?host=/s")
    monkeypatch.delenv("GOGC", raising=False)
    monkeypatch.delenv("GOMEMLIMIT", raising=False)
    assert (runner.environment()["GOGC"], runner.environment()["GOMEMLIMIT"]) == ("400", "256MiB")
    monkeypatch.setenv("GOGC", "100")
    monkeypatch.setenv("GOMEMLIMIT", "1GiB")
    assert (runner.environment()["GOGC"], runner.environment()["GOMEMLIMIT"]) == ("100", "1GiB")


@pytest.mark.parametrize("before", [b"", b"x", b"xy", b"PROXMOX_VE_API_TOKEN="])
@pytest.mark.parametrize("after", [b"", b"\n", b"\0\0"])
def test_redaction_catches_encoded_secrets(before: bytes, after: bytes) -> None:
    secret = "5f1c2d3e-aaaa-bbbb-cccc-0123456789ab"
    redact = Redactor([secret])
    blob = before + secret.encode() + after
    for text in (base64.b64encode(blob).decode(), base64.urlsafe_b64encode(blob).decode(), blob.hex(),
                 blob.hex().upper(), secret):
        assert "[redacted]" in redact(f"error: {text}"), text
