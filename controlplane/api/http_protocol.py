"""The HTTP/1.1 connection handling of the API server: uvicorn's httptools protocol with a deadline for the
request head, so a slow client (slowloris) cannot hold a connection open by trickling headers.

uvicorn closes idle keep-alive connections (``timeout_keep_alive``) but sets no limit on how long a client
may take to send a request's headers, nor on their size with httptools. Here a connection must deliver a
complete request head within ``header_timeout`` seconds of connecting (or of the first byte of its next
request), in at most ``max_header_bytes``; otherwise it is closed (431 when it is too large). The time to
send a body is bounded by :class:`controlplane.api.middleware.RequestGuard`.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEADER_BYTES = 64 * 1024
"""Largest request head (request line and headers) accepted."""


class DeadlineHttpProtocol(HttpToolsProtocol):
    """httptools protocol that closes a connection whose request head is late or too large."""

    header_timeout: float = 10.0
    max_header_bytes: int = MAX_HEADER_BYTES

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_bytes = 0
        self._in_head = False

    def _arm(self) -> None:
        self._disarm()
        self._in_head = True
        self._head_bytes = 0
        self._head_timer = self.loop.call_later(self.header_timeout, self._head_too_slow)

    def _disarm(self) -> None:
        self._in_head = False
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if self._in_head and not self.transport.is_closing():
            self.logger.info("closing a connection that did not send its request headers in %gs",
                             self.header_timeout)
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Start the head deadline as soon as the client connects."""
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        """Forget the deadline of a closed connection."""
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        """Feed the parser; refuse a request head that is still incomplete past ``max_header_bytes``."""
        super().data_received(data)
        if not self._in_head or self.transport.is_closing():
            return
        self._head_bytes += len(data)
        if self._head_bytes > self.max_header_bytes:
            self._disarm()
            self.transport.write(b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n"
                                 b"connection: close\r\n\r\n")
            self.transport.close()

    def on_message_begin(self) -> None:
        """A new request on this connection: its head has ``header_timeout`` seconds."""
        if not self._in_head:
            self._arm()
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        """The head is in: the deadline is met."""
        self._disarm()
        super().on_headers_complete()


def deadline_protocol(header_timeout: float, max_header_bytes: int = MAX_HEADER_BYTES) -> type[DeadlineHttpProtocol]:
    """The protocol class to give uvicorn (``Config(http=...)``) with these limits."""
    return type("ConfiguredDeadlineHttpProtocol", (DeadlineHttpProtocol,),
                {"header_timeout": header_timeout, "max_header_bytes": max_header_bytes})
