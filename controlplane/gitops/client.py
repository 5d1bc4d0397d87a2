"""The HTTP client of the GitOps commands: the server from ``--url`` / ``CONTROLPLANE_URL``, the API key
from ``CONTROLPLANE_TOKEN`` (never a command-line argument, which ``ps`` would show)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from typing import Any

import httpx

DEFAULT_URL = "http://127.0.0.1:8080"
KIND_PATHS = {"VirtualMachine": "/api/v1/vms", "Container": "/api/v1/containers"}
PAGE = 500


class ClientError(Exception):
    """The server refused a request or could not be reached; the message says why."""


class Client:
    """A thin client of the REST API for listing guests and applying a set."""

    def __init__(self, url: str | None = None, token: str | None = None, timeout: float = 600.0) -> None:
        base = url or os.environ.get("CONTROLPLANE_URL") or DEFAULT_URL
        token = token if token is not None else os.environ.get("CONTROLPLANE_TOKEN", "")
        if not token:
            raise ClientError("set CONTROLPLANE_TOKEN to an API key (cp_...) of the server")
        self.http = httpx.Client(base_url=base.rstrip("/"), timeout=timeout,
                                 headers={"Authorization": f"Bearer {token}"})

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            resp = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ClientError(f"cannot reach {self.http.base_url}: {exc}") from exc
        if resp.status_code >= 400:
            self._raise(resp, method, path)
        return resp.json()

    @staticmethod
    def _raise(resp: httpx.Response, method: str, path: str) -> None:
        try:
            detail = resp.json().get("detail", resp.text)
        except ValueError:
            detail = resp.text
        raise ClientError(f"{method} {path}: {resp.status_code}: {detail}")

    def guests(self, kind: str, project: str | None = None) -> Iterator[dict[str, Any]]:
        """Every live guest of ``kind`` the key may see (all pages)."""
        params: dict[str, Any] = {"limit": PAGE}
        if project:
            params["project"] = project
        while True:
            page = self._call("GET", KIND_PATHS[kind], params=params)
            yield from page["items"]
            if not page.get("next_cursor"):
                return
            params["cursor"] = page["next_cursor"]

    def projects(self) -> list[dict[str, Any]]:
        """``GET /api/v1/gitops/projects``: the projects the key sees, as ``kind: Project`` documents."""
        return self._call("GET", "/api/v1/gitops/projects")  # type: ignore[no-any-return]

    def apply(self, request: dict[str, Any], on_change: Callable[[dict[str, Any]], None] | None = None
              ) -> dict[str, Any]:
        """``POST /api/v1/gitops/apply``, streamed: ``on_change`` hears of each object as the server carries it
        out; the result once committed, or the server's error (nothing applied)."""
        path = "/api/v1/gitops/apply"
        try:
            with self.http.stream("POST", path, json=request, headers={"Accept": "application/x-ndjson"}) as resp:
                if resp.status_code >= 400:
                    resp.read()
                    self._raise(resp, "POST", path)
                for line in resp.iter_lines():
                    if not line.strip():
                        continue
                    event = json.loads(line)
                    if event.get("event") == "change" and on_change is not None:
                        on_change(event)
                    elif event.get("event") == "error":
                        raise ClientError(f"POST {path}: {event.get('status')}: {event.get('detail')}")
                    elif event.get("event") == "result":
                        return event  # type: ignore[no-any-return]
        except httpx.HTTPError as exc:
            raise ClientError(f"cannot reach {self.http.base_url}: {exc}") from exc
        raise ClientError(f"POST {path}: the answer ended before the result (the outcome is unknown)")

    def close(self) -> None:
        """Close the connection pool."""
        self.http.close()
