"""Benchmark: what the per-request credential check costs. An authenticated ``GET /api/v1/projects`` and
``GET /api/v1/auth/me`` with the check (the access token compared with its user and login in one indexed
lookup) against the same app with signature-only verification (the baseline), and API-key requests, whose
use is recorded on the key at most once a minute, measured in the same run.

Real PostgreSQL (pgserver) and OpenBao (dev mode); requests through the ASGI app in process, one client.
Prints requests per second of each and the checked/baseline ratios.

Run: ``.venv/bin/python bench/auth_session_check.py [REQUESTS]`` (default 300).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

from fastapi import Request
from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._support import median, stack
from controlplane.api.app import create_app
from controlplane.api.deps import AppDeps, authenticate, request_meta, runtime
from controlplane.db.engine import create_app_engine
from controlplane.services import sessions
from controlplane.services.caller import Caller
from tests.fixtures.api import PASSWORD, api_settings, seed_user

ROUNDS = 5


def _signature_only(request: Request) -> Caller:
    """The baseline: what authentication did before the check (signature and expiry of the JWT)."""
    meta = request_meta(request)
    credential = request.headers["authorization"].partition(" ")[2]
    return runtime(request).issuer.verify(credential).with_request(
        ip=meta.ip, user_agent=meta.user_agent, request_id=meta.request_id)


def _rate(client: TestClient, path: str, n: int) -> float:
    client.get(path)
    start = time.perf_counter()
    for _ in range(n):
        resp = client.get(path)
        if resp.status_code != 200:
            raise RuntimeError(f"{path}: {resp.status_code} {resp.text[:200]}")
    return n / (time.perf_counter() - start)


def _per_call(fn: Callable[[], object], n: int) -> float:
    fn()
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n


def main(n: int) -> None:
    with stack("auth", with_vault=True) as s:
        db = s.database()
        engine = create_app_engine(db.app, db.owner, pool_size=4)
        checked = create_app(AppDeps(settings=api_settings(), app_engine=engine, vault=s.vault))
        baseline = create_app(AppDeps(settings=api_settings(), app_engine=engine, vault=s.vault))
        baseline.dependency_overrides[authenticate] = _signature_only
        seed_user(engine, "admin@example.test", "admin")
        token = TestClient(checked).post("/api/v1/auth/login", json={"email": "admin@example.test",
                                                                      "password": PASSWORD}).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        key = TestClient(checked, headers=auth).post("/api/v1/api-keys", json={"name": "bench"}).json()["key"]
        clients = {"base": TestClient(baseline, headers=auth), "jwt": TestClient(checked, headers=auth),
                   "key": TestClient(checked, headers={"Authorization": f"Bearer {key}"})}
        rows = []
        for path in ("/api/v1/auth/me", "/api/v1/projects"):
            rates: dict[str, list[float]] = {name: [] for name in clients}
            for _ in range(ROUNDS):  # interleaved rounds, median of each: load from elsewhere hits all alike
                for name, client in clients.items():
                    rates[name].append(_rate(client, path, n // ROUNDS))
            base, jwt, api_key = (median(rates[name]) for name in ("base", "jwt", "key"))
            rows.append((path, base, jwt, api_key))
            print(f"{path:22} baseline {base:7.1f} req/s   checked JWT {jwt:7.1f} req/s ({jwt / base:.2f}x)   "
                  f"API key {api_key:7.1f} req/s ({api_key / base:.2f}x)")
        issuer = checked.state.runtime.issuer
        decode_s = _per_call(lambda: issuer.decode(token), n)
        check_s = _per_call(lambda: sessions.check(engine, issuer.decode(token)), n)
        print(f"per call: signature only {decode_s * 1e6:7.0f} us   with the check {check_s * 1e6:7.0f} us "
              f"({check_s / decode_s:.1f}x; +{(check_s - decode_s) * 1e3:.2f} ms per request)")
        engine.dispose()
    worst = min(jwt / base for _, base, jwt, _ in rows)
    print(f"summary: per-request credential check keeps {worst:.2f}x of signature-only throughput "
          f"({n} requests per case)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 300)
