"""Engineering-intelligence actors: `ingest_hook` stores the activity of one received GitHub or GitLab hook
delivery (sent through the outbox by `POST /api/v1/repositories/{id}/hooks/...`); `poll_repositories`
(scheduled) sends `poll_repository` for each repository whose interval has passed (and `POST .../poll` sends
one now); a Redis lock keeps two polls of one repository from overlapping. `roll_up_pull_requests` (scheduled)
measures the cycles of the pull requests that changed, and once a day all of them."""
from __future__ import annotations

import logging

from core.runtime import Runtime
from domain import cache_views
from domain.engineering import poller, receiver, rollup
from domain.polling.due import claim_due, poll_lock
from models.repository import Repository
from workers.jobs import one_at_a_time
from workers.registry import actor

log = logging.getLogger(__name__)


@actor(queue_name="engineering", max_retries=5, time_limit=300_000)
def ingest_hook(rt: Runtime, delivery_id: int) -> None:
    outcome = receiver.process(delivery_id, rt.settings.bot_logins)
    if "commits" in outcome:  # stored something: the organization's cached views are stale
        cache_views.organization_changed(rt.redis, outcome["organization_id"])
    log.info("hook delivery ingested", extra={"delivery_id": delivery_id, "outcome": outcome})


@actor(queue_name="polling", max_retries=0, time_limit=600_000)
def poll_repository(rt: Runtime, repository_id: int) -> None:
    repo = Repository.get_or_none(Repository.id == repository_id)
    if repo is None:
        return
    lock = poll_lock(rt.redis, "poll_repository", repository_id)
    if not lock.acquire(blocking=False):
        log.info("poll skipped: another is in progress", extra={"repository_id": repository_id})
        return
    try:
        log.info("polled", extra={"repository_id": repository_id, "outcome": poller.poll(rt, repo)})
    finally:
        lock.release()


@actor(queue_name="scheduled", max_retries=0, time_limit=60_000, scheduled_job=True, store_results=True)
def poll_repositories(rt: Runtime) -> dict[str, int]:
    """Send a poll for every repository whose interval has passed."""
    due = claim_due(Repository)
    for repository_id in due:
        poll_repository.send(repository_id)
    return {"sent": len(due)}


@actor(queue_name="scheduled", max_retries=0, time_limit=600_000, scheduled_job=True, store_results=True)
def roll_up_pull_requests(rt: Runtime) -> dict[str, object]:
    """Measure the cycles of the pull requests that changed since the last run (one run at a time); what it
    measured drops the organizations' cached figures."""

    def measure() -> dict[str, object]:
        outcome = rollup.roll_up(full=rollup.full_due())
        for organization_id in outcome.pop("organizations"):
            cache_views.organization_changed(rt.redis, organization_id)
        return outcome

    return one_at_a_time(rt, "roll_up_pull_requests", 600, measure)
