"""Benchmark: ``controlplane apply`` of N guest files (one ``POST /api/v1/gitops/apply``, one transaction)
and ``controlplane diff`` of the same set, against creating the same number of guests one by one through
``POST /api/v1/vms`` (the baseline), in the same run, with the SQL statements each sends; and the
streamed apply (progress per object, as the CLI asks for it) against one JSON answer.

Real PostgreSQL (pgserver), OpenBao (dev mode), the Proxmox VE simulator registered as cluster ``demo``,
uvicorn on a free loopback port; requests as a project member with an API key.

Run: ``.venv/bin/python bench/gitops_apply.py [N]`` (default 1000).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import httpx
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._support import seeded_api
from controlplane.gitops import diff, validate
from controlplane.gitops.client import Client
from tests.e2e.gitops.cliflow import vm_file


class Counter:
    """Counts the SQL statements an engine sends."""

    def __init__(self, engine: sa.Engine) -> None:
        self.n = 0
        sa.event.listen(engine, "before_cursor_execute", self._count)

    def _count(self, *_args: object) -> None:
        self.n += 1


def main(n: int = 1000) -> None:
    """Set up, time the three ways, print the figures and the ratios."""
    with seeded_api(0, 4) as api, tempfile.TemporaryDirectory() as tmp:
        member = httpx.Client(base_url=api.url, timeout=600,
                              headers={"Authorization": f"Bearer {api.member_token}"})
        try:
            key = member.post("/api/v1/api-keys", json={"name": "bench"}).json()["key"]
            engine = api.engine
            counter = Counter(engine)

            start, counter.n = time.perf_counter(), 0
            for i in range(n):
                resp = member.post("/api/v1/vms", json={"kind": "VirtualMachine",
                                                        "metadata": {"name": f"rest-{i}", "project": "shop"},
                                                        "spec": {"cluster": "demo", "image": "debian-12"}})
                assert resp.status_code == 201, resp.text
            rest_s, rest_q = time.perf_counter() - start, counter.n

            files = Path(tmp)
            for i in range(n):
                (files / f"git-{i}.yaml").write_text(vm_file(f"git-{i}"))
            loaded = validate.load([files])
            docs = [{"file": d.location.file, "line": d.location.line, "document": d.source.data}
                    for d in loaded.documents]
            client = Client(api.url, key)
            start, counter.n = time.perf_counter(), 0
            result = client.apply({"source": "bench", "documents": docs})
            apply_s, apply_q = time.perf_counter() - start, counter.n
            assert sum(c["action"] == "create" for c in result["changes"]) == n

            start, counter.n = time.perf_counter(), 0
            changes = diff.compute(client, loaded.documents, "bench", prune=False, adopt=False)
            diff_s, diff_q = time.perf_counter() - start, counter.n
            assert not diff.pending(changes), diff.pending(changes)[:3]

            start, counter.n = time.perf_counter(), 0
            again = client.apply({"source": "bench", "documents": docs})
            noop_s, noop_q = time.perf_counter() - start, counter.n
            assert all(c["action"] == "unchanged" for c in again["changes"])

            start, counter.n = time.perf_counter(), 0
            plain = client.http.post("/api/v1/gitops/apply", json={"source": "bench", "documents": docs})
            plain_s, plain_q = time.perf_counter() - start, counter.n
            assert plain.status_code == 200 and len(plain.json()["changes"]) == n
            client.close()
        finally:
            member.close()
    print(f"GitOps benchmark: {n} VMs, as a project member\n")
    print(f"{'way':<34} {'seconds':>8} {'SQL statements':>15}")
    for label, secs, queries in (("REST one by one (baseline)", rest_s, rest_q), ("apply (one transaction)", apply_s,
                                 apply_q), ("diff (2N live objects, no change)", diff_s, diff_q),
                                 ("apply again (no change)", noop_s, noop_q),
                                 ("  same, one JSON answer (no progress)", plain_s, plain_q)):
        print(f"{label:<34} {secs:8.2f} {queries:15d}")
    print(f"\nsummary: apply of {n} objects {rest_s / apply_s:.1f}x faster than {n} REST creates "
          f"({apply_q / max(rest_q, 1):.2f}x the SQL statements); diff {diff_s:.2f} s; per-object progress "
          f"streaming costs {noop_s / plain_s:.2f}x a single answer")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:2]))
