"""``controlplane validate`` and ``controlplane schema`` run as a user runs them (the installed command)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

GOOD = """\
apiVersion: controlplane/v1
kind: VirtualMachine
metadata: {name: web-1, project: shop}
spec:
  cluster: demo
  disks: [{size_gb: 20}]
  image: debian-12
"""


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "controlplane.cli", *args], capture_output=True, text=True,
                          timeout=120, check=False)


def test_validate_reports_every_error_of_a_broken_tree_and_passes_a_clean_one(tmp_path: Path) -> None:
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "web.yaml").write_text(GOOD)
    clean = _run("validate", str(tmp_path))
    assert clean.returncode == 0, clean.stderr
    assert "1 files, 1 valid documents, 0 errors" in clean.stderr

    (tmp_path / "shop" / "typo.yaml").write_text(GOOD.replace("web-1", "web-2").replace("  image:", "  imag:"))
    (tmp_path / "shop" / "dup.yaml").write_text(GOOD)
    (tmp_path / "shop" / "size.yaml").write_text(GOOD.replace("web-1", "web-3").replace("size_gb: 20", "size_gb: 0"))
    (tmp_path / "shop" / "syntax.yaml").write_text("kind: VirtualMachine\nmetadata: {name: web-4\n")
    broken = _run("validate", str(tmp_path))
    assert broken.returncode == 1
    errors = broken.stderr.splitlines()
    shop = tmp_path / "shop"
    assert f"{shop / 'typo.yaml'}:7:3: spec.imag: unknown field" in errors
    assert f"{shop / 'web.yaml'}:1:1: metadata.name: VirtualMachine 'web-1' of project 'shop' is also defined " \
           f"at {shop / 'dup.yaml'}:1:1" in errors
    assert any(e.startswith(f"{shop / 'size.yaml'}:6:12: spec.disks.0.size_gb: Input should be greater than")
               for e in errors), errors
    assert any(e.startswith(f"{shop / 'syntax.yaml'}:3:1: YAML syntax error") for e in errors), errors


def test_schema_prints_a_json_schema_an_editor_can_use() -> None:
    out = _run("schema")
    assert out.returncode == 0, out.stderr
    schema = json.loads(out.stdout)
    assert set(schema["discriminator"]["mapping"]) == {"VirtualMachine", "Container", "Project"}


def test_the_pre_commit_hook_runs_the_validate_command() -> None:
    hooks = yaml.safe_load((Path(__file__).parents[3] / ".pre-commit-hooks.yaml").read_text())
    assert hooks[0]["entry"].split()[:2] == ["controlplane", "validate"]
    assert _run("validate", "--help").stdout.count("Example: controlplane validate") == 1
