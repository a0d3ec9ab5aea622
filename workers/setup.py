"""Build and set the broker, then import every actor module: the order Dramatiq needs.

`dramatiq workers.setup:configure` runs `configure()` in each worker process; the API and the
scheduler call it at start-up too, so all three share one broker definition.
"""
from __future__ import annotations

import importlib
import sys

import dramatiq

from core.logging import configure_logging
from core.redis import resolve_redis_url
from core.settings import Settings, load_settings
from models.db import connect_database
from workers import runtime
from workers.broker import build_broker

ACTOR_MODULES = ("workers.jobs", "workers.diagnostics", "workers.builds", "workers.analyses",
                 "workers.webhooks.deliver", "workers.polling.actors")


def configure(settings: Settings | None = None) -> dramatiq.Broker:
    """Set the global broker from the settings and declare every actor on it."""
    if settings is None:
        settings = load_settings()
        configure_logging(settings.log_level)
    connect_database(settings.database_url)
    redis_url = resolve_redis_url(settings)
    runtime.init(settings, redis_url)
    broker = build_broker(redis_url, settings.database_url)
    dramatiq.set_broker(broker)
    for name in ACTOR_MODULES:
        # A second configure() in one process (tests build several apps) must declare the actors
        # on the new broker too, so modules imported before are executed again.
        if name in sys.modules:
            importlib.reload(sys.modules[name])
        else:
            importlib.import_module(name)
    return broker
