"""The `bare_dramatiq` baseline of `bench/throughput.py`: a plain `RedisBroker` with Dramatiq's default
middleware and a no-op actor. `dramatiq bench.noop_bare:setup` runs it."""
from __future__ import annotations

import os

import dramatiq
from dramatiq.brokers.redis import RedisBroker

from bench.noop_count import URL_ENV, incr

QUEUE = "bench_bare"


def bench_noop_bare() -> None:
    incr()


def setup(url: str | None = None) -> dramatiq.Actor[[], None]:
    """Set a bare broker on `url` (default: the benchmark's Redis) as the global one, declare the actor."""
    broker = RedisBroker(url=url or os.environ[URL_ENV])
    dramatiq.set_broker(broker)
    return dramatiq.actor(queue_name=QUEUE, broker=broker)(bench_noop_bare)
