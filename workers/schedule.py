"""The periodic jobs: which actor runs how often. The scheduler fires them; operators may run them now.

Each job only `.send()`s its actor; the work happens in a worker. Later capabilities add rows here.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from workers import engineering, jobs, polling, quality
from workers.registry import Actor


class Job(NamedTuple):
    """A job is its actor, by the actor's name: the jobs list records every send to it under that name."""

    actor: Actor[[], Any]
    interval_seconds: int | None  # None: not on a timer
    description: str
    after: Actor[[], Any] | None = None  # runs when this job has succeeded

    @property
    def name(self) -> str:
        return self.actor.actor_name

    @property
    def actor_name(self) -> str:
        return self.actor.actor_name


JOBS: tuple[Job, ...] = (
    Job(jobs.sweep_outbox, 15,
        "Re-send outbox messages and webhook deliveries that are due and have no message in flight."),
    Job(jobs.reap_tasks, 30,
        "Fail running builds and analyses whose worker stopped heart-beating."),
    Job(jobs.aggregate_metrics, 60,
        "Roll new and late metric points up into 1-minute and 1-hour buckets."),
    Job(jobs.evaluate_alerts, None,
        "Raise and resolve alerts from the alert rules, right after each aggregation.", after=jobs.aggregate_metrics),
    Job(jobs.prune_metrics, 3600,
        "Delete raw metric points and rollups past their retention."),
    Job(jobs.prune_audit, 3600,
        "Delete audit log entries past their retention (AUDIT_RETENTION_DAYS)."),
    Job(jobs.warm_cache, 50,
        "Rebuild the cached views before their TTLs (1 to 5 min) run out."),
    Job(jobs.flush_api_key_usage, 60,
        "Write API keys' last uses (recorded in Redis by each request) into the database."),
    Job(polling.poll_clusters, 10,
        "Poll each Kubernetes cluster whose own poll interval has passed (one message per cluster)."),
    Job(polling.poll_pipelines, 15,
        "Poll each CI source whose own poll interval has passed (one message per source)."),
    Job(engineering.poll_repositories, 30,
        "Poll each repository whose own poll interval has passed, for commits, pull requests and reviews."),
    Job(engineering.roll_up_pull_requests, 60,
        "Measure the cycles of the pull requests that changed (and once a day all of them) for the analytics."),
    Job(quality.analyse_repositories, 86400,
        "Analyse each repository's default branch (ruff, radon, bandit, mypy, coverage) for the code-quality "
        "figures (one message per repository)."),
)


def find_job(name: str) -> Job | None:
    return next((job for job in JOBS if job.name == name), None)


def timed(intervals: Mapping[str, int] | None = None) -> tuple[Job, ...]:
    """The jobs the scheduler fires on their interval, with `intervals` (SCHEDULER_INTERVALS) replacing theirs;
    a name there that is no timed job is a ValueError."""
    jobs = tuple(job for job in JOBS if job.interval_seconds)
    unknown = set(intervals or {}) - {job.name for job in jobs}
    if unknown:
        raise ValueError(f"SCHEDULER_INTERVALS names no timed job: {', '.join(sorted(unknown))}")
    return tuple(job._replace(interval_seconds=(intervals or {}).get(job.name, job.interval_seconds)) for job in jobs)


def followers(name: str) -> tuple[Job, ...]:
    """Jobs that run when `name` has succeeded."""
    return tuple(job for job in JOBS if job.after is not None and job.after.actor_name == name)
