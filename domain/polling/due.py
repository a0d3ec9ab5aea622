"""Which clusters or CI sources are due a poll, each claimed for its next interval as it is picked, so a
second scheduler replica (or a slow tick) never sends the same poll twice."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import redis
from redis.lock import Lock

from models.db import utc_naive

LOCK_SECONDS = 660  # beyond a poll's time limit (600 s)


def poll_lock(client: redis.Redis, kind: str, target_id: int) -> Lock:
    """The lock a poll of one cluster or source holds; deleting that target takes it too."""
    return client.lock(f"conveyor:lock:{kind}:{target_id}", timeout=LOCK_SECONDS)


def claim_due(model: Any, now: datetime | None = None) -> list[int]:
    now = now or utc_naive()
    claimed = []
    for row in model.select(model.id, model.next_poll_at, model.poll_interval_seconds).where(
            model.next_poll_at <= now):
        interval = timedelta(seconds=row.poll_interval_seconds)
        # From when it was due, not from this tick: a tick a moment early must not stretch the interval.
        following = row.next_poll_at + interval if row.next_poll_at + interval > now else now + interval
        won = model.update(next_poll_at=following).where(
            (model.id == row.id) & (model.next_poll_at == row.next_poll_at)).execute()
        if won:
            claimed.append(row.id)
    return claimed
