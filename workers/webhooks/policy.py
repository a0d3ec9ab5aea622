"""How deliveries are paced: the retry backoff, the per-endpoint hourly rate limit, the body they carry."""
from __future__ import annotations

import json
import random
import time
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


def body(event: Event) -> bytes:
    """The same bytes on every attempt: `{"event", "event_id", "timestamp", "data"}`."""
    payload = {"event": event.type, "event_id": event.id, "timestamp": isoformat(event.created_at),
               "data": event.data}
    return json.dumps(payload, separators=(",", ":"), sort_keys=True, default=str).encode()
