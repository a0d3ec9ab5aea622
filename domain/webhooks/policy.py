"""How deliveries are paced: the retry backoff, the per-endpoint hourly rate limit, one attempt at a time to a
failing endpoint, the body they carry."""
from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

from limits import RateLimitItemPerHour
from limits.storage import RedisStorage
from limits.strategies import SlidingWindowCounterRateLimiter

from core.timeutil import isoformat
from models.event import Event
from models.webhook import WebhookEndpoint

JITTER = 0.1  # up to 10% more, so endpoints that failed together do not retry in lockstep


def backoff_seconds(endpoint: WebhookEndpoint, retry: int) -> float:
    """`min(backoff_base ** retry + jitter, max_backoff)` for the retry-th retry (1, 2, ...)."""
    delay = endpoint.backoff_base ** retry
    jitter = random.uniform(0, JITTER * delay)  # noqa: S311 (spreading retries, not a secret)
    return float(min(delay + jitter, endpoint.max_backoff))


@lru_cache(maxsize=4)
def _limiter(redis_url: str) -> SlidingWindowCounterRateLimiter:
    return SlidingWindowCounterRateLimiter(RedisStorage(redis_url, key_prefix="conveyor:webhook-rate"))


def rate_limit_wait(redis_url: str, endpoint: WebhookEndpoint) -> float:
    """0 if one more delivery to `endpoint` fits its hourly limit now (and counts it), else seconds to wait."""
    limiter, item = _limiter(redis_url), RateLimitItemPerHour(endpoint.rate_limit_per_hour)
    if limiter.hit(item, str(endpoint.id)):
        return 0.0
    reset_at = limiter.get_window_stats(item, str(endpoint.id)).reset_time
    return max(1.0, reset_at - time.time())


_in_flight: Counter[int] = Counter()  # this process's attempts in progress, per endpoint
_in_flight_lock = threading.Lock()


@contextmanager
def attempt_slot(endpoint: WebhookEndpoint) -> Iterator[bool]:
    """Yields whether an attempt to `endpoint` may start now in this process: always for a healthy endpoint;
    for a failing one (its last attempt failed) only when no other attempt to it is in progress, so a
    receiver that hangs holds one worker thread for its timeout, not every thread."""
    with _in_flight_lock:
        allowed = endpoint.failing_since is None or not _in_flight[endpoint.id]
        if allowed:
            _in_flight[endpoint.id] += 1
    try:
        yield allowed
    finally:
        if allowed:
            with _in_flight_lock:
                _in_flight[endpoint.id] -= 1
                if not _in_flight[endpoint.id]:
                    del _in_flight[endpoint.id]


def busy_wait(endpoint: WebhookEndpoint) -> float:
    """How long a delivery waits for the attempt in progress to a failing endpoint: its timeout, plus jitter
    so that the waiting deliveries do not all come back at the same instant."""
    return float(endpoint.timeout_seconds * (1 + random.uniform(0, JITTER)))  # noqa: S311


def body(event: Event) -> bytes:
    """The same bytes on every attempt: `{"event", "event_id", "timestamp", "data"}`."""
    payload = {"event": event.type, "event_id": event.id, "timestamp": isoformat(event.created_at),
               "data": event.data}
    return json.dumps(payload, separators=(",", ":"), sort_keys=True, default=str).encode()
