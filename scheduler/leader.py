"""The leader lock: one scheduler replica holds it and renews it; the others wait for its TTL to run out.

redis-py's `Lock` does the compare-and-renew and compare-and-delete (its Lua scripts); the lock's token is the
holder's name, so operators and tests can see who leads.
"""
from __future__ import annotations

from typing import Any

import redis
from redis.exceptions import LockError
from redis.lock import Lock


class LeaderLock:
    def __init__(self, client: redis.Redis, key: str, ttl_seconds: float, holder: str) -> None:
        self.client = client
        self.key = key
        self.ttl_ms = int(ttl_seconds * 1000)
        self.holder = holder
        self.held = False
        # Not thread-local: the scheduler renews from whichever of its pool's threads runs the leader job.
        self._lock = Lock(client, key, timeout=ttl_seconds, thread_local=False)

    def acquire_or_renew(self) -> bool:
        """Keep the lock if we hold it, take it if it is free; True while we are the leader."""
        try:
            if self.held:
                try:
                    self._lock.reacquire()
                    return True
                except LockError:  # it ran out and may be another's now
                    self.held = False
            self.held = bool(self._lock.acquire(blocking=False, token=self.holder))
        except redis.RedisError:
            # Without Redis we cannot know whether the lock ran out; stop firing until we can.
            self.held = False
        return self.held

    def release(self) -> None:
        try:
            self._lock.release()
        except (LockError, redis.RedisError):
            pass  # not ours (any more), or Redis is away: the TTL frees it anyway
        self.held = False

    def current_holder(self) -> str | None:
        value: Any = self.client.get(self.key)
        return value.decode() if isinstance(value, bytes) else value
