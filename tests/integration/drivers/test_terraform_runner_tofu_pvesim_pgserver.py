"""The OpenTofu runner under stress: parallel runs on one plugin cache, a worker killed mid-apply, a held
state lock, cancellation, timeouts, and the binary found as ``terraform``. Real OpenTofu, bpg provider,
pgserver state, private pvesim instances (slow tasks make an apply last long enough to interrupt)."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from controlplane.config import Settings
from controlplane.db.embedded import DatabaseUrls
from controlplane.drivers.terraform import (
    GuestModule,
    ProcessControl,
    ProxmoxCredentials,
    TerraformCancelled,
    TerraformDriver,
    TerraformRunner,
    TerraformTimeout,
    find_terraform_binary,
)
from controlplane.errors import ConfigError, TemporaryError
from controlplane.pvesim import Simulator
from controlplane.util.net import wait_for
from tests.fixtures.toolchain import Toolchain

TEMPLATE = "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"


def make_driver(toolchain: Toolchain, database: DatabaseUrls, run_root: Path, *, binary: str | None = None,
                plugin_cache: Path | None = None, lock_timeout: float = 30.0) -> TerraformDriver:
    runner = TerraformRunner(
        binary=binary or str(toolchain.tofu), pg_conn_str=database.owner + "&sslmode=disable",
        cli_config=toolchain.cli_config, plugin_cache_dir=plugin_cache or toolchain.plugin_cache,
        lock_timeout=lock_timeout, grace=5.0,
    )
    return TerraformDriver(runner=runner, run_root=run_root, init_root=run_root.with_name("init"))


def credentials(sim: Simulator) -> ProxmoxCredentials:
    return ProxmoxCredentials(endpoint=sim.url, api_token=f"{sim.token_id}={sim.token_secret}", ca_file=sim.ca_file)


def vm(vmid: int, node: str = "pve1", **extra: Any) -> GuestModule:
    return GuestModule("VirtualMachine", {"node_name": node, "vm_id": vmid, "name": f"vm-{vmid}", **extra})


class ApplyWatcher:
    """An ``on_event``/``on_start`` pair that remembers the running pid and signals when apply has begun."""

    def __init__(self) -> None:
        self.pid = 0
        self.applying = threading.Event()

    def on_start(self, pid: int) -> None:
        self.pid = pid

    def on_event(self, event: dict[str, Any]) -> None:
        if event.get("type") == "apply_start":
            self.applying.set()


def in_thread(target: Callable[[], Any]) -> tuple[threading.Thread, dict[str, Any]]:
    """Run ``target`` in a thread; the dict gets ``result`` or ``error``."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["result"] = target()
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, box


def test_parallel_runs_share_one_fresh_plugin_cache(
    toolchain: Toolchain, database: DatabaseUrls, pvesim_factory: Callable[..., Simulator], tmp_path: Path,
) -> None:
    sim = pvesim_factory(nodes=2)
    cache = tmp_path / "cache"
    driver = make_driver(toolchain, database, tmp_path / "runs", plugin_cache=cache)
    runs = [in_thread(lambda i=i: driver.converge(vm(6000 + i, f"pve{i + 1}"), f"qemu-{6000 + i}",
                                                   credentials(sim)))
            for i in range(2)]
    for thread, box in runs:
        thread.join(timeout=180)
        assert "error" not in box, box.get("error")
        assert box["result"].plan.create
    assert {box["result"].outputs["vm_id"] for _, box in runs} == {6000, 6001}
    cached = [p for p in cache.glob("*/bpg/proxmox/*/linux_*") if not p.name.endswith(".lock")]
    assert len(cached) == 1, cached


def test_worker_killed_mid_apply_leaves_state_and_lock_recoverable(
    toolchain: Toolchain, database: DatabaseUrls, pvesim_factory: Callable[..., Simulator], tmp_path: Path,
) -> None:
    sim = pvesim_factory(nodes=1, task_seconds=2.0)
    driver = make_driver(toolchain, database, tmp_path / "runs", lock_timeout=5)
    watcher = ApplyWatcher()
    control = ProcessControl(timeout=120, on_start=watcher.on_start)
    thread, box = in_thread(lambda: driver.converge(vm(6100), "qemu-6100", credentials(sim),
                                                    on_event=watcher.on_event, control=control))
    assert watcher.applying.wait(60), "apply never started"
    wait_for(lambda: 6100 in sim.state.guests, timeout=120, what="the VM to exist in Proxmox")
    os.kill(watcher.pid, signal.SIGKILL)  # the worker's tofu dies without a chance to save or unlock
    thread.join(timeout=60)
    assert isinstance(box.get("error"), TemporaryError), box

    # The pg backend's lock was a session advisory lock: it died with the process, no force-unlock is
    # needed. The VM exists in Proxmox but not in the state; once its create task has finished (the
    # reconciler retries a TemporaryError with backoff), the next run takes it over: bpg treats "already
    # exists" on create as done, so there is still exactly one VM 6100.
    wait_for(lambda: not sim.state.guests[6100].lock, timeout=120, what="the create task to finish")
    recovered = driver.converge(vm(6100), "qemu-6100", credentials(sim))
    assert recovered.outputs["vm_id"] == 6100
    assert recovered.outputs["mac_address"] in sim.state.guests[6100].config["net0"]
    assert not driver.plan(vm(6100), "qemu-6100", credentials(sim)).changed


def test_held_lock_is_temporary_and_cancel_releases_it(
    toolchain: Toolchain, database: DatabaseUrls, pvesim_factory: Callable[..., Simulator], tmp_path: Path,
) -> None:
    sim = pvesim_factory(nodes=1, task_seconds=3.0)
    driver = make_driver(toolchain, database, tmp_path / "runs", lock_timeout=1)
    watcher = ApplyWatcher()
    cancel = threading.Event()
    control = ProcessControl(timeout=120, cancel=cancel, grace=10, on_start=watcher.on_start)
    thread, box = in_thread(lambda: driver.converge(vm(6200), "qemu-6200", credentials(sim),
                                                    on_event=watcher.on_event, control=control))
    assert watcher.applying.wait(60), "apply never started"

    with pytest.raises(TemporaryError) as held:
        driver.plan(vm(6200), "qemu-6200", credentials(sim))
    assert "lock" in held.value.message.lower()

    cancel.set()
    thread.join(timeout=60)
    assert isinstance(box.get("error"), TerraformCancelled), box
    after = driver.converge(vm(6200), "qemu-6200", credentials(sim))
    assert after.outputs["vm_id"] == 6200
    assert not driver.plan(vm(6200), "qemu-6200", credentials(sim)).changed


def test_timeout_stops_the_command(
    toolchain: Toolchain, database: DatabaseUrls, pvesim_factory: Callable[..., Simulator], tmp_path: Path,
) -> None:
    sim = pvesim_factory(nodes=1, task_seconds=30.0)
    driver = make_driver(toolchain, database, tmp_path / "runs")
    driver.runner.timeout = 8
    with pytest.raises(TerraformTimeout):
        driver.converge(vm(6300), "qemu-6300", credentials(sim))
    assert not list((tmp_path / "runs").iterdir())


def test_binary_named_terraform(
    toolchain: Toolchain, database: DatabaseUrls, pvesim: Simulator, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "terraform").symlink_to(toolchain.tofu)
    monkeypatch.setenv("CONTROLPLANE_TF_BINARY", str(bindir / "terraform"))
    binary = find_terraform_binary(Settings(_env_file=None).tf_binary)  # type: ignore[call-arg]
    assert binary == str(bindir / "terraform")
    driver = make_driver(toolchain, database, tmp_path / "runs", binary=binary)
    assert driver.runner.version()[1]
    summary = driver.plan(vm(6400), "qemu-6400", credentials(pvesim))
    assert summary.create == (vm(6400).resource_address,)

    monkeypatch.setenv("CONTROLPLANE_TF_BINARY", str(tmp_path / "missing"))
    with pytest.raises(ConfigError) as bad:
        find_terraform_binary(Settings(_env_file=None).tf_binary)  # type: ignore[call-arg]
    assert bad.value.field == "CONTROLPLANE_TF_BINARY"


def test_adopt_imports_an_existing_guest_into_a_new_workspace(
    toolchain: Toolchain, database: DatabaseUrls, pvesim_factory: Callable[..., Simulator], tmp_path: Path,
) -> None:
    sim = pvesim_factory(nodes=1)
    driver = make_driver(toolchain, database, tmp_path / "runs")
    driver.converge(vm(6500), "qemu-6500-old", credentials(sim))
    adopted = driver.converge(vm(6500), "qemu-6500", credentials(sim), adopt=True)
    assert adopted.applied and not adopted.plan.create and not adopted.plan.replace, adopted.plan
    assert adopted.outputs["vm_id"] == 6500
    assert not driver.plan(vm(6500), "qemu-6500", credentials(sim)).changed
