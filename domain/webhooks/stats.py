"""Delivery counters and an attempt-latency histogram kept in Redis, so that every API process can
report what every worker did (`/metrics`), on one host or many."""
from __future__ import annotations

from typing import cast

import redis

from domain import telemetry

OUTCOMES_KEY = "conveyor:stats:webhook_outcomes"
LATENCY_KEY = "conveyor:stats:webhook_seconds"
# Upper bounds (seconds) of the latency histogram's buckets; +Inf is implied.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


def record(outcome: str, seconds: float | None = None) -> None:
    """Count one outcome (`succeeded`, `failed`, `dead`, `gone`, `rate_limited`, ...) and, for an HTTP
    attempt, its duration; written with the message's own outcome, in one Redis round trip."""
    telemetry.count_with_outcome(OUTCOMES_KEY, outcome)
    if seconds is not None:
        bucket = next((str(bound) for bound in BUCKETS if seconds <= bound), "+Inf")
        telemetry.count_with_outcome(LATENCY_KEY, bucket)
        telemetry.count_with_outcome(LATENCY_KEY, "sum", float(seconds))


def outcomes(client: redis.Redis) -> dict[str, int]:
    return {k: int(v) for k, v in cast(dict[str, str], client.hgetall(OUTCOMES_KEY)).items()}


def latency(client: redis.Redis) -> tuple[list[tuple[str, int]], float]:
    """Cumulative (upper bound, count) pairs ending with +Inf, and the sum, as Prometheus wants them."""
    raw = cast(dict[str, str], client.hgetall(LATENCY_KEY))
    cumulative, running = [], 0
    for bound in [*map(str, BUCKETS), "+Inf"]:
        running += int(raw.get(bound, 0))
        cumulative.append((bound, running))
    return cumulative, float(raw.get("sum", 0.0))
