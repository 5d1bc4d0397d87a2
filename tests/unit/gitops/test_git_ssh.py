"""The ssh command git runs for a source: our fixed options, the deploy key and host keys in 0600 files of a
0700 directory that is gone after the command; hostile URLs, host-key lines and keys are refused."""

from __future__ import annotations

import shlex
import stat

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from controlplane.gitops.git import SshCredentials, command_home, ssh_command
from controlplane.models.git_source import check_known_hosts, check_private_key, check_url

KEY = Ed25519PrivateKey.generate().private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()).decode()
HOST = "127.0.0.1 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHsvT7bqVxg9dQmcE3DhUZjK9qz0+4x1f1hU2wq3t5Yk"


def test_the_key_lives_in_a_private_file_for_one_command_only() -> None:
    with command_home() as home:
        args = shlex.split(ssh_command(home, SshCredentials(KEY, HOST + "\n")))
        assert stat.S_IMODE(home.stat().st_mode) == 0o700
        key_file = home / "deploy_key"
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600 and key_file.read_text() == KEY
        assert stat.S_IMODE((home / "known_hosts").stat().st_mode) == 0o600
    assert not home.exists()
    assert args[:3] == ["ssh", "-F", "/dev/null"] and args[args.index("-i") + 1] == str(key_file)
    options = {args[i + 1] for i, a in enumerate(args) if a == "-o"}
    assert {"IdentitiesOnly=yes", "BatchMode=yes", "StrictHostKeyChecking=yes", "GlobalKnownHostsFile=/dev/null",
            "IdentityAgent=none", "ProxyCommand=none", f"UserKnownHostsFile={home / 'known_hosts'}"} <= options


def test_without_a_key_no_identity_is_given_and_no_host_is_known() -> None:
    with command_home() as home:
        args = shlex.split(ssh_command(home, None))
        assert (home / "known_hosts").read_text() == ""
    assert "-i" not in args and "StrictHostKeyChecking=yes" in args


@pytest.mark.parametrize("url", ["ssh://-oProxyCommand=touch%20x/repo.git", "ssh://-oProxyCommand=x@host/r.git",
                                 "ssh://host:22x/r.git", "ssh:///r.git", "ext::ssh -oProxyCommand=x host"])
def test_hostile_ssh_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError):
        check_url(url)


@pytest.mark.parametrize("line", ["@cert-authority * " + HOST.split(" ", 1)[1],
                                  "127.0.0.1 ssh-dss AAAAB3NzaC1kc3MAAACBAP", "127.0.0.1 ssh-ed25519 not!base64",
                                  "", "# only a comment",
                                  'command="x" ' + HOST, HOST + "\n127.0.0.1 ssh-ed25519 AAAA$(id)AAAAAAAAAAAAAAA"])
def test_only_plain_host_key_lines_are_accepted(line: str) -> None:
    with pytest.raises(ValueError):
        check_known_hosts(line)


def test_host_key_lines_as_ssh_keyscan_prints_them() -> None:
    text = f"# 127.0.0.1:22 SSH-2.0-OpenSSH_9.2\r\n{HOST}\n[127.0.0.1]:2222 {HOST.split(' ', 1)[1]} a comment\n"
    assert check_known_hosts(text).splitlines() == [HOST, f"[127.0.0.1]:2222 {HOST.split(' ', 1)[1]} a comment"]


def test_private_keys_must_parse_and_have_no_passphrase() -> None:
    assert check_private_key(KEY.strip()) == KEY
    locked = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pass")).decode()
    for bad in (locked, "-----BEGIN OPENSSH PRIVATE KEY-----\nnot a key\n-----END OPENSSH PRIVATE KEY-----", "hello"):
        with pytest.raises(ValueError):
            check_private_key(bad)
