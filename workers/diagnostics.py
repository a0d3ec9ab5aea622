"""A no-op actor that proves the API -> broker -> worker path works, and lets benchmarks measure it."""
from __future__ import annotations

import time

from core.runtime import Runtime
from workers.registry import actor

PING_KEY = "conveyor:diagnostics:ping"


@actor(queue_name="default", max_retries=0, time_limit=10_000)
def ping(rt: Runtime, token: str) -> None:
    """Record that a worker ran this message; idempotent, so a redelivery changes nothing."""
    rt.redis.set(f"{PING_KEY}:{token}", f"{time.time():.6f}", ex=3600, nx=True)
