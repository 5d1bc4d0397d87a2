"""The client address: the peer's, unless the peer is a configured proxy; then the nearest untrusted hop."""

from __future__ import annotations

import pytest

from controlplane.api.ratelimit import MemoryLimiter, backoff_delay
from controlplane.config import Settings
from controlplane.services.caller import client_address as client_ip
from controlplane.services.caller import client_bucket


def test_forwarded_for_is_ignored_without_trusted_proxies() -> None:
    assert client_ip("127.0.0.1", "10.9.9.9", ()) == "127.0.0.1"
    assert client_ip("127.0.0.1", "10.9.9.9", ("10.0.0.0/8",)) == "127.0.0.1"


def test_trusted_proxy_chain_names_the_first_untrusted_hop_from_the_right() -> None:
    trusted = ("127.0.0.1", "10.0.0.0/8")
    assert client_ip("127.0.0.1", "203.0.113.5", trusted) == "203.0.113.5"
    assert client_ip("127.0.0.1", "6.6.6.6, 203.0.113.5, 10.1.2.3", trusted) == "203.0.113.5"
    assert client_ip("127.0.0.1", "", trusted) == "127.0.0.1"
    assert client_ip("127.0.0.1", "not-an-ip, 10.1.2.3", trusted) == "10.1.2.3"
    assert client_ip("::1", "2001:db8::1", ("::1",)) == "2001:db8::1"


def test_trusted_proxies_setting_is_validated() -> None:
    assert Settings(_env_file=None, trusted_proxies=" 127.0.0.1, 10.0.0.0/8 ").trusted_proxy_list == [  # type: ignore[call-arg]
        "127.0.0.1", "10.0.0.0/8"]
    with pytest.raises(ValueError):
        Settings(_env_file=None, trusted_proxies="127.0.0.1, example.com")  # type: ignore[call-arg]


def test_backoff_doubles_after_the_free_attempts_and_is_capped() -> None:
    assert [backoff_delay(n, 2, 1.0, 5.0) for n in range(1, 7)] == [0, 0, 1, 2, 4, 5]
    limiter = MemoryLimiter()
    assert [limiter.attempt("k", 2, 60, 600, 3600) for _ in range(3)] == [None, None, None]
    assert limiter.attempt("k", 2, 60, 600, 3600) == 60
    limiter.forgive("k")
    assert limiter.attempt("k", 2, 60, 600, 3600) is None
    limiter.reset("k")
    assert limiter.attempt("k", 2, 60, 600, 3600) is None


def test_ipv6_clients_are_throttled_per_64_network() -> None:
    assert client_bucket("2001:db8:1:2:aaaa::1") == client_bucket("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    assert client_bucket("2001:db8:1:3::1") != client_bucket("2001:db8:1:2::1")
    assert client_bucket("127.0.0.2") == "127.0.0.2" and client_bucket("::ffff:127.0.0.2") == "127.0.0.2"
    assert client_bucket("testclient") == "testclient"
