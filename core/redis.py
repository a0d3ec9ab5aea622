"""The one place that builds Redis connections."""
from __future__ import annotations

import threading

import redis

from core.embedded_redis import ensure_embedded_redis
from core.settings import Settings

_clients: dict[str, redis.Redis] = {}
_lock = threading.Lock()


def resolve_redis_url(settings: Settings) -> str:
    """The configured REDIS_URL, or the embedded server's (started on first use)."""
    if settings.redis_url:
        return settings.redis_url
    server, _ = ensure_embedded_redis(settings.var_dir)
    return server.url


# Connections per process: a burst of requests waits for a free one instead of opening more, so
# Redis sees a bounded number of clients however many requests or sockets a process serves.
MAX_CONNECTIONS = 32


def get_redis(url: str) -> redis.Redis:
    """A shared, thread-safe client (with its bounded pool) per URL, answering str rather than bytes."""
    with _lock:
        client = _clients.get(url)
        if client is None:
            pool = redis.BlockingConnectionPool.from_url(
                url, max_connections=MAX_CONNECTIONS, timeout=5, decode_responses=True,
                socket_connect_timeout=2, socket_timeout=5, health_check_interval=30, retry_on_timeout=True,
            )
            client = redis.Redis(connection_pool=pool)
            _clients[url] = client
        return client


def close_all() -> None:
    with _lock:
        for client in _clients.values():
            client.close()
        _clients.clear()
