"""A pull request's cycle, stage by stage (issue 20; docs/engineering-analytics.md says where each definition
comes from):

- coding: its first commit -> it was opened (0 when it was opened before its first commit: a draft opened first);
- pickup: opened -> the first review or comment by someone who is neither its author nor a bot;
- review: that first review -> merged;
- testing: the CI runs on its head commit, first start to last finish (runs overlap review: not added to the
  cycle);
- deployment: merged -> the finish of the first successful production deployment that contains its merge commit;
- cycle: its start (the first commit, or the opening when the first commit is unknown or later) -> deployed, or
  merged when no deployment contains it (yet).

A stage that has not happened, or cannot be known, is None, never 0: a pull request merged without a review has
no pickup and no review time, and it is left out of those figures rather than counted as instant."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

STAGES = ("coding", "pickup", "review", "testing", "deployment")


@dataclass(frozen=True)
class Reviewed:
    """A review or comment as the cycle needs it."""

    developer_id: int | None
    is_bot: bool
    submitted_at: datetime | None


@dataclass(frozen=True)
class Run:
    """A CI run on a commit: when it started and finished."""

    started_at: datetime | None
    finished_at: datetime | None


@dataclass(frozen=True)
class Deployed:
    """The deployment a merge commit went out with, and why it is that one."""

    pipeline_id: int
    finished_at: datetime
    head_sha: str | None
    head_time: datetime
    landed_time: datetime  # the merge commit's time, compared with head_time


@dataclass(frozen=True)
class Cycle:
    start: datetime | None
    first_review_at: datetime | None
    reviewer_id: int | None  # who picked it up
    review_depth: int  # reviews and comments by others than the author and bots
    size: int | None  # lines added and deleted
    testing_span: tuple[datetime, datetime] | None
    deployed: Deployed | None
    seconds: dict[str, float | None]  # each of STAGES, and "cycle"


def between(earlier: datetime | None, later: datetime | None) -> float | None:
    """Seconds from `earlier` to `later`, 0 when `later` is earlier; None when either is unknown."""
    if earlier is None or later is None:
        return None
    return max((later - earlier).total_seconds(), 0.0)


def measure(pull: Any, reviews: list[Reviewed], runs: list[Run], deployed: Deployed | None) -> Cycle:
    """The cycle of `pull` (a PullRequest row, or anything with its fields) from its reviews, the CI runs on its
    head commit and the deployment found for its merge commit."""
    others = [r for r in reviews if r.developer_id is not None and r.developer_id != pull.developer_id
              and not r.is_bot and r.submitted_at is not None]
    first = min(others, key=lambda r: (r.submitted_at, r.developer_id)) if others else None
    first_at = first.submitted_at if first else None
    opened, merged = pull.opened_at, pull.merged_at
    start = pull.first_commit_at if pull.first_commit_at is not None and opened is not None \
        and pull.first_commit_at <= opened else opened
    started = [r.started_at for r in runs if r.started_at is not None]
    finished = [r.finished_at for r in runs if r.finished_at is not None]
    span = (min(started), max(finished)) if started and finished and max(finished) >= min(started) else None
    if deployed is not None and (merged is None or deployed.finished_at < merged):
        deployed = None  # only a merged pull request goes out, and not before it was merged
    end = deployed.finished_at if deployed else merged
    seconds = {
        "coding": between(pull.first_commit_at, opened) if pull.first_commit_at is not None else None,
        "pickup": between(opened, first_at) if first_at is not None and (merged is None or first_at <= merged)
        else None,
        "review": between(first_at, merged) if first_at is not None and merged is not None and first_at <= merged
        else None,
        "testing": (span[1] - span[0]).total_seconds() if span else None,
        "deployment": between(merged, deployed.finished_at) if deployed else None,
        "cycle": between(start, end) if merged is not None else None,
    }
    size = None if pull.additions is None and pull.deletions is None else (pull.additions or 0) + (pull.deletions or 0)
    return Cycle(start=start, first_review_at=first_at, reviewer_id=first.developer_id if first else None,
                 review_depth=len(others), size=size, testing_span=span, deployed=deployed, seconds=seconds)
