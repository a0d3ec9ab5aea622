"""What views need from the process: settings, the Redis client, the broker, the token config."""
from __future__ import annotations

from dataclasses import dataclass

import dramatiq
import redis
from flask import current_app

from api.auth.tokens import TokenConfig
from core.settings import Settings


@dataclass(frozen=True)
class Services:
    settings: Settings
    redis: redis.Redis
    broker: dramatiq.Broker
    tokens: TokenConfig
    started_at: float


def services() -> Services:
    return current_app.extensions["conveyor"]
