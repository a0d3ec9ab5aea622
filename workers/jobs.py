"""Actors fired by the scheduler (and by `POST /api/v1/admin/jobs/{name}/run`)."""
from __future__ import annotations

from datetime import timedelta

import dramatiq

from models.task import Task
from workers import outbox, runtime
from workers.settle import abandon
from workers.webhooks import dispatch


@dramatiq.actor(queue_name="scheduled", max_retries=0, time_limit=60_000, scheduled_job=True, store_results=True)
def sweep_outbox() -> dict[str, int]:
    """Re-send due outbox messages and webhook deliveries whose lease ran out: lost messages are
    delayed, never dropped."""
    return {**outbox.sweep(), **dispatch.sweep()}


@dramatiq.actor(queue_name="scheduled", max_retries=0, time_limit=60_000, scheduled_job=True, store_results=True)
def reap_tasks() -> dict[str, int]:
    """Fail running tasks whose worker died (no heartbeat): never stuck `running` forever."""
    rt = runtime.current()
    stale = rt.settings.task_stale_seconds
    reason = f"the worker running it stopped responding (no heartbeat for {stale} s)"
    reaped = sum(abandon(task, rt.redis, reason) for task in Task.stale(timedelta(seconds=stale)))
    return {"reaped": reaped}
