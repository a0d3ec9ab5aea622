"""What views need from the process: its Runtime (settings, Redis, broker), the token config, its start time."""
from __future__ import annotations

from dataclasses import dataclass, field

import redis
from dramatiq.brokers.redis import RedisBroker
from flask import current_app

from api.auth.tokens import TokenConfig
from core.runtime import Runtime
from core.settings import Settings


@dataclass(frozen=True)
class Services:
    runtime: Runtime
    tokens: TokenConfig
    started_at: float
    redis: redis.Redis = field(init=False)  # the runtime's client, looked up once rather than per request

    def __post_init__(self) -> None:
        object.__setattr__(self, "redis", self.runtime.redis)

    @property
    def settings(self) -> Settings:
        return self.runtime.settings

    @property
    def broker(self) -> RedisBroker:
        return self.runtime.broker


def services() -> Services:
    return current_app.extensions["conveyor"]
