"""Start-up configuration of a simulator: cluster size, seed, credentials, timing and faults."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

TOKEN_SECRET_RX = re.compile(r"[A-Za-z0-9-]+")
TOKEN_RX = re.compile(r"(?P<user>[^\s@!]+@[^\s@!]+)!(?P<name>[A-Za-z][A-Za-z0-9._-]*)=(?P<secret>\S+)")


@dataclass
class UserSpec:
    """A PVE user that may log in with a password (``POST /access/ticket``)."""

    userid: str
    password: str
    readonly: bool = False


@dataclass
class TokenSpec:
    """An API token ``user@realm!name`` with its secret; ``readonly`` tokens get 403 on writes."""

    tokenid: str
    secret: str
    readonly: bool = False

    @classmethod
    def parse(cls, text: str, readonly: bool = False) -> TokenSpec:
        """Parse ``USER@REALM!NAME=SECRET``; the secret must be UUID-style ``[A-Za-z0-9-]+``."""
        m = TOKEN_RX.fullmatch(text.strip())
        if not m:
            raise ValueError(f"token must look like USER@REALM!NAME=SECRET, got {text!r}")
        if not TOKEN_SECRET_RX.fullmatch(m.group("secret")):
            raise ValueError("token secret must match [A-Za-z0-9-]+ (UUID style)")
        return cls(f"{m.group('user')}!{m.group('name')}", m.group("secret"), readonly)

    @property
    def userid(self) -> str:
        """The user part of the token id."""
        return self.tokenid.split("!", 1)[0]


@dataclass
class SimConfig:
    """Everything a :class:`~controlplane.pvesim.server.Simulator` needs to start."""

    nodes: int = 1
    guests: int = 0
    seed: int = 1
    host: str = "127.0.0.1"
    port: int = 0
    http_port: int | None = None
    task_seconds: float = 0.0
    state_file: str | None = None
    ca_dir: str | None = None
    schema_path: str | None = None
    password: str | None = None
    token: str | None = None
    users: list[UserSpec] = field(default_factory=list)
    tokens: list[TokenSpec] = field(default_factory=list)
    faults: list[str | dict[str, Any]] = field(default_factory=list)
    node_memory_mib: int = 65536
    node_cpus: int = 16
    metrics_interval: float = 10.0
    clock: Callable[[], float] = time.time
