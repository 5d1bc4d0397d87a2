"""The ansible-runner driver against confined sshd test hosts, with the SSH key held in OpenBao."""

from __future__ import annotations

import stat
import threading
import uuid
from pathlib import Path

from controlplane.drivers.ansible import GuestTarget, PlaybookEvent, run_playbook
from controlplane.drivers.vault import VaultStore
from tests.fixtures.sshd import SshHost, SshKeyPair

PROBES = Path(__file__).parent / "playbooks"


def _key_from_vault(vault: VaultStore, keys: SshKeyPair) -> str:
    path = f"guests/{uuid.uuid4().hex}/ssh"
    vault.write(path, {"private_key": keys.private_pem})
    return vault.read(path)["private_key"]


def _target(host: SshHost, **hostvars: object) -> GuestTarget:
    return GuestTarget("web-1", host.address, hostvars={"connection_timeout": 20, **hostvars})


def test_site_playbook_runs_with_the_vault_key_streams_events_and_leaves_nothing_behind(
    ssh_host: SshHost, ssh_keys: SshKeyPair, vault: VaultStore, tmp_path: Path
) -> None:
    key = _key_from_vault(vault, ssh_keys)
    work = tmp_path / "runs"
    seen: list[PlaybookEvent] = []
    during: list[tuple[int, list[str]]] = []

    def on_event(event: PlaybookEvent) -> None:
        seen.append(event)
        if event.kind == "playbook_on_task_start" and not during:
            (private,) = work.iterdir()
            during.append((stat.S_IMODE((private / "ssh_key").stat().st_mode), sorted(
                p.name for p in (private / "env").iterdir()) if (private / "env").exists() else []))

    user = f"cpt{uuid.uuid4().hex[:8]}"
    target = _target(ssh_host, baseline_users=[{"name": user, "ssh_keys": [ssh_keys.public_line]}],
                     baseline_packages=[], ansible_ssh_common_args="-o ProxyCommand=false")
    result = run_playbook(target, "site.yml", private_key_pem=key, on_event=on_event, work_dir=work,
                          known_hosts=f"{ssh_host.address} {ssh_host.host_key_line}\n")
    assert result.ok and result.status == "successful", result.message
    assert result.changed > 0 and result.stats["changed"]["web-1"] == result.changed
    assert during == [(0o600, [])]  # the key existed only privately, and env/ stayed empty
    assert list(work.iterdir()) == []  # removed afterwards
    assert any(e.kind == "runner_on_ok" and e.host == "web-1" for e in seen)
    assert any("TASK [users : Create or remove users]" in e.stdout for e in seen)
    assert not any("PRIVATE KEY" in e.stdout for e in seen)
    assert f"\n{user}:" in (ssh_host.etc / "passwd").read_text()

    again = run_playbook(target, "site.yml", private_key_pem=key, work_dir=work,
                         known_hosts=f"{ssh_host.address} {ssh_host.host_key_line}\n")
    assert again.ok and again.changed == 0


def test_a_failed_task_is_named_with_its_host_and_the_key_is_removed(
    ssh_host: SshHost, ssh_keys: SshKeyPair, tmp_path: Path
) -> None:
    work = tmp_path / "runs"
    result = run_playbook(_target(ssh_host, fail_now=True), "probe.yml", private_key_pem=ssh_keys.private_pem,
                          playbook_dir=PROBES, work_dir=work)
    assert not result.ok and result.status == "failed"
    assert (result.failed_task, result.failed_host) == ("Fail on purpose", "web-1")
    assert result.message == "task 'Fail on purpose' failed on web-1: asked to fail"
    assert list(work.iterdir()) == []


def test_an_unreachable_guest_is_reported(ssh_keys: SshKeyPair, tmp_path: Path) -> None:
    target = GuestTarget("web-1", "127.0.0.1", port=1)
    result = run_playbook(target, "probe.yml", private_key_pem=ssh_keys.private_pem, playbook_dir=PROBES,
                          work_dir=tmp_path)
    assert not result.ok and (result.failed_task, result.failed_host) == ("Reach the guest", "web-1")
    assert "Connection refused" in result.message and result.stats["dark"] == {"web-1": 1}


def test_host_and_extra_variables_are_never_templated(ssh_host: SshHost, ssh_keys: SshKeyPair, tmp_path: Path) -> None:
    marker = Path(f"/tmp/pwned-{uuid.uuid4().hex}")
    attack = "{{ lookup('pipe', 'touch " + str(marker) + "') }}"
    lines: list[str] = []
    result = run_playbook(_target(ssh_host, note=attack), "probe.yml", private_key_pem=ssh_keys.private_pem,
                          extra_vars={"extra_note": attack}, playbook_dir=PROBES, work_dir=tmp_path,
                          on_event=lambda e: lines.append(e.stdout))
    assert result.ok, result.message
    assert f"note={attack} extra={attack}" in "\n".join(lines)
    assert not marker.exists()


def test_cancel_stops_a_running_play(ssh_host: SshHost, ssh_keys: SshKeyPair, tmp_path: Path) -> None:
    stop = threading.Event()

    def on_event(event: PlaybookEvent) -> None:
        if event.kind == "playbook_on_task_start" and "Wait" in (event.stdout or ""):
            stop.set()

    result = run_playbook(_target(ssh_host, wait_seconds=120), "probe.yml", private_key_pem=ssh_keys.private_pem,
                          playbook_dir=PROBES, work_dir=tmp_path, cancel=stop, on_event=on_event, timeout=100)
    assert result.status == "canceled" and not result.ok
    assert list(tmp_path.iterdir()) == []
