"""Network helpers: loopback ports (bound sockets, refused ports, retries on a port taken meanwhile) and waiting
for a condition with a deadline.

A port number picked by binding port 0 and closing the socket is only a guess: another process may bind it
before the server that was meant to. So servers that accept a socket get one already bound
(:func:`bound_socket`), servers that take a port number are started with :func:`start_on_free_port`, which
tries again when the port was taken, and a client that needs a port where nothing answers holds one bound
and not listening (:func:`refused_port`), so nothing else can listen on it meanwhile.
"""

from __future__ import annotations

import errno
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")


class PortTaken(OSError):
    """The port a server was given was bound by someone else first (``EADDRINUSE``)."""

    def __init__(self, port: int, detail: str = "") -> None:
        super().__init__(errno.EADDRINUSE, f"port {port} is already in use{': ' + detail if detail else ''}")
        self.port = port


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that was free a moment ago (a guess: start servers with
    :func:`start_on_free_port` or give them a :func:`bound_socket`)."""
    with socket.socket(_family(host)) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def bound_socket(host: str = "127.0.0.1") -> socket.socket:
    """A TCP socket bound to a free port on ``host`` (not yet listening), to hand to a server."""
    sock = socket.socket(_family(host))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    return sock


@contextmanager
def refused_port(host: str = "127.0.0.1") -> Iterator[int]:
    """A port on ``host`` where connections are refused for as long as the block runs: it is held bound and
    never listened on, so no other process can start listening there meanwhile."""
    with socket.socket(_family(host)) as sock:
        sock.bind((host, 0))
        yield int(sock.getsockname()[1])


def is_port_taken(error: BaseException) -> bool:
    """Whether ``error`` (or what caused it) says the address was already in use."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno == errno.EADDRINUSE:
            return True
        if "address already in use" in str(seen).lower():
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def start_on_free_port(start: Callable[[int], T], *, host: str = "127.0.0.1", attempts: int = 5) -> T:
    """``start(port)`` on a free port of ``host``; when the port was taken before the server bound it
    (``start`` raises an error that :func:`is_port_taken` recognises), again on another port."""
    for attempt in range(1, attempts + 1):
        try:
            return start(free_port(host))
        except Exception as exc:
            if attempt == attempts or not is_port_taken(exc):
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether ``host:port`` could be bound right now (a guess: someone may bind it the next moment)."""
    with socket.socket(_family(host)) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def wait_for(
    condition: Callable[[], T | None], *, timeout: float, interval: float = 0.05, what: str = "condition"
) -> T:
    """Poll ``condition`` until it returns something truthy; TimeoutError naming ``what`` after ``timeout``.

    Any other exception of the condition counts as "not yet" (the thing waited for may not be up), except
    ``AssertionError``: a condition that asserts has found a failure, which is raised at once.
    """
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            result = condition()
            if result:
                return result
        except AssertionError:
            raise
        except Exception as exc:  # the condition may fail until the thing it waits for is up
            last_error = exc
        if time.monotonic() >= deadline:
            suffix = f" (last error: {last_error})" if last_error else ""
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}{suffix}")
        time.sleep(interval)
