"""Validation of desired-state files: each kind of error is named with its file, line, column and field."""

from __future__ import annotations

from pathlib import Path

from controlplane.gitops import documents, validate

GOOD = """\
apiVersion: controlplane/v1
kind: VirtualMachine
metadata:
  name: web-1
  project: shop
  labels: {tier: web}
spec:
  cluster: demo
  cores: 2
  memory_mb: 2048
  disks: [{size_gb: 20, storage: local-lvm}]
  image: debian-12
"""


def _write(root: Path, name: str, text: str) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _lines(result: validate.Result) -> list[str]:
    return [str(p) for p in result.problems]


def test_a_clean_tree_with_several_documents_per_file_passes(tmp_path: Path) -> None:
    second = GOOD.replace("web-1", "web-2").replace("VirtualMachine", "Container")
    _write(tmp_path, "shop/web.yaml", GOOD + "---\n" + second)
    _write(tmp_path, "shop/project.yml", "kind: Project\nmetadata: {name: shop, tenant: acme}\n"
                                         "spec: {quota: {vcpus: 8}, members: [ann@example.com]}\n")
    result = validate.load([tmp_path])
    assert _lines(result) == []
    assert sorted(d.identity for d in result.documents) == [
        ("Container", "shop", "web-2"), ("Project", "shop", "shop"), ("VirtualMachine", "shop", "web-1")]


def test_every_error_of_every_file_points_at_its_line_and_column(tmp_path: Path) -> None:
    broken = GOOD.replace("  cores: 2\n", "  cores: 2\n  memry_mb: 100\n").replace("size_gb: 20", "size_gb: 0")
    _write(tmp_path, "a.yaml", broken)
    _write(tmp_path, "b.yaml", "kind: Container\nmetadata:\n  name: [a\n")
    result = validate.load([tmp_path])
    lines = _lines(result)
    a, b = str(tmp_path / "a.yaml"), str(tmp_path / "b.yaml")
    assert f"{a}:10:3: spec.memry_mb: unknown field" in lines
    assert any(line.startswith(f"{a}:12:12: spec.disks.0.size_gb: ") and "greater than or equal to 1" in line
               for line in lines)
    assert any(line.startswith(f"{b}:4:1: YAML syntax error") for line in lines), lines
    assert len(lines) == 3


def test_a_duplicate_names_both_places(tmp_path: Path) -> None:
    _write(tmp_path, "one.yaml", GOOD)
    _write(tmp_path, "two/again.yaml", "# the same guest again\n" + GOOD)
    lines = _lines(validate.load([tmp_path]))
    assert lines == [f"{tmp_path / 'two/again.yaml'}:2:1: metadata.name: VirtualMachine 'web-1' of project 'shop' "
                     f"is also defined at {tmp_path / 'one.yaml'}:1:1"]


def test_kind_is_required_and_missing_fields_are_named(tmp_path: Path) -> None:
    _write(tmp_path, "x.yaml", "metadata: {name: a}\n---\nkind: VirtualMachine\nmetadata: {name: b, project: p}\n"
                               "spec: {image: debian-12, cores: true}\n---\nkind: Container\n"
                               "metadata: {name: c, project: p}\nspec: {image: debian-12}\n")
    lines = _lines(validate.load([tmp_path]))
    path = tmp_path / "x.yaml"
    assert lines[0].startswith(f"{path}:1:1: kind: must be one of VirtualMachine, Container, Project")
    assert f"{path}:5:26: spec.cores: Input should be a valid integer" in lines
    assert any(line.startswith(f"{path}:9:1: spec: give the cluster") for line in lines), lines


def test_include_and_exclude_globs_pick_the_files(tmp_path: Path) -> None:
    _write(tmp_path, "prod/a.yaml", GOOD)
    _write(tmp_path, "drafts/b.yaml", "not: [valid")
    _write(tmp_path, ".git/c.yaml", "not: [valid")
    _write(tmp_path, "notes.txt", "not yaml")
    result = validate.load([tmp_path], exclude=["drafts/*"])
    assert (result.files, _lines(result)) == (1, [])


def test_the_json_schema_describes_guests_and_projects() -> None:
    schema = documents.json_schema()
    kinds = set(schema["discriminator"]["mapping"])
    assert kinds == {"VirtualMachine", "Container", "Project"}
    guest = schema["$defs"]["GuestFile"]
    assert "kind" in guest["required"] and guest["additionalProperties"] is False
    assert "memory_mb" in schema["$defs"]["Spec"]["properties"]


def test_a_key_given_twice_is_an_error(tmp_path: Path) -> None:
    _write(tmp_path, "x.yaml", GOOD + "  cores: 4\n")
    assert _lines(validate.load([tmp_path])) == [f"{tmp_path / 'x.yaml'}:13:3: spec.cores: duplicate key"]
