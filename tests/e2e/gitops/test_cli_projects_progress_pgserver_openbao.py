"""``kind: Project`` documents through the CLI against the API over HTTP (uvicorn, PostgreSQL, OpenBao, a
registered simulator), and what ``apply`` shows while it works:

an admin's set makes a project (tenant, quota, members by email) and a guest in it in one transaction,
``apply`` printing one progress line per object; diff is then clean. A quota breach later in the set
shows the progress of the objects before it, then the error, and nothing of the set is committed (the
project's new description is not there either). A manager may change members but not the quota (403, as
through the REST API); an unknown member email is named with its file and line; a plain user may not make
projects. ``export`` writes projects too, and ``diff`` on the export is clean.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.e2e.gitops.cliflow import Cli, Repo, vm_file
from tests.e2e.reconciler.apiflow import set_up
from tests.fixtures.api import PASSWORD, serve

PROJECT = "teams/Project/team-a.yaml"


def _project(description: str = "the A team", quota: dict[str, Any] | None = None,
             members: list[str] | None = None) -> str:
    spec: dict[str, Any] = {"description": description, "quota": {"guests": 1} if quota is None else quota,
                            "members": ["DEV@acme.test"] if members is None else members}
    return yaml.safe_dump({"apiVersion": "controlplane/v1", "kind": "Project",
                           "metadata": {"name": "team-a", "tenant": "acme"}, "spec": spec}, sort_keys=False)


def _guest(name: str) -> str:
    return vm_file(name).replace("project: shop", "project: team-a")


def _run(out, code: int = 0) -> tuple[str, str]:
    assert out.returncode == code, f"exit {out.returncode}\nstdout: {out.stdout}\nstderr: {out.stderr}"
    return out.stdout, out.stderr


def test_projects_in_files_and_apply_progress(database, vault, pvesim_factory, tmp_path: Path) -> None:
    product = set_up(database, vault, None, pvesim_factory(nodes=1, task_seconds=0), tmp_path)
    admin = product.admin
    for email, role in (("ops@acme.test", "manager"), ("qa@acme.test", "user")):
        made = admin.post("/api/v1/users", json={"email": email, "password": PASSWORD, "role": role,
                                                 "tenant": "acme"})
        assert made.status_code == 201, made.text
    manager = product.api.login("ops@acme.test")

    def key(client: Any) -> str:
        resp = client.post("/api/v1/api-keys", json={"name": "ci"})
        assert resp.status_code == 201, resp.text
        return resp.json()["key"]

    live = serve(product.api.app)
    as_admin, as_manager, as_user = (Cli(live.url, key(c)) for c in (admin, manager, product.user))

    def team() -> dict | None:
        items = [p for p in admin.get("/api/v1/projects", params={"limit": 100}).json()["items"]
                 if p["name"] == "team-a"]
        return items[0] if items else None

    def members() -> set[str]:
        found = admin.get(f"/api/v1/projects/{team()['id']}/members").json()
        rows = found["items"] if isinstance(found, dict) else found
        emails = {u["id"]: u["email"] for u in admin.get("/api/v1/users", params={"limit": 100}).json()["items"]}
        return {emails[m["user_id"]] for m in rows}

    def vms() -> set[str]:
        return {v["metadata"]["name"] for v in admin.get("/api/v1/vms", params={"limit": 100}).json()["items"]}

    repo = Repo.init(tmp_path / "infra")
    repo.write(PROJECT, _project())
    repo.write("team-a/VirtualMachine/web-a.yaml", _guest("web-a"))
    repo.commit("team a")
    try:
        # a plain user may not make projects, and nothing of the set is made
        _, err = _run(as_user("apply", "--source", "infra", ".", cwd=repo.root), 1)
        assert "403" in err and "create projects" in err and "nothing was applied" in err, err
        assert team() is None

        # the admin's set: project (quota, members) and a guest in it, one progress line per object
        plan, _ = _run(as_admin("diff", "--source", "infra", ".", cwd=repo.root), 2)
        assert "+ create Project acme/team-a  (teams/Project/team-a.yaml:1)" in plan, plan
        assert "+ create VirtualMachine team-a/web-a" in plan, plan
        out, err = _run(as_admin("apply", "--source", "infra", ".", cwd=repo.root))
        lines = err.splitlines()
        assert "[1/2] + create Project acme/team-a  (teams/Project/team-a.yaml:1)" in lines, err
        assert "[2/2] + create VirtualMachine team-a/web-a  (team-a/VirtualMachine/web-a.yaml:1)" in lines, err
        assert lines[-1] == "applied: 2 changes committed in one transaction", err
        assert "Plan: 2 create." in out, out
        made = team()
        assert made["quota"]["guests"] == 1 and made["description"] == "the A team"
        assert members() == {"dev@acme.test"} and vms() == {"web-a"}
        _run(as_admin("diff", "--source", "infra", ".", cwd=repo.root), 0)

        # a breach late in the set: progress of what came before, then the error; nothing committed
        repo.write(PROJECT, _project(description="the A team, now bigger"))
        repo.write("team-a/VirtualMachine/web-b.yaml", _guest("web-b"))
        repo.commit("one guest too many")
        _, err = _run(as_admin("apply", "--source", "infra", ".", cwd=repo.root), 1)
        lines = err.splitlines()
        assert "[1/3] ~ update Project acme/team-a  (teams/Project/team-a.yaml:1)" in lines, err
        assert "[2/3] = unchanged VirtualMachine team-a/web-a" not in err, err
        assert "quota" in err and "web-b.yaml" in err, err
        assert lines[-1] == "nothing was applied (the 1 changes above were rolled back)", err
        assert team()["description"] == "the A team" and vms() == {"web-a"}

        # a manager changes members (by email, any case) but not the quota, as through the REST API
        repo.remove("team-a/VirtualMachine/web-b.yaml")
        repo.write(PROJECT, _project(quota={"guests": 5}, members=["qa@ACME.test"]))
        repo.commit("more guests, other members")
        _, err = _run(as_manager("apply", "--source", "infra", ".", cwd=repo.root), 1)
        assert "403" in err and "teams/Project/team-a.yaml:1" in err and "quota" in err, err
        assert team()["quota"]["guests"] == 1 and members() == {"dev@acme.test"}
        repo.write(PROJECT, _project(members=["qa@ACME.test", "nobody@acme.test"]))
        repo.commit("an unknown member")
        _, err = _run(as_manager("apply", "--source", "infra", ".", cwd=repo.root), 1)
        assert "teams/Project/team-a.yaml:1" in err and "spec.members: nobody@acme.test" in err, err
        assert members() == {"dev@acme.test"}
        repo.write(PROJECT, _project(members=["qa@ACME.test"]))
        repo.commit("qa instead of dev")
        plan, _ = _run(as_manager("diff", "--source", "infra", ".", cwd=repo.root), 2)
        assert 'spec.members: ["dev@acme.test"] -> ["qa@acme.test"]' in plan, plan
        _, err = _run(as_manager("apply", "--source", "infra", ".", cwd=repo.root))
        assert "[1/2] ~ update Project acme/team-a  (teams/Project/team-a.yaml:1)" in err.splitlines(), err
        assert members() == {"qa@acme.test"}
        _run(as_manager("diff", "--source", "infra", ".", cwd=repo.root), 0)

        # export writes projects (quota, members) too; diff on the export is clean
        exported = tmp_path / "exported"
        _run(as_admin("export", str(exported)))
        written = yaml.safe_load((exported / "team-a" / "Project" / "team-a.yaml").read_text())
        assert written == {"apiVersion": "controlplane/v1", "kind": "Project",
                           "metadata": {"name": "team-a", "tenant": "acme"},
                           "spec": {"description": "the A team", "quota": {"guests": 1},
                                    "members": ["qa@acme.test"]}}, written
        assert (exported / "shop" / "Project" / "shop.yaml").exists()
        assert (exported / "team-a" / "VirtualMachine" / "web-a.yaml").exists()
        _run(as_admin("diff", "--source", "infra", str(exported)), 0)
        _, err = _run(as_admin("export", "--kind", "Project", "--project", "team-a", str(tmp_path / "only")))
        assert sorted(p.relative_to(tmp_path / "only").as_posix() for p in (tmp_path / "only").rglob("*.yaml")) == [
            "team-a/Project/team-a.yaml"], err
    finally:
        live.server.should_exit = True
        live.thread.join(timeout=10)
