"""``controlplane backup --help`` and ``restore --help`` say what the commands do, with an example, and a
bad target is a one-line error, not a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from controlplane.cli import app


@pytest.mark.parametrize("command", ["backup", "restore"])
def test_help_has_an_example(command: str) -> None:
    result = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert f"Example: controlplane {command} /var/backups/controlplane/" in result.output
    assert "--force" in result.output


def test_restoring_a_directory_that_is_no_backup_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["restore", str(tmp_path), "--data-dir", str(tmp_path / "data")])
    assert result.exit_code == 1
    assert "holds no manifest.json" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "data").exists()  # nothing was started or made
