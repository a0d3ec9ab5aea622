"""The polling actors: `poll_clusters` / `poll_pipelines` (scheduled) send one message per due cluster or
source, so one slow or broken cluster never holds up the others; `poll_cluster` / `poll_ci_source` poll
one (also sent by `POST .../poll`). A Redis lock keeps two polls of one target from overlapping."""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from core.runtime import Runtime
from domain.polling import clusters, pipelines
from domain.polling.due import claim_due, poll_lock
from models.cluster import Cluster
from models.pipeline import CISource
from workers.registry import Actor, actor

log = logging.getLogger(__name__)


def _locked(rt: Runtime, name: str, target_id: int, work: Callable[[], dict[str, Any]]) -> None:
    """Run one poll unless another poll of the same target holds the lock; its outcome goes to the log
    (and to the cluster's or source's row, which is what the API shows)."""
    lock = poll_lock(rt.redis, name, target_id)
    if not lock.acquire(blocking=False):
        log.info("poll skipped: another is in progress", extra={"poll": name, "target_id": target_id})
        return
    try:
        log.info("polled", extra={"poll": name, "target_id": target_id, "outcome": work()})
    finally:
        lock.release()


@actor(queue_name="polling", max_retries=0, time_limit=600_000)
def poll_cluster(rt: Runtime, cluster_id: int) -> None:
    cluster = Cluster.get_or_none(Cluster.id == cluster_id)
    if cluster is not None:
        _locked(rt, "poll_cluster", cluster_id, lambda: clusters.poll(rt, cluster))


@actor(queue_name="polling", max_retries=0, time_limit=600_000)
def poll_ci_source(rt: Runtime, source_id: int) -> None:
    source = CISource.get_or_none(CISource.id == source_id)
    if source is not None:
        _locked(rt, "poll_ci_source", source_id, lambda: pipelines.poll(rt, source))


def _send_due(model: Any, poll: Actor[[int], None]) -> dict[str, int]:
    due = claim_due(model)
    for target_id in due:
        poll.send(target_id)
    return {"sent": len(due)}


@actor(queue_name="scheduled", max_retries=0, time_limit=60_000, scheduled_job=True, store_results=True)
def poll_clusters(rt: Runtime) -> dict[str, int]:
    """Send a poll for every cluster whose interval has passed."""
    return _send_due(Cluster, poll_cluster)


@actor(queue_name="scheduled", max_retries=0, time_limit=60_000, scheduled_job=True, store_results=True)
def poll_pipelines(rt: Runtime) -> dict[str, int]:
    """Send a poll for every CI source whose interval has passed."""
    return _send_due(CISource, poll_ci_source)
