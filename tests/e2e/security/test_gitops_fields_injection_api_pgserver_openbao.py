"""Hostile text in the user-facing fields of GitOps: the git-source fields (URL, branch, path, globs, HTTPS
user and token, SSH deploy key and host keys) and the ``kind: Project`` documents of an apply (name,
tenant, description, members), over the API. Each field either refuses the payload with a 4xx naming the
field, or keeps it as literal text: no shell, ssh option or git option runs (a sentinel file is never
made), an SQL fragment in a member's email finds no user, a template in a description is stored as
written, and a token never reaches the source's error or runs. Real PostgreSQL, OpenBao, git, ssh and the
API (pvesim registered as the cluster).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from controlplane.gitops.sync import Syncer
from tests.e2e.reconciler.apiflow import set_up
from tests.e2e.security.test_template_injection_tofu_pvesim_pgserver_openbao import payloads

HOST_KEY = "127.0.0.1 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHsvT7bqVxg9dQmcE3DhUZjK9qz0+4x1f1hU2wq3t5Yk"
TOKEN = "tok-`touch /tmp/x`-$(id)"


def _shell(sentinel: Path) -> list[str]:
    return [f"$(touch {sentinel})", f"`touch {sentinel}`", f";touch {sentinel}", f"|touch {sentinel}",
            f"--upload-pack=touch {sentinel}", f"-oProxyCommand=touch {sentinel}", "' OR '1'='1",
            "x'; DROP TABLE projects; --", "{{ 7 * 7 }}", "{% raw %}x", "a\nb", "\u0000"]


def _source(name: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, "tenant": "acme", "url": "file:///srv/infra.git", **fields}


def _project(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "controlplane/v1", "kind": "Project", "metadata": {"name": "team-x", "tenant": "acme"},
            "spec": spec}


def _named(resp: Any, field: str) -> bool:
    """A 422 naming ``field`` of the document: with its file and line, or (text the request itself refuses,
    as NUL) by its place in the request."""
    body = resp.json()
    return resp.status_code == 422 and (
        (body["field"] == field and "p.yaml:1" in body["detail"])
        or body["field"].startswith(f"documents.0.document.{field}"))


def _apply(client: Any, document: dict[str, Any], **headers: str) -> Any:
    return client.post("/api/v1/gitops/apply", headers=headers,
                       json={"source": "cli", "documents": [{"file": "p.yaml", "line": 1, "document": document}]})


def test_gitops_fields_refuse_or_keep_hostile_text(database, vault, pvesim_factory, tmp_path: Path) -> None:
    product = set_up(database, vault, None, pvesim_factory(nodes=1, task_seconds=0), tmp_path)
    admin = product.admin
    sentinel = tmp_path / "pwned"
    hostile = [*payloads(sentinel), *_shell(sentinel)]

    # git-source fields: refused with the field named, or (the URL's path, user, token) kept as text
    refused_fields = {
        "url": lambda p: {"url": f"ext::sh -c {p}"},
        "branch": lambda p: {"branch": p},
        "path": lambda p: {"path": f"../{p}"},
        "include": lambda p: {"include": [f"{p} "]},
        "known_hosts": lambda p: {"url": "ssh://git@127.0.0.1:1/infra.git", "ssh_private_key": None,
                                  "known_hosts": f"{HOST_KEY}\n{p}"},
        "ssh_private_key": lambda p: {"url": "ssh://git@127.0.0.1:1/infra.git", "ssh_private_key": p,
                                      "known_hosts": HOST_KEY},
    }
    for field, make in refused_fields.items():
        for index, payload in enumerate(hostile):
            body = {k: v for k, v in _source(f"bad-{index}", **make(payload)).items() if v is not None}
            resp = admin.post("/api/v1/git-sources", json=body)
            named = (resp.json().get("field") or "").split(".")[0]
            assert resp.status_code == 422 and named == field, (field, payload, resp.text)
    for marker in ("@cert-authority * ", "@revoked * ", 'command="touch x" '):
        resp = admin.post("/api/v1/git-sources", json=_source(
            "marked", url="ssh://git@127.0.0.1:1/infra.git", known_hosts=marker + HOST_KEY.split(" ", 1)[1]))
        assert resp.status_code == 422 and resp.json()["field"] == "known_hosts", (marker, resp.text)
    for number, url in enumerate(("ssh://-oProxyCommand=x/infra.git", "ssh://git@127.0.0.1:1/infra.git?x=$(id)",
                "http://example.com/infra.git", "ftp://127.0.0.1/x")):
        resp = admin.post("/api/v1/git-sources", json=_source(f"url-{number}", url=url, known_hosts=HOST_KEY))
        if resp.status_code == 201:  # accepted text must stay text: the sync below runs it too
            continue
        assert resp.status_code == 422 and resp.json()["field"] == "url", (url, resp.text)

    kept = [
        _source("shellpath", url=f"file://{tmp_path}/x;touch$IFS{sentinel}"),
        _source("sshpath", url=f"ssh://git@127.0.0.1:1/x;touch$IFS{sentinel}", known_hosts=HOST_KEY),
        _source("httpuser", url="http://127.0.0.1:1/infra.git", username=f"$(touch {sentinel})", token=TOKEN),
    ]
    ids = []
    for body in kept:
        resp = admin.post("/api/v1/git-sources", json=body)
        assert resp.status_code == 201, resp.text
        assert TOKEN not in resp.text
        ids.append(resp.json()["id"])
    syncer = Syncer(product.api.engine, vault)
    assert syncer.poll_once() >= len(kept)
    for source_id in ids:
        state = admin.get(f"/api/v1/git-sources/{source_id}").json()
        assert state["state"] == "Failed" and state["last_error"], state
        runs = admin.get("/api/v1/runs", params={"target_id": source_id, "limit": 50}).json()
        assert TOKEN not in json.dumps(state) and TOKEN not in json.dumps(runs)
    assert not sentinel.exists(), "a git-source field ran as a command"

    # Project documents: name and tenant refused naming the field (plain and streamed answers)
    for index, payload in enumerate(hostile):
        for field in ("name", "tenant"):
            doc = _project()
            doc["metadata"][field] = payload
            resp = _apply(admin, doc)
            assert _named(resp, f"metadata.{field}"), (field, payload, resp.text)
        streamed = _apply(admin, {**_project(), "metadata": {"name": payload, "tenant": "acme"}},
                          Accept="application/x-ndjson")
        if streamed.status_code == 422:  # refused before any streaming
            assert _named(streamed, "metadata.name"), streamed.text
            continue
        last = json.loads(streamed.text.strip().splitlines()[-1])
        assert last["event"] == "error" and last["status"] == 422 and last["field"] == "metadata.name", (index, last)

    # members: hostile emails find no user (4xx naming spec.members), never a 500; nothing is made
    for payload in hostile:
        resp = _apply(admin, _project(members=["dev@acme.test", payload]))
        assert _named(resp, "spec.members"), (payload, resp.text)
    names = {p["name"] for p in admin.get("/api/v1/projects", params={"limit": 100}).json()["items"]}
    assert "team-x" not in names

    # a description keeps the text as written
    for payload in hostile:
        if "\u0000" in payload:
            resp = _apply(admin, _project(description=payload))
            assert _named(resp, "spec.description"), resp.text
            continue
        resp = _apply(admin, _project(description=payload, members=["dev@acme.test"]))
        assert resp.status_code == 200, (payload, resp.text)
        made = [p for p in admin.get("/api/v1/projects", params={"limit": 100}).json()["items"]
                if p["name"] == "team-x"]
        assert made[0]["description"] == payload, (payload, made)
    assert not sentinel.exists()
