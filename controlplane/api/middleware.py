"""The HTTP guard in front of every route: security headers on every response, and the limits on what a
request may carry before any route, authentication or audit sees it.

- Every response gets :data:`SECURITY_HEADERS` (one Content-Security-Policy for the API, the docs and the
  portal: scripts and styles from this origin only, no framing).
- A NUL character in the path or the query string is refused with 422 (PostgreSQL cannot store it, and no
  name or filter of ours contains one).
- A body larger than ``max_body_bytes`` is refused with 413 (from ``Content-Length`` before reading, or as
  soon as the streamed body passes the limit); a body not sent within ``body_timeout`` seconds gets 408.
- A JSON body with a duplicate key, a NUL character in a key or string, or nesting deeper than
  :data:`MAX_JSON_DEPTH` is refused with 422 naming the field; so is a form body with a NUL character.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import unquote_to_bytes

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
"""The one CSP of every response: the API, the docs page and the portal."""

SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
MAX_JSON_DEPTH = 32
"""Deepest nesting of objects and arrays accepted in a JSON body."""


class BodyProblem(Exception):
    """A request body (or path, or query) that no route should see; carries the HTTP status and field."""

    def __init__(self, status: int, field: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.field = field
        self.message = message


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise BodyProblem(422, key, f"{key}: duplicate key in the JSON body")
        obj[key] = value
    return obj


def check_json(body: bytes) -> None:
    """Raise :class:`BodyProblem` for duplicate keys, NUL characters or too deep nesting; a body that is not
    JSON at all is left to the route's own parsing (which answers 422 naming the position)."""
    try:
        document = json.loads(body, object_pairs_hook=_unique_keys)
    except RecursionError as exc:
        raise BodyProblem(422, "body", f"the JSON body is nested more than {MAX_JSON_DEPTH} levels deep") from exc
    except ValueError:
        return
    stack: list[tuple[str, Any, int]] = [("", document, 0)]
    while stack:
        path, value, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise BodyProblem(422, path or "body", f"the JSON body is nested more than {MAX_JSON_DEPTH} levels deep")
        if isinstance(value, str):
            if "\x00" in value:
                raise BodyProblem(422, path or "body", f"{path or 'body'}: NUL characters are not allowed")
        elif isinstance(value, dict):
            for key, item in value.items():
                where = f"{path}.{key}" if path else key
                if "\x00" in key:
                    raise BodyProblem(422, path or "body", f"{path or 'body'}: NUL characters are not allowed in keys")
                stack.append((where, item, depth + 1))
        elif isinstance(value, list):
            stack.extend((f"{path}.{i}" if path else str(i), item, depth + 1) for i, item in enumerate(value))


def check_target(scope: Scope) -> None:
    """Refuse a NUL character in the (decoded) path or the query string."""
    if "\x00" in scope.get("path", ""):
        raise BodyProblem(422, "path", "path: NUL characters are not allowed")
    query = scope.get("query_string", b"")
    if b"\x00" in query or b"\x00" in unquote_to_bytes(query):
        raise BodyProblem(422, "query", "query: NUL characters are not allowed")


def _media_type(scope: Scope) -> bytes | None:
    for name, value in scope.get("headers", []):
        if name == b"content-type":
            return value.split(b";", 1)[0].strip().lower()
    return None


def check_body(scope: Scope, body: bytes) -> None:
    """Check a JSON body (:func:`check_json`) or a form body (no NUL characters); others pass as they are."""
    media = _media_type(scope)
    if media is None or media == b"application/json" or media.endswith(b"+json"):
        check_json(body)  # FastAPI parses a body without a content type as JSON
    elif media == b"application/x-www-form-urlencoded" and b"\x00" in unquote_to_bytes(body):
        raise BodyProblem(422, "body", "body: NUL characters are not allowed")


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _error(send: Send, problem: BodyProblem) -> None:
    body = json.dumps({"detail": problem.message, "field": problem.field}).encode()
    await send({"type": "http.response.start", "status": problem.status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


class RequestGuard:
    """ASGI middleware: security headers, NUL refusal, body size and time limits, JSON key checks."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, body_timeout: float) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.body_timeout = body_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        send = _with_security_headers(send)
        try:
            check_target(scope)
            declared = _declared_length(scope)
            if declared is not None and declared > self.max_body_bytes:
                raise BodyProblem(413, "body", self._too_large())
            body, disconnected = await self._read_body(receive)
            if body:
                check_body(scope, body)
        except BodyProblem as problem:
            await _error(send, problem)
            return
        await self.app(scope, _replay(body, disconnected, receive), send)

    def _too_large(self) -> str:
        return f"the request body is larger than {self.max_body_bytes} bytes (CONTROLPLANE_MAX_BODY_BYTES)"

    async def _read_body(self, receive: Receive) -> tuple[bytes, bool]:
        chunks: list[bytes] = []
        size = 0
        try:
            async with asyncio.timeout(self.body_timeout):
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        return b"".join(chunks), True
                    chunk = message.get("body", b"")
                    size += len(chunk)
                    if size > self.max_body_bytes:
                        raise BodyProblem(413, "body", self._too_large())
                    chunks.append(chunk)
                    if not message.get("more_body", False):
                        return b"".join(chunks), False
        except TimeoutError as exc:
            raise BodyProblem(408, "body", f"the request body was not sent within {self.body_timeout:g} s") from exc


def _replay(body: bytes, disconnected: bool, receive: Receive) -> Receive:
    """A ``receive`` that hands the buffered body to the app once, then waits on the real connection."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            if disconnected:
                return {"type": "http.disconnect"}
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _with_security_headers(send: Send) -> Send:
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            present = {name.lower() for name, _ in message.get("headers", [])}
            message["headers"] = [*message.get("headers", []),
                                  *[(name, value) for name, value in SECURITY_HEADERS if name not in present]]
        await send(message)

    return wrapped
