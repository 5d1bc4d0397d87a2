"""The planner (create / update / adopt / delete / unchanged / conflict, prune guard) and its renderings."""

from __future__ import annotations

from uuid import uuid4

from controlplane.gitops import render
from controlplane.models.guest import GuestDocument
from controlplane.services.gitops_plan import PRUNE_LABEL, Desired, Live, desired_spec, plan


def _desired(name: str, **spec: object) -> Desired:
    doc = GuestDocument.model_validate({"kind": "VirtualMachine", "metadata": {"name": name, "project": "shop"},
                                        "spec": {"cluster": "demo", "image": "debian-12", **spec}})
    return Desired(doc, f"shop/{name}.yaml", 1)


def _live(name: str, manager: str = "git:infra", labels: dict[str, str] | None = None, **spec: object) -> Live:
    return Live(kind="VirtualMachine", project="shop", name=name, id=uuid4(),
                spec=desired_spec(_desired(name, **spec).doc), labels=labels or {}, managed_by=manager)


def test_each_action_and_the_prune_guard() -> None:
    desired = [_desired("new"), _desired("same"), _desired("bigger", cores=2), _desired("hand", cores=2),
               _desired("hand-same"), _desired("other")]
    live = [_live("same"), _live("bigger"), _live("hand", "api"), _live("hand-same", "api"),
            _live("other", "git:elsewhere", cores=3), _live("gone"), _live("kept", labels={PRUNE_LABEL: "disabled"})]
    changes = {c.name: c for c in plan(desired, live, "git:infra", prune=True, adopt=False)}
    assert {n: c.action for n, c in changes.items()} == {
        "new": "create", "same": "unchanged", "bigger": "update", "hand": "conflict", "hand-same": "unchanged",
        "other": "conflict", "gone": "delete", "kept": "unchanged"}
    assert [(f.path, f.old, f.new) for f in changes["bigger"].fields] == [("spec.cores", 1, 2)]
    assert "--adopt" in changes["hand"].message and "git:elsewhere" in changes["other"].message
    adopted = {c.name: c.action for c in plan(desired, live, "git:infra", prune=False, adopt=True)}
    assert adopted["hand"] == "adopt" and adopted["other"] == "conflict" and "gone" not in adopted


def test_markdown_is_split_into_parts_under_the_limit() -> None:
    desired = [_desired(f"web-{n}", cores=2) for n in range(400)]
    live = [_live(f"web-{n}") for n in range(400)]
    changes = plan(desired, live, "git:infra", prune=False, adopt=False)
    parts = render.markdown(changes, limit=5_000)
    assert len(parts) > 1 and all(len(p) < 5_000 for p in parts)
    assert sum(p.count("**update**") for p in parts) == 400
    assert "Plan: 400 update." in render.text(changes)
