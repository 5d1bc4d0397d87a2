"""Attempt counters for rate limits, in Redis when configured and in process otherwise.

Two kinds: fixed windows (``hit``: at most ``limit`` per ``window``) and exponential back-off
(``attempt``: after ``free`` attempts each further one must wait twice as long as the one before, up to
``cap`` seconds; a success ``reset``s or ``forgive``s it). Back-off is what login uses: it slows a
guesser down without ever locking anybody out for good.
"""

from __future__ import annotations

import math
import threading
import time

import redis

from controlplane.errors import TemporaryError


def backoff_delay(count: int, free: int, base: float, cap: float) -> float:
    """Seconds the next attempt has to wait after ``count`` attempts, ``free`` of which cost nothing."""
    if count <= free:
        return 0.0
    return float(min(cap, base * 2 ** min(count - free - 1, 64)))


class MemoryLimiter:
    """Counters in this process (one API process; tests)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[float, int]] = {}
        self._backoff: dict[str, tuple[int, float, float]] = {}  # key -> (count, blocked until, forget at)

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
            return max(1, math.ceil(start + window - now))
        return None

    def attempt(self, key: str, free: int, base: float, cap: float, memory: int) -> int | None:
        """Seconds to wait when ``key`` is backing off; otherwise count this attempt and return None."""
        now = time.monotonic()
        with self._lock:
            count, blocked_until, forget_at = self._backoff.get(key, (0, 0.0, 0.0))
            if forget_at <= now:
                count, blocked_until = 0, 0.0
            if blocked_until > now:
                return max(1, math.ceil(blocked_until - now))
            count += 1
            self._backoff[key] = (count, now + backoff_delay(count, free, base, cap), now + memory)
            if len(self._backoff) > 100_000:
                self._backoff = {k: v for k, v in self._backoff.items() if v[2] > now}
        return None

    def forgive(self, key: str) -> None:
        """Take back the last attempt of ``key`` (it succeeded) and lift its wait."""
        with self._lock:
            if key in self._backoff:
                count, _, forget_at = self._backoff[key]
                self._backoff[key] = (max(0, count - 1), 0.0, forget_at)

    def reset(self, key: str) -> None:
        """Forget ``key``."""
        with self._lock:
            self._windows.pop(key, None)
            self._backoff.pop(key, None)


_ATTEMPT_LUA = """
local wait = redis.call('PTTL', KEYS[2])
if wait > 0 then return wait end
local count = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
local free = tonumber(ARGV[1])
if count > free then
  local delay = math.min(tonumber(ARGV[3]), tonumber(ARGV[2]) * 2 ^ math.min(count - free - 1, 64))
  redis.call('SET', KEYS[2], '1', 'PX', math.max(1, math.floor(delay * 1000)))
end
return 0
"""

_FORGIVE_LUA = """
if tonumber(redis.call('GET', KEYS[1]) or '0') > 0 then redis.call('DECR', KEYS[1]) end
redis.call('DEL', KEYS[2])
return 0
"""


class RedisLimiter:
    """Counters in Redis, shared by every API process."""

    def __init__(self, url: str, prefix: str = "cp:rl:") -> None:
        self._redis = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._prefix = prefix
        self._attempt = self._redis.register_script(_ATTEMPT_LUA)
        self._forgive = self._redis.register_script(_FORGIVE_LUA)

    def _keys(self, key: str) -> list[str]:
        return [self._prefix + key, self._prefix + key + ":wait"]

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

    def attempt(self, key: str, free: int, base: float, cap: float, memory: int) -> int | None:
        """Seconds to wait when ``key`` is backing off; otherwise count this attempt and return None."""
        try:
            wait_ms = int(self._attempt(keys=self._keys(key), args=[free, base, cap, memory]))
        except redis.RedisError as exc:
            raise TemporaryError(f"Redis is unavailable: {exc}", component="redis") from exc
        return max(1, math.ceil(wait_ms / 1000)) if wait_ms > 0 else None

    def forgive(self, key: str) -> None:
        """Take back the last attempt of ``key`` (it succeeded) and lift its wait."""
        try:
            self._forgive(keys=self._keys(key))
        except redis.RedisError as exc:
            raise TemporaryError(f"Redis is unavailable: {exc}", component="redis") from exc

    def reset(self, key: str) -> None:
        """Forget ``key``."""
        try:
            self._redis.delete(self._prefix + key, *self._keys(key)[1:])
        except redis.RedisError as exc:
            raise TemporaryError(f"Redis is unavailable: {exc}", component="redis") from exc
