"""Build the Dramatiq RedisBroker with the middleware every Conveyor process needs."""
from __future__ import annotations

import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import AgeLimit, Callbacks, Pipelines, Retries, ShutdownNotifications, TimeLimit
from dramatiq.results import Results
from dramatiq.results.backends import RedisBackend

from core.settings import Settings
from workers.middleware import (
    DatabaseConnection,
    JobBookkeeping,
    MetricsFlush,
    OutboxTracking,
    Outcomes,
    StepSandbox,
    WorkerHeartbeat,
)

NAMESPACE = "dramatiq"
# Workers that stop heart-beating for this long have their unacked messages requeued by the broker.
HEARTBEAT_TIMEOUT_MS = 15_000
# Out of a million commands; Dramatiq's default (1,000) leaves a dead worker's messages for minutes.
MAINTENANCE_CHANCE = 50_000
DEFAULT_TIME_LIMIT_MS = 10 * 60 * 1000


def build_broker(redis_url: str, settings: Settings) -> RedisBroker:
    """A broker on `redis_url`; worker middleware opens the settings' database per message."""
    client = redis.Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=10,
                                  health_check_interval=30)
    broker = RedisBroker(
        client=client,
        namespace=NAMESPACE,
        heartbeat_timeout=HEARTBEAT_TIMEOUT_MS,
        maintenance_chance=MAINTENANCE_CHANCE,
        middleware=[
            AgeLimit(),
            TimeLimit(time_limit=DEFAULT_TIME_LIMIT_MS),
            ShutdownNotifications(),
            Callbacks(),
            Pipelines(),
            # Few, quick retries by default; outbox-driven actors set max_retries=0 and retry from the row.
            Retries(max_retries=3, min_backoff=1_000, max_backoff=60_000),
            # Actors declared with store_results=True keep their return value for callers that wait.
            Results(backend=RedisBackend(client=client, namespace="conveyor-results"), result_ttl=600_000),
            DatabaseConnection(settings.database_url),
            StepSandbox(settings),
            OutboxTracking(),
            Outcomes(redis_url),
            JobBookkeeping(redis_url),
            WorkerHeartbeat(redis_url),
            MetricsFlush(),
        ],
    )
    return broker
