"""What every no-op job of `bench/throughput.py` does, whichever system runs it: `INCR bench:done` on the
benchmark's Redis (`BENCH_REDIS_URL`), through one client per process, so completions can be counted."""
from __future__ import annotations

import os

import redis

COUNTER = "bench:done"
URL_ENV = "BENCH_REDIS_URL"
_client: redis.Redis | None = None


def incr() -> None:
    global _client
    if _client is None:  # a race makes two clients, once: harmless
        _client = redis.Redis.from_url(os.environ[URL_ENV])
    _client.incr(COUNTER)
