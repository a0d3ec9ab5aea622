"""Actors fired by the scheduler (and by `POST /api/v1/admin/jobs/{name}/run`)."""
from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from core.runtime import Runtime
from domain import alerting, api_keys, audit, cache_views, outbox, rollups
from domain.tasks.settle import abandon
from domain.webhooks import dispatch
from models.db import utc_naive
from models.task import Task
from workers.registry import actor


@actor(queue_name="scheduled", max_retries=0, time_limit=60_000, scheduled_job=True, store_results=True)
def sweep_outbox(rt: Runtime) -> dict[str, int]:
    """Re-send due outbox messages and webhook deliveries whose lease ran out: lost messages are
    delayed, never dropped."""
    return {**outbox.sweep(rt.broker), **dispatch.sweep(rt.broker)}


@actor(queue_name="scheduled", max_retries=0, time_limit=60_000, scheduled_job=True, store_results=True)
def reap_tasks(rt: Runtime) -> dict[str, int]:
    """Fail running tasks whose worker died (no heartbeat): never stuck `running` forever."""
    stale = rt.settings.task_stale_seconds
    reason = f"the worker running it stopped responding (no heartbeat for {stale} s)"
    reaped = sum(abandon(rt, task, reason) for task in Task.stale(timedelta(seconds=stale)))
    return {"reaped": reaped}


def one_at_a_time(rt: Runtime, name: str, timeout: int, work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """`work()` under the job's Redis lock, or `skipped` while another run of it holds the lock."""
    lock = rt.redis.lock(f"conveyor:lock:{name}", timeout=timeout, blocking=False)
    if not lock.acquire():
        return {"skipped": "another run is in progress"}
    try:
        return work()
    finally:
        lock.release()


# Rollups outlive the raw points they were made from.
ROLLUP_RETENTION = {"1m": timedelta(days=30), "1h": timedelta(days=400)}


@actor(queue_name="scheduled", max_retries=0, time_limit=600_000, scheduled_job=True, store_results=True)
def aggregate_metrics(rt: Runtime) -> dict[str, Any]:
    """Roll new and late raw points up into 1-minute and 1-hour buckets (one run at a time)."""
    return one_at_a_time(rt, "aggregate_metrics", 600, lambda: rollups.aggregate(
        horizon=utc_naive() - timedelta(days=rt.settings.metrics_retention_days)))


@actor(queue_name="scheduled", max_retries=0, time_limit=600_000, scheduled_job=True, store_results=True)
def prune_metrics(rt: Runtime) -> dict[str, int]:
    """Delete raw points older than METRICS_RETENTION_DAYS, and rollups past their own retention."""
    now, days = utc_naive(), rt.settings.metrics_retention_days
    return rollups.prune(now - timedelta(days=days), {r: now - age for r, age in ROLLUP_RETENTION.items()})


@actor(queue_name="scheduled", max_retries=0, time_limit=600_000, scheduled_job=True, store_results=True)
def prune_audit(rt: Runtime) -> dict[str, int]:
    """Delete audit log entries older than AUDIT_RETENTION_DAYS."""
    return {"deleted": audit.prune(utc_naive() - timedelta(days=rt.settings.audit_retention_days))}


@actor(queue_name="scheduled", max_retries=0, time_limit=600_000, scheduled_job=True, store_results=True)
def evaluate_alerts(rt: Runtime) -> dict[str, int]:
    """Raise alerts whose rule's condition holds and resolve those whose condition cleared."""
    return alerting.evaluate(rt)


@actor(queue_name="scheduled", max_retries=0, time_limit=120_000, scheduled_job=True, store_results=True)
def warm_cache(rt: Runtime) -> dict[str, Any]:
    """Build the cached views (webhooks list, alerts summary, dashboard) before their TTLs run out."""
    started = time.monotonic()
    warmed = cache_views.warm(rt.redis, rt.settings.cache_ttls)
    return {"warmed_entries": warmed, "duration_ms": round((time.monotonic() - started) * 1000, 1)}


@actor(queue_name="scheduled", max_retries=0, time_limit=60_000, scheduled_job=True, store_results=True)
def flush_api_key_usage(rt: Runtime) -> dict[str, int]:
    """Write API keys' last uses, which requests record in Redis only, into their rows."""
    return api_keys.flush_usage(rt.redis)
