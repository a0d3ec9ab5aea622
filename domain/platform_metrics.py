"""The platform's own metrics (build and analysis durations, webhook attempt latency and outcome), kept as
metric points like any team's, buffered per worker process and written in batches.

`record()` only appends to the buffer; `workers.middleware.MetricsFlush` writes it every
FLUSH_SECONDS and when the worker stops, with one bulk insert per batch. Metrics are best effort:
a batch that cannot be written is dropped with a warning rather than retried for ever.
"""
from __future__ import annotations

import logging
import threading
from datetime import datetime
from typing import Any

from models.db import db, utc_naive
from models.metric import insert_points

log = logging.getLogger(__name__)
FLUSH_SECONDS = 2.0
MAX_BUFFERED = 10_000  # beyond this (the database is away), new points are dropped
_lock = threading.Lock()
_buffer: list[tuple[str, float, str | None, dict[str, str], datetime]] = []


def record(name: str, value: float, unit: str | None = None, **tags: Any) -> None:
    with _lock:
        if len(_buffer) < MAX_BUFFERED:
            _buffer.append((name, float(value), unit, {key: str(tag) for key, tag in tags.items()}, utc_naive()))


def flush() -> int:
    """Write what is buffered; returns how many points were written."""
    with _lock:
        batch = _buffer[:]
        _buffer.clear()
    if not batch:
        return 0
    try:
        with db.connection_context():
            insert_points(batch)
    except Exception:  # the database is away: these points are lost, the next batch may not be
        log.warning("could not write platform metrics", extra={"points": len(batch)}, exc_info=True)
        return 0
    return len(batch)
