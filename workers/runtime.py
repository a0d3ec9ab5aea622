"""What actors need from their process (settings, a Redis client), set once by `workers.setup.configure`."""
from __future__ import annotations

from dataclasses import dataclass

import redis

from core.redis import get_redis
from core.settings import Settings


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    redis_url: str

    @property
    def redis(self) -> redis.Redis:
        return get_redis(self.redis_url)


_current: Runtime | None = None


def init(settings: Settings, redis_url: str) -> Runtime:
    global _current
    _current = Runtime(settings, redis_url)
    return _current


def current() -> Runtime:
    if _current is None:
        raise RuntimeError("workers.setup.configure() has not run in this process")
    return _current
