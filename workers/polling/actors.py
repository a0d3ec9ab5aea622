"""The polling actors: `poll_clusters` / `poll_pipelines` (scheduled) send one message per due cluster or
source, so one slow or broken cluster never holds up the others; `poll_cluster` / `poll_ci_source` poll
one (also sent by `POST .../poll`). A Redis lock keeps two polls of one target from overlapping."""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import dramatiq

from models.cluster import Cluster
from models.pipeline import CISource
from workers import runtime
from workers.polling import clusters, pipelines
from workers.polling.due import claim_due, poll_lock

log = logging.getLogger(__name__)


def _locked(name: str, target_id: int, work: Callable[[], dict[str, Any]]) -> None:
    """Run one poll unless another poll of the same target holds the lock; its outcome goes to the log
    (and to the cluster's or source's row, which is what the API shows)."""
    lock = poll_lock(runtime.current().redis, name, target_id)
    if not lock.acquire(blocking=False):
        log.info("poll skipped: another is in progress", extra={"poll": name, "target_id": target_id})
        return
    try:
        log.info("polled", extra={"poll": name, "target_id": target_id, "outcome": work()})
    finally:
        lock.release()


@dramatiq.actor(queue_name="polling", max_retries=0, time_limit=600_000)
def poll_cluster(cluster_id: int) -> None:
    cluster = Cluster.get_or_none(Cluster.id == cluster_id)
    if cluster is not None:
        _locked("poll_cluster", cluster_id, lambda: clusters.poll(cluster))


@dramatiq.actor(queue_name="polling", max_retries=0, time_limit=600_000)
def poll_ci_source(source_id: int) -> None:
    source = CISource.get_or_none(CISource.id == source_id)
    if source is not None:
        _locked("poll_ci_source", source_id, lambda: pipelines.poll(source))


def _send_due(model: Any, actor: dramatiq.Actor[[int], Any]) -> dict[str, int]:
    due = claim_due(model)
    for target_id in due:
        actor.send(target_id)
    return {"sent": len(due)}


@dramatiq.actor(queue_name="scheduled", max_retries=0, time_limit=60_000, scheduled_job=True, store_results=True)
def poll_clusters() -> dict[str, int]:
    """Send a poll for every cluster whose interval has passed."""
    return _send_due(Cluster, poll_cluster)


@dramatiq.actor(queue_name="scheduled", max_retries=0, time_limit=60_000, scheduled_job=True, store_results=True)
def poll_pipelines() -> dict[str, int]:
    """Send a poll for every CI source whose interval has passed."""
    return _send_due(CISource, poll_ci_source)
