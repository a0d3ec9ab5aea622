"""The baseline for the webhook benchmark: a bare Dramatiq actor doing the same `requests.post`, with
none of Conveyor's rows, signing, SSRF checks or bookkeeping. `dramatiq bench.bare:setup` runs it."""
from __future__ import annotations

import dramatiq
import requests

from workers.setup import configure

QUEUE = "bench_bare"


def bare_post(url: str, body: str, bench_id: str) -> None:
    requests.post(url, data=body, headers={"Content-Type": "application/json", "x-bench-id": bench_id},
                  timeout=30, allow_redirects=False)


def declare() -> dramatiq.Actor:  # type: ignore[type-arg]
    """The actor on the current broker (the benchmark process and the worker both declare it)."""
    return dramatiq.actor(bare_post, queue_name=QUEUE, max_retries=0)


def setup() -> None:
    """Entry point for the `dramatiq` command: Conveyor's broker settings, plus the bare actor."""
    configure()
    declare()
