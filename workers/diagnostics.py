"""A no-op actor that proves the API -> broker -> worker path works, and lets benchmarks measure it."""
from __future__ import annotations

import time

import dramatiq

PING_KEY = "conveyor:diagnostics:ping"


@dramatiq.actor(queue_name="default", max_retries=0, time_limit=10_000)
def ping(token: str) -> None:
    """Record that a worker ran this message; idempotent, so a redelivery changes nothing."""
    client = dramatiq.get_broker().client  # type: ignore[attr-defined]
    client.set(f"{PING_KEY}:{token}", f"{time.time():.6f}", ex=3600, nx=True)
