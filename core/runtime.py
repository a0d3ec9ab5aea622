"""What a process runs on: its settings, its Redis and its broker.

Each entry point builds one (`api.create_app`, the `dramatiq workers.setup:configure` worker, `python -m
scheduler`) through `workers.setup.configure` and hands it down: routes find it in their app, actors get it
as their first argument, domain functions take what they need of it as parameters. No module holds a
"current" one.
"""
from __future__ import annotations

from dataclasses import dataclass

import redis
from dramatiq.brokers.redis import RedisBroker

from core.redis import get_redis
from core.settings import Settings


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    redis_url: str
    broker: RedisBroker

    @property
    def redis(self) -> redis.Redis:
        """This process's client for `redis_url` (one connection pool per URL and process)."""
        return get_redis(self.redis_url)
