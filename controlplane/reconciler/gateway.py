"""The worker's Proxmox gateway: a local HTTPS reverse proxy that OpenTofu's provider talks to instead of
Proxmox, which retries what is safe to retry.

The bpg provider retries only GETs that could not connect; a 503, a 595 (node unreachable) or a "can't
lock file" answer fails the whole OpenTofu run. The gateway retries those answers (and connection errors
before a request was sent) with capped exponential backoff, so a flaky cluster costs a little latency
instead of a failed run. Each cluster gets its own loopback port (``https://127.0.0.1:<port>``); the
client's ``Authorization`` header passes through untouched, so the gateway never holds a token. Its TLS
certificate is self-signed, made at start, and trusted by OpenTofu through ``SSL_CERT_FILE``. Answers
keep their reason phrase: Proxmox puts its error message there ("volume ... does not exist"), and the
provider's error shows it.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import ssl
import tempfile
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    retry_if_result,
    stop_after_attempt,
    wait_exponential,
)

log = logging.getLogger(__name__)
RETRY_STATUS = {502, 503, 504, 595, 596}
RETRY_TEXT = ("can't lock file", "got timeout", "temporarily")
SHUTDOWN_POLL = 0.02
"""Seconds between a route's looks for a shutdown request (how long closing a route waits at most)."""
HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "te", "upgrade", "host", "content-length",
               "accept-encoding"}


@dataclass
class GatewayStats:
    """Counts for benchmarks and tests: requests forwarded, upstream calls made, retries."""

    requests: int = 0
    upstream_calls: int = 0
    retries: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


@dataclass
class Upstream:
    """One route's cluster behind the gateway, and what went through it."""

    endpoint: str
    verify: bool | str
    stats: GatewayStats = field(default_factory=lambda: GatewayStats())


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "controlplane worker gateway")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=365))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = directory / "gateway.pem", directory / "gateway.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_file.chmod(0o600)
    return cert_file, key_file


class Gateway:
    """:meth:`route` gives the endpoint OpenTofu should use for a cluster (one
    loopback port per cluster, so the provider's URLs need no rewriting)."""

    def __init__(self, *, attempts: int = 8, base_delay: float = 0.1, max_delay: float = 2.0) -> None:
        self.attempts, self.base_delay, self.max_delay = attempts, base_delay, max_delay
        self._dir = Path(tempfile.mkdtemp(prefix="cp-gateway-"))
        self.ca_file, self._key_file = _self_signed(self._dir)
        self._routes: dict[str, tuple[Upstream, ThreadingHTTPServer]] = {}
        self._lock = threading.Lock()
        self._session = requests.Session()

    def stop(self) -> None:
        """Stop every listener and remove the certificate files."""
        with self._lock:
            routes, self._routes = list(self._routes.values()), {}
        for _, server in routes:
            server.shutdown()
            server.server_close()
        for path in self._dir.iterdir():
            path.unlink()
        self._dir.rmdir()

    def close(self, key: str) -> GatewayStats | None:
        """Stop the route ``key`` (a run's) and return what went through it."""
        with self._lock:
            found = self._routes.pop(key, None)
        if found is None:
            return None
        found[1].shutdown()
        found[1].server_close()
        return found[0].stats

    def route(self, key: str, endpoint: str, verify: bool | str) -> str:
        """The gateway endpoint for the cluster ``key`` at ``endpoint`` (started on first use)."""
        with self._lock:
            found = self._routes.get(key)
            if found is not None and (found[0].endpoint, found[0].verify) == (endpoint.rstrip("/"), verify):
                return f"https://127.0.0.1:{found[1].server_address[1]}"
            upstream = Upstream(endpoint.rstrip("/"), verify)
            if found is not None:
                self._routes[key] = (upstream, found[1])
                found[1].upstream = upstream  # type: ignore[attr-defined]
                return f"https://127.0.0.1:{found[1].server_address[1]}"
            server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
            server.daemon_threads = True
            server.upstream = upstream  # type: ignore[attr-defined]
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(self.ca_file, self._key_file)
            server.socket = context.wrap_socket(server.socket, server_side=True)
            # a run's route is closed when the run ends, and shutdown() waits for the loop's next poll:
            # at the default 0.5 s that was half a second of every run that starts no OpenTofu
            threading.Thread(target=server.serve_forever, kwargs={"poll_interval": SHUTDOWN_POLL},
                             name=f"gateway-{key}", daemon=True).start()
            self._routes[key] = (upstream, server)
            return f"https://127.0.0.1:{server.server_address[1]}"

    def forward(self, upstream: Upstream, method: str, path: str, headers: dict[str, str], body: bytes | None
                ) -> tuple[int, str, list[tuple[str, str]], bytes]:
        """Send one request upstream, retrying answers and failures that are safe to retry; returns the
        status, its reason phrase, headers and body."""
        stats = upstream.stats
        with stats.lock:
            stats.requests += 1

        def once() -> requests.Response | None:
            with stats.lock:
                stats.upstream_calls += 1
            try:
                return self._session.request(method, upstream.endpoint + path, headers=headers, data=body,
                                             verify=upstream.verify, timeout=60, allow_redirects=False)
            except requests.ConnectionError as exc:
                if method != "GET" and not _before_send(exc):
                    return None  # it may have reached Proxmox: not repeated
                raise

        def count_retry(_state: RetryCallState) -> None:
            with stats.lock:
                stats.retries += 1

        retrying = Retrying(
            stop=stop_after_attempt(self.attempts),
            wait=wait_exponential(multiplier=self.base_delay, max=self.max_delay),
            retry=retry_if_exception_type(requests.ConnectionError) | retry_if_result(_worth_retrying),
            before_sleep=count_retry, retry_error_callback=_last_outcome,
        )
        resp = retrying(once)
        if resp is None:
            return 502, "upstream connection failed", [], \
                b'{"data":null,"errors":"gateway: upstream connection failed"}'
        return resp.status_code, _reason(resp.reason), _headers(resp), resp.content


def _worth_retrying(resp: requests.Response | None) -> bool:
    """A Proxmox answer that says "try again" (busy, node unreachable, a lock held)."""
    return resp is not None and (resp.status_code in RETRY_STATUS or (
        resp.status_code == 500 and any(t in resp.reason.lower() for t in RETRY_TEXT)))


def _last_outcome(state: RetryCallState) -> requests.Response | None:
    """After the last attempt: its answer as it was, or None when it could not connect."""
    assert state.outcome is not None
    return None if state.outcome.failed else state.outcome.result()


def _before_send(exc: requests.ConnectionError) -> bool:
    text = str(exc).lower()
    return "refused" in text or "name or service" in text or ("max retries exceeded" in text and "connect" in text)


def _reason(reason: str | None) -> str:
    """The upstream reason phrase, printable and on one line (it goes into our status line)."""
    text = "".join(c if c.isprintable() else " " for c in (reason or ""))[:500]
    return text.encode("latin-1", "replace").decode("latin-1")


def _headers(resp: requests.Response) -> list[tuple[str, str]]:
    return [(k, v) for k, v in resp.headers.items() if k.lower() not in HOP_HEADERS | {"content-encoding"}]


def _handler(gateway: Gateway) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # an answer is written as its head, then its body: with Nagle's algorithm on, the body waited for the
        # client's delayed ACK of the head, 40 ms on every request the provider made (12 per VM created)
        disable_nagle_algorithm = True

        def _relay(self) -> None:
            body = self._body()
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS}
            upstream = self.server.upstream  # type: ignore[attr-defined]
            status, reason, out_headers, content = gateway.forward(upstream, self.command, self.path, headers,
                                                                   body)
            self.send_response_only(status, reason or None)
            for key, value in out_headers:
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        def _body(self) -> bytes | None:
            if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                parts = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        return b"".join(parts)
                    parts.append(self.rfile.read(size))
                    self.rfile.readline()
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else None

        do_GET = do_POST = do_PUT = do_DELETE = _relay

        def log_message(self, format: str, *args: object) -> None:
            return  # requests carry tokens in headers only; nothing is logged

    return Handler
