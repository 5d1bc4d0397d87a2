"""The README's configuration table names every setting, so it stays true as settings grow."""

from __future__ import annotations

from pathlib import Path

from controlplane.config import Settings, env_name

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_setting_is_documented_in_the_readme() -> None:
    text = README.read_text()
    missing = [env_name(name) for name in Settings.model_fields if env_name(name) not in text]
    assert missing == []
