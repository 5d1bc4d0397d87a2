"""Fixed-window attempt counters for rate limits: in Redis when configured, in process otherwise."""

from __future__ import annotations

import threading
import time

import redis

from controlplane.errors import TemporaryError


class MemoryLimiter:
    """Counters in this process (one API process; tests)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[float, int]] = {}

    def hit(self, key: str, limit: int, window: int) -> int | None:
        """Count one attempt; seconds to wait when this is over ``limit`` in the current window."""
        now = time.monotonic()
        with self._lock:
            start, count = self._windows.get(key, (now, 0))
            if now - start >= window:
                start, count = now, 0
            count += 1
            self._windows[key] = (start, count)
            if len(self._windows) > 100_000:  # forget expired windows now and then
                self._windows = {k: v for k, v in self._windows.items() if now - v[0] < window}
        if count > limit:
            return max(1, int(start + window - now + 0.999))
        return None

    def reset(self, key: str) -> None:
        """Forget ``key``."""
        with self._lock:
            self._windows.pop(key, None)


class RedisLimiter:
    """Counters in Redis, shared by every API process."""

    def __init__(self, url: str, prefix: str = "cp:rl:") -> None:
        self._redis = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._prefix = prefix

    def hit(self, key: str, limit: int, window: int) -> int | None:
        """Count one attempt; seconds to wait when this is over ``limit`` in the current window."""
        name = self._prefix + key
        try:
            count = int(self._redis.incr(name))
            ttl = int(self._redis.ttl(name))
            if ttl < 0:  # a new window (or one that lost its expiry)
                self._redis.expire(name, window)
                ttl = window
        except redis.RedisError as exc:
            raise TemporaryError(f"Redis is unavailable: {exc}", component="redis") from exc
        if int(count) > limit:
            return max(1, int(ttl))
        return None

    def reset(self, key: str) -> None:
        """Forget ``key``."""
        try:
            self._redis.delete(self._prefix + key)
        except redis.RedisError as exc:
            raise TemporaryError(f"Redis is unavailable: {exc}", component="redis") from exc
