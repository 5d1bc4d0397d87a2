"""A small smart-HTTP git server for the tests: ``git http-backend`` (CGI) behind a threaded HTTP server on
loopback that requires basic-auth credentials; it records the user names it saw."""

from __future__ import annotations

import base64
import subprocess
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

BACKEND = subprocess.run(["git", "--exec-path"], capture_output=True, text=True, check=True).stdout.strip()


@dataclass
class GitHttpServer:
    """Serves the bare repositories under ``root`` at ``url``/<name>.git."""

    root: Path
    username: str
    password: str
    seen_users: list[str] = field(default_factory=list)
    refused: int = 0

    def start(self) -> str:
        """Start on a free loopback port; the base URL."""
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                return

            def _authorized(self) -> bool:
                want = base64.b64encode(f"{outer.username}:{outer.password}".encode()).decode()
                if self.headers.get("Authorization", "") == f"Basic {want}":
                    outer.seen_users.append(outer.username)
                    return True
                outer.refused += 1
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="git"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return False

            def _cgi(self) -> None:
                if not self._authorized():
                    return
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                env = {"GIT_PROJECT_ROOT": str(outer.root), "GIT_HTTP_EXPORT_ALL": "1", "PATH_INFO": parts.path,
                       "QUERY_STRING": parts.query, "REQUEST_METHOD": self.command, "REMOTE_USER": outer.username,
                       "CONTENT_TYPE": self.headers.get("Content-Type", ""), "CONTENT_LENGTH": str(len(body)),
                       "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""), "PATH": "/usr/bin:/bin"}
                out = subprocess.run([f"{BACKEND}/git-http-backend"], input=body, env=env, capture_output=True,
                                     timeout=60, check=False).stdout
                head, _, payload = out.partition(b"\r\n\r\n")
                status, headers = 200, []
                for line in head.decode().split("\r\n"):
                    name, _, value = line.partition(":")
                    if name.lower() == "status":
                        status = int(value.strip().split()[0])
                    elif name:
                        headers.append((name, value.strip()))
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = _cgi
            do_POST = _cgi

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()
