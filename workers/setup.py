"""Build a process's Runtime: its broker (with the middleware every Conveyor process needs) and every actor
bound to it.

`dramatiq workers.setup:configure` runs `configure()` in each worker process; the API and the scheduler call
it at start-up too, so all three share one broker definition and send the same actors.
"""
from __future__ import annotations

import dramatiq

from core.crypto import key_ring
from core.logging import configure_logging
from core.redis import resolve_redis_url
from core.runtime import Runtime
from core.settings import Settings, load_settings
from models.db import connect_database
from models.secret import use_key_ring
from workers import analyses, builds, diagnostics, engineering, jobs, polling, quality, webhooks
from workers.broker import build_broker
from workers.registry import actors_of

ACTOR_MODULES = (jobs, diagnostics, builds, analyses, webhooks, polling, engineering, quality)


def configure(settings: Settings | None = None) -> Runtime:
    """The process's Runtime, its broker set as Dramatiq's global one (the worker CLI runs that broker) and
    every actor declared on it."""
    if settings is None:
        settings = load_settings()
        configure_logging(settings.log_level)
    connect_database(settings.database_url)
    use_key_ring(key_ring(settings.secret_key, settings.encryption_keys))
    redis_url = resolve_redis_url(settings)
    broker = build_broker(redis_url, settings)
    runtime = Runtime(settings, redis_url, broker)
    dramatiq.set_broker(broker)
    for actor in actors_of(ACTOR_MODULES):
        actor.bind(runtime)
    return runtime
