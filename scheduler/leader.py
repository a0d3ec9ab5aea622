"""A Redis lock with a TTL that one scheduler replica holds and renews; the others wait for it."""
from __future__ import annotations

from typing import Any

import redis

_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""


class LeaderLock:
    def __init__(self, client: redis.Redis, key: str, ttl_seconds: float, holder: str) -> None:
        self.client = client
        self.key = key
        self.ttl_ms = int(ttl_seconds * 1000)
        self.holder = holder
        self.held = False
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)

    def acquire_or_renew(self) -> bool:
        """Keep the lock if we hold it, take it if it is free; True while we are the leader."""
        try:
            if self.held and self._renew(keys=[self.key], args=[self.holder, self.ttl_ms]):
                return True
            self.held = bool(self.client.set(self.key, self.holder, nx=True, px=self.ttl_ms))
        except redis.RedisError:
            # Without Redis we cannot know whether the lock ran out; stop firing until we can.
            self.held = False
        return self.held

    def release(self) -> None:
        try:
            self._release(keys=[self.key], args=[self.holder])
        except redis.RedisError:
            pass  # the TTL frees it anyway
        self.held = False

    def current_holder(self) -> str | None:
        value: Any = self.client.get(self.key)
        return value.decode() if isinstance(value, bytes) else value
