"""The `conveyor` system of `bench/throughput.py`: a no-op actor on Conveyor's own broker, with all of
Conveyor's middleware. `dramatiq bench.noop_conveyor:setup` runs it the way `make run` runs the worker."""
from __future__ import annotations

import dramatiq

from bench.noop_count import incr
from core.settings import Settings
from workers.setup import configure

QUEUE = "bench"


def bench_noop_conveyor() -> None:
    incr()


def declare() -> dramatiq.Actor[[], None]:
    """The actor on the current broker (the benchmark process and the worker both declare it)."""
    return dramatiq.actor(queue_name=QUEUE)(bench_noop_conveyor)


def setup(settings: Settings | None = None) -> dramatiq.Actor[[], None]:
    """Entry point for the `dramatiq` command (no settings: from the environment, as the real worker)."""
    configure(settings)
    return declare()
