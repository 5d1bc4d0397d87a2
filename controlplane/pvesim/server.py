"""In-process simulator: :class:`Simulator` runs the aiohttp app in a background thread with its own
event loop (HTTPS, optionally plain HTTP), ticks tasks and saves the state file when it changes."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import threading
from pathlib import Path
from typing import Any

from aiohttp import web

from . import persist, seed, tls
from .app import make_app
from .config import SimConfig
from .faults import Faults
from .runtime import Runtime, build_runtime
from .schema import load_schema
from .state import ClusterState
from .stats import RequestStats

TICK_SECONDS = 0.05
SAVE_SECONDS = 0.5


class Simulator:
    """A running (after :meth:`start`) Proxmox VE API simulator; usable as a context manager."""

    def __init__(self, config: SimConfig | None = None, **overrides: Any) -> None:
        self.config = dataclasses.replace(config or SimConfig(), **overrides)
        self.host = self.config.host
        self.port = 0
        self.http_port: int | None = None
        self.tls_files: tls.TlsFiles | None = None
        self.runtime: Runtime | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._dirty = False

    # -- public attributes -----------------------------------------------------------------
    @property
    def state(self) -> ClusterState:
        """The live cluster model (for out-of-band changes)."""
        assert self.runtime is not None, "simulator not started"
        return self.runtime.state

    @property
    def faults(self) -> Faults:
        """The fault injection rules."""
        assert self.runtime is not None, "simulator not started"
        return self.runtime.faults

    @property
    def stats(self) -> RequestStats:
        """API request counters per (method, route template)."""
        assert self.runtime is not None, "simulator not started"
        return self.runtime.stats

    @property
    def url(self) -> str:
        """``https://127.0.0.1:PORT``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}:{self.port}"

    @property
    def api_url(self) -> str:
        """``https://127.0.0.1:PORT/api2/json``."""
        return self.url + "/api2/json"

    @property
    def http_url(self) -> str | None:
        """``http://127.0.0.1:HTTP_PORT`` when plain HTTP is enabled."""
        return None if self.http_port is None else f"http://{self.host}:{self.http_port}"

    @property
    def ca_file(self) -> str:
        """Path of the CA certificate clients should trust."""
        assert self.tls_files is not None, "simulator not started"
        return str(self.tls_files.ca_file)

    @property
    def token_id(self) -> str:
        """``root@pam!<name>`` of the root token."""
        assert self.runtime is not None
        return self.runtime.auth.root_token.tokenid

    @property
    def token_name(self) -> str:
        """The token name part (what proxmoxer calls ``token_name``)."""
        return self.token_id.split("!", 1)[1]

    @property
    def token_secret(self) -> str:
        """The root token's secret."""
        assert self.runtime is not None
        return self.runtime.auth.root_token.secret

    @property
    def password(self) -> str:
        """root@pam's password."""
        assert self.runtime is not None
        return self.runtime.auth.root_password

    @property
    def auth_header(self) -> str:
        """``PVEAPIToken=...`` value for the ``Authorization`` header."""
        return f"PVEAPIToken={self.token_id}={self.token_secret}"

    def set_guest_ip(self, vmid: int, ip: str | None) -> None:
        """Make guest ``vmid`` report ``ip`` (e.g. a real test host like 127.0.0.1)."""
        self.state.set_guest_ip(vmid, ip)

    # -- life cycle ------------------------------------------------------------------------
    def _build_state(self) -> ClusterState:
        cfg = self.config
        state = ClusterState(cfg.seed, cfg.clock)
        if cfg.state_file and Path(cfg.state_file).is_file():
            persist.load(state, cfg.state_file)
        else:
            seed.build_nodes(state, cfg.nodes, cfg.node_memory_mib, cfg.node_cpus)
            seed.seed_guests(state, cfg.guests, cfg.seed)
        return state

    def start(self, timeout: float = 30.0) -> Simulator:
        """Build state, TLS and app, start serving in a background thread; returns once listening."""
        schema = load_schema(self.config.schema_path)
        state = self._build_state()
        self.runtime = build_runtime(self.config, schema, state)
        state.listeners.append(self._mark_dirty)
        self.tls_files = tls.generate(self.config.ca_dir)
        self._thread = threading.Thread(target=self._serve, name="pvesim", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("pvesim did not start in time")
        if self._error is not None:
            raise RuntimeError(f"pvesim failed to start: {self._error}") from self._error
        return self

    def _mark_dirty(self) -> None:
        self._dirty = True

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._startup())
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        ticker = loop.create_task(self._ticker())
        loop.run_forever()
        ticker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            loop.run_until_complete(ticker)
        assert self._runner is not None
        loop.run_until_complete(self._runner.cleanup())
        loop.close()

    async def _startup(self) -> None:
        assert self.runtime is not None and self.tls_files is not None
        self._runner = web.AppRunner(make_app(self.runtime), access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(
            self._runner,
            self.host,
            self.config.port,
            ssl_context=tls.server_context(self.tls_files),
            reuse_address=True,
        )
        await site.start()
        self.port = _bound_port(site)
        if self.config.http_port is not None:
            plain = web.TCPSite(self._runner, self.host, self.config.http_port, reuse_address=True)
            await plain.start()
            self.http_port = _bound_port(plain)

    async def _ticker(self) -> None:
        assert self.runtime is not None
        waited = 0.0
        while True:
            await asyncio.sleep(TICK_SECONDS)
            self.runtime.tasks.tick()
            waited += TICK_SECONDS
            if waited >= SAVE_SECONDS:
                waited = 0.0
                self.save_if_dirty()

    def save_if_dirty(self) -> None:
        """Write the state file if configured and the state changed since the last save."""
        if self.config.state_file and self._dirty and self.runtime is not None:
            self._dirty = False
            persist.save(self.runtime.state, self.config.state_file)

    def stop(self) -> None:
        """Stop serving, join the thread and save the state file (if configured)."""
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=30)
        self._loop, self._thread = None, None
        if self.config.state_file and self.runtime is not None:
            persist.save(self.runtime.state, self.config.state_file)

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _bound_port(site: web.TCPSite) -> int:
    server = site._server  # aiohttp keeps the asyncio server here; the public API has no bound-port getter
    assert server is not None and server.sockets
    return int(server.sockets[0].getsockname()[1])
