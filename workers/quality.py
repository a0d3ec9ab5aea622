"""Code-quality actors: `analyse_repositories` (scheduled, daily by default) sends `analyse_repository` for every
registered repository, and `POST /api/v1/repositories/{id}/quality` sends one now; a Redis lock keeps two
analyses of one repository from overlapping (the work: `domain.quality.snapshots`)."""
from __future__ import annotations

import logging
from typing import Any

from dramatiq.middleware import Shutdown

from core.runtime import Runtime
from domain import cache_views
from domain.analysis.runner import ANALYSIS_TIMEOUT
from domain.builds import sandbox
from domain.builds.checkout import CLONE_TIMEOUT
from domain.quality import snapshots
from models.repository import Repository
from workers.jobs import one_at_a_time
from workers.registry import actor

log = logging.getLogger(__name__)
ANALYSE_SECONDS = CLONE_TIMEOUT + ANALYSIS_TIMEOUT + 60


@actor(queue_name="analyses", max_retries=0, time_limit=ANALYSE_SECONDS * 1000, notify_shutdown=True)
def analyse_repository(rt: Runtime, repository_id: int) -> None:
    """Snapshot one repository's code quality; one at a time per repository, a deleted one is skipped."""
    repo = Repository.get_or_none(Repository.id == repository_id)
    if repo is None:
        return
    lock = rt.redis.lock(f"conveyor:lock:analyse_repository:{repository_id}", timeout=ANALYSE_SECONDS)
    if not lock.acquire(blocking=False):
        log.info("quality analysis skipped: another is in progress", extra={"repository_id": repository_id})
        return
    try:
        snapshot = snapshots.take(rt.settings, repo, sandbox.current(rt.settings)[1])
    except Shutdown:  # the worker is stopping: the running analyser was killed on the way out
        snapshot = snapshots.store_failed(repo, "the worker shut down while the analysis ran")
    except Exception as exc:  # the repository's history should say it failed, whatever went wrong
        snapshot = snapshots.store_failed(repo, f"internal error: {type(exc).__name__}: {exc}")
    finally:
        lock.release()
    cache_views.organization_changed(rt.redis, repo.organization_id)
    log.info("quality analysed", extra={"repository_id": repository_id, "status": snapshot.status})


@actor(queue_name="scheduled", max_retries=0, time_limit=60_000, scheduled_job=True, store_results=True)
def analyse_repositories(rt: Runtime) -> dict[str, Any]:
    """Send a code-quality analysis for every repository (one run at a time)."""

    def send_all() -> dict[str, Any]:
        ids = [row.id for row in Repository.select(Repository.id).order_by(Repository.id)]
        for repository_id in ids:
            analyse_repository.send(repository_id)
        return {"sent": len(ids)}

    return one_at_a_time(rt, "analyse_repositories", 60, send_all)
