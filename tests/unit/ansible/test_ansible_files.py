"""The per-run files of the Ansible driver: unsafe YAML, private files, playbook digests."""

from __future__ import annotations

import shutil
import stat
from pathlib import Path

import pytest
import yaml
from ansible.parsing.dataloader import DataLoader

from controlplane.drivers.ansible import PLAYBOOKS_DIR, configuration_digest, playbook_digest
from controlplane.drivers.ansible_files import private_data_dir, unsafe_yaml, write_private


def test_every_string_is_tagged_unsafe_and_ansible_reads_it_back_as_data() -> None:
    data = {"name": "{{ lookup('pipe', 'id') }}", "n": 3, "nested": {"tags": ["a", "{% raw %}"]}}
    text = unsafe_yaml(data)
    assert text.count("!unsafe") == 3  # values; keys are variable names
    loaded = DataLoader().load(text)
    assert loaded == data
    from ansible._internal._datatag._tags import TrustedAsTemplate

    assert not TrustedAsTemplate.is_tagged_on(loaded["name"])
    with pytest.raises(yaml.constructor.ConstructorError):
        yaml.safe_load(text)  # plain YAML readers refuse the tag rather than guess


def test_private_files_are_0600_from_the_start_and_the_dirs_go_away(tmp_path: Path) -> None:
    with private_data_dir(tmp_path) as (private, sockets):
        key = write_private(private / "ssh_key", "secret")
        assert stat.S_IMODE(key.stat().st_mode) == 0o600 and stat.S_IMODE(private.stat().st_mode) == 0o700
        with pytest.raises(FileExistsError):
            write_private(key, "again")
    assert not private.exists() and not sockets.exists()
    with pytest.raises(RuntimeError), private_data_dir(tmp_path) as (private, _):
        raise RuntimeError("the run failed")
    assert not private.exists()


def test_playbook_digest_changes_with_any_content_the_playbook_uses(tmp_path: Path) -> None:
    copy = tmp_path / "playbooks"
    shutil.copytree(PLAYBOOKS_DIR, copy)
    first = playbook_digest(copy, "site.yml")
    assert first == playbook_digest(copy, "site.yml") and first.startswith("sha256:")
    role_defaults = copy / "roles" / "timezone" / "defaults" / "main.yml"
    role_defaults.write_text(role_defaults.read_text() + "# edited\n")
    assert playbook_digest(copy, "site.yml") != first
    with pytest.raises(FileNotFoundError):
        playbook_digest(copy, "../etc/passwd")


def test_configuration_digest_follows_spec_configure_and_playbook_content(tmp_path: Path) -> None:
    copy = tmp_path / "playbooks"
    shutil.copytree(PLAYBOOKS_DIR, copy)
    configure = {"playbook": "site.yml", "vars": {"baseline_timezone": "Etc/UTC"}}
    first = configuration_digest(configure, copy)
    assert configuration_digest({"vars": {"baseline_timezone": "Etc/UTC"}, "playbook": "site.yml"}, copy) == first
    assert configuration_digest({**configure, "vars": {"baseline_timezone": "Europe/Berlin"}}, copy) != first
    (copy / "site.yml").write_text((copy / "site.yml").read_text() + "# edited\n")
    assert configuration_digest(configure, copy) != first
