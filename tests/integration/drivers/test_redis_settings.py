"""Redis through our settings: the readiness check pings a real redis-server."""

from __future__ import annotations

from controlplane.api.health import check_redis
from controlplane.config import get_settings
from controlplane.util.net import refused_port


def test_redis_ping_through_settings(redis_url: str) -> None:
    settings = get_settings(redis_url=redis_url)
    assert settings.redis_url is not None
    result = check_redis(settings.redis_url.get_secret_value())
    assert result["status"] == "ok" and str(result["version"])[0].isdigit()


def test_redis_down_is_reported() -> None:
    with refused_port() as port:
        result = check_redis(f"redis://127.0.0.1:{port}/0")
    assert result["status"] == "down" and result["error"]
