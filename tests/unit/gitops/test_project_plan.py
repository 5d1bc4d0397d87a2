"""Planning Project documents against live projects: only the fields a document gives are compared,
members by email in any case; and the progress line of an apply."""

from __future__ import annotations

from typing import Any

from controlplane.gitops import render
from controlplane.models.gitops import ProjectFile
from controlplane.services.gitops_projects import DesiredProject, plan


def _doc(**spec: Any) -> ProjectFile:
    return ProjectFile.model_validate({"kind": "Project", "metadata": {"name": "shop", "tenant": "acme"},
                                       "spec": spec})


def _want(**spec: Any) -> DesiredProject:
    return DesiredProject(_doc(**spec), "shop/Project/shop.yaml", 3)


LIVE = _doc(description="the shop", quota={"guests": 4}, members=["ann@acme.test", "bob@acme.test"])


def test_fields_left_out_are_left_alone_and_members_compare_by_email() -> None:
    assert [c.action for c in plan([_want()], [LIVE])] == ["unchanged"]
    same = _want(members=["BOB@acme.test", " ann@acme.test"], quota={"guests": 4})
    assert [c.action for c in plan([same], [LIVE])] == ["unchanged"]
    changed = plan([_want(quota={}, members=["ann@acme.test"])], [LIVE])[0]
    assert changed.action == "update" and (changed.project, changed.name) == ("acme", "shop")
    assert [(f.path, f.old, f.new) for f in changed.fields] == [
        ("spec.quota.guests", 4, None), ("spec.members", ["ann@acme.test", "bob@acme.test"], ["ann@acme.test"])]
    other_tenant = ProjectFile.model_validate({"kind": "Project", "metadata": {"name": "shop", "tenant": "beta"}})
    created = plan([_want()], [other_tenant])[0]
    assert created.action == "create" and (created.file, created.line) == ("shop/Project/shop.yaml", 3)


def test_progress_line() -> None:
    change = plan([_want(description="new")], [LIVE])[0]
    assert render.progress(7, 120, change) == "[  7/120] ~ update Project acme/shop  (shop/Project/shop.yaml:3)"
