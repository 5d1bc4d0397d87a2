"""Slow clients cannot hold the API server's connections (slowloris): the server as ``controlplane up`` runs
it (real uvicorn, :func:`controlplane.stack.http_server_config`) closes a connection whose headers trickle
in past the header deadline, an idle one, one with an endless request head, and one whose body trickles in,
while normal requests are served. Real PostgreSQL and OpenBao behind the app."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
import uvicorn

from controlplane.api.app import create_app
from controlplane.api.deps import AppDeps
from controlplane.stack import http_server_config
from controlplane.util.net import free_port, wait_for
from tests.fixtures.api import Api, api_settings

HEADER_TIMEOUT = 2.0
BODY_TIMEOUT = 2.0
TRICKLE_FOR = 40.0
"""How long the attacker would keep trickling; the server must cut it off long before."""


@dataclass
class Served:
    port: int
    server: uvicorn.Server


@pytest.fixture
def served(api: Api) -> Iterator[Served]:
    settings = api_settings(header_read_timeout=HEADER_TIMEOUT, keep_alive_timeout=2, body_read_timeout=BODY_TIMEOUT)
    app = create_app(AppDeps(settings=settings, app_engine=api.engine, vault=api.deps.vault))
    port = free_port()
    server = uvicorn.Server(http_server_config(app, settings, port=port))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200, timeout=30,
             what="uvicorn")
    yield Served(port, server)
    server.should_exit = True
    thread.join(timeout=15)


def _closed(sock: socket.socket) -> bool:
    """True once the server has closed the connection (EOF or reset); reads whatever it sent first."""
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False


def _trickle(port: int, first: bytes, step: bytes) -> tuple[float, bool]:
    """Send ``first``, then ``step`` every 0.5 s until the server closes the connection or TRICKLE_FOR
    passes; the seconds it stayed open and whether the server closed it."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(first)
        sock.settimeout(0.5)
        while time.monotonic() - started < TRICKLE_FOR:
            if _closed(sock):
                return time.monotonic() - started, True
            try:
                sock.sendall(step)
            except (BrokenPipeError, ConnectionResetError):
                return time.monotonic() - started, True
    return time.monotonic() - started, False


def test_headers_sent_slowly_are_cut_off_at_the_deadline(served: Served) -> None:
    open_for, closed = _trickle(served.port, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n", b"X-a: b\r\n")
    assert closed, f"the server kept a trickling connection open for {open_for:.0f} s"
    assert open_for < TRICKLE_FOR / 2
    assert httpx.get(f"http://127.0.0.1:{served.port}/healthz", timeout=5).status_code == 200


def test_an_idle_connection_is_closed(served: Served) -> None:
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", served.port), timeout=TRICKLE_FOR) as sock:
        sock.settimeout(TRICKLE_FOR)
        assert _closed(sock)
    assert time.monotonic() - started < TRICKLE_FOR / 2


def test_an_endless_request_head_gets_431(served: Served) -> None:
    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-big: " + b"a" * 100_000)
        answer = sock.recv(200)
    assert answer.startswith(b"HTTP/1.1 431"), answer


def test_a_body_sent_slowly_gets_408(served: Served) -> None:
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as sock:
        sock.sendall(b"POST /api/v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 100000\r\n\r\n{")
        sock.settimeout(0.5)
        answer = b""
        while time.monotonic() - started < TRICKLE_FOR and not answer:
            try:
                answer = sock.recv(200)
            except TimeoutError:
                sock.sendall(b" ")
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert time.monotonic() - started < TRICKLE_FOR / 2


def test_a_normal_keep_alive_client_is_served(served: Served) -> None:
    with httpx.Client(base_url=f"http://127.0.0.1:{served.port}", timeout=10) as client:
        for _ in range(3):
            assert client.get("/healthz").status_code == 200
        big = client.post("/api/v1/auth/login", json={"email": "x@example.test", "password": "p" * 200_000})
        assert big.status_code in (401, 422), big.text
