"""Pull request analytics over a scope (issue 20): cycle time and its breakdown, the pull request metrics, and one
pull request's timeline, from the stored activity (each pull request measured by `domain.engineering.cycle`).

A pull request counts in a range by the moment its figure is about: cycle time and time to merge by when it was
merged; pickup, review depth and size by when it was opened; the merge rate over those closed (merged or not) in
the range. Ranges are half-open (start inclusive, end exclusive). Bots' pull requests are left out unless asked
for, and bots' reviews never pick a pull request up. Every percentile interpolates between the closest ranks
(`domain.rollups.percentile`, as the metric rollups do)."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from peewee import JOIN, fn

from domain.dora import _next, period_starts, trend
from domain.engineering.cycle import STAGES, Cycle, Reviewed, measure
from domain.engineering.links import ci_runs, deployed_with, deployments, key_of
from domain.rollups import percentile
from models.activity import Commit, PullRequest, Review
from models.db import tuples
from models.developer import Developer, TeamMember
from models.repository import Repository

QUANTILES = (("p50", 0.5), ("p75", 0.75), ("p90", 0.9))
HOUR = 3600.0
LEAD_LOOKBACK = timedelta(days=90)


@dataclass(frozen=True)
class Scope:
    """Whose pull requests: `organizations` is a subquery of the organization ids the user sees (None: all);
    the others narrow it."""

    organizations: Any = None
    organization_id: int | None = None
    repositories: Any = None  # a subquery of repository ids
    team_id: int | None = None
    repository_id: int | None = None
    developer_id: int | None = None
    include_bots: bool = False


def pulls(scope: Scope) -> Any:
    """The scope's pull requests, with their repository's organization and name."""
    query = (PullRequest.select(PullRequest, Repository.organization.alias("organization_id"),
                                Repository.full_name.alias("full_name"))
             .join(Repository, on=(PullRequest.repository == Repository.id)))
    if scope.organizations is not None:
        query = query.where(Repository.organization << scope.organizations)
    if scope.organization_id is not None:
        query = query.where(Repository.organization == scope.organization_id)
    if scope.repository_id is not None:
        query = query.where(PullRequest.repository == scope.repository_id)
    if scope.repositories is not None:
        query = query.where(PullRequest.repository << scope.repositories)
    if scope.developer_id is not None:
        query = query.where(PullRequest.developer == scope.developer_id)
    if scope.team_id is not None:  # the team's members' pull requests, in whichever repository
        query = query.where(PullRequest.developer << TeamMember.select(TeamMember.developer).where(
            TeamMember.team == scope.team_id))
    if not scope.include_bots:
        query = (query.join_from(PullRequest, Developer, JOIN.LEFT_OUTER, on=(PullRequest.developer == Developer.id))
                 .where(Developer.is_bot.is_null() | (Developer.is_bot == False)))  # noqa: E712
    return query


def measured(query: Any) -> list[tuple[Any, Cycle]]:
    """Each pull request of `query` (from `pulls`) with its cycle: its reviews, the CI runs on its head commit and
    the deployment that contains its merge commit, each read for all of them at once."""
    rows = list(query.objects())
    if not rows:
        return []
    ids = query.select(PullRequest.id)
    reviews: dict[int, list[Reviewed]] = defaultdict(list)
    found = tuples(
        Review.select(Review.pull_request, Review.developer, Developer.is_bot, Review.submitted_at, Review.state)
        .join(Developer, JOIN.LEFT_OUTER, on=(Review.developer == Developer.id))
        .where(Review.pull_request << ids))
    for pull_id, developer, is_bot, submitted, state in found:
        reviews[pull_id].append(Reviewed(developer, bool(is_bot), submitted, state))
    keys = {key_of(r.organization_id, r.full_name) for r in rows}
    repository_ids = {key_of(r.organization_id, r.full_name): r.repository_id for r in rows}
    runs = ci_runs(keys, query.select(PullRequest.head_sha).where(PullRequest.head_sha.is_null(False)))
    shipped = deployments(keys, repository_ids)
    landed: dict[int, datetime] = dict(tuples(  # the merge commits' times
        Commit.select(PullRequest.id, fn.COALESCE(Commit.committed_at, Commit.authored_at))
        .join(PullRequest, on=((Commit.repository == PullRequest.repository)
                               & (Commit.sha == PullRequest.merge_commit_sha)))
        .where(PullRequest.id << ids)))
    measured_rows = []
    for row in rows:
        key = key_of(row.organization_id, row.full_name)
        deployed = deployed_with(row, landed.get(row.id) or row.merged_at, shipped.get(key, []))
        measured_rows.append((row, measure(row, reviews[row.id], runs.get((key, row.head_sha), []), deployed)))
    return measured_rows


def spread(seconds: Iterable[float | None], unit: float = HOUR, empty: float | None = None) -> dict[str, Any]:
    """Mean and percentiles of the known values (None: not happened, left out), in `unit`s; `empty` for each
    when there are none."""
    ordered = sorted(s / unit for s in seconds if s is not None)
    if not ordered:
        return {"mean": empty, **{name: empty for name, _ in QUANTILES}, "samples": 0}
    return {"mean": round(sum(ordered) / len(ordered), 2),
            **{name: round(percentile(ordered, q), 2) for name, q in QUANTILES}, "samples": len(ordered)}


def cycle_time(scope: Scope, start: datetime, end: datetime, granularity: str) -> dict[str, Any]:
    """Seed 002's cycle time over the pull requests merged in [start, end): the mean total and each stage's mean
    (hours), the total's percentiles, a series per period, and the trend against the period before."""
    current = _merged(scope, start, end)
    before = _merged(scope, start - (end - start), start)
    empty = None if current else 0.0  # no pull requests: zeros; a stage none went through: null
    total = spread((c.seconds["cycle"] for _, c in current), empty=empty)
    previous = spread(c.seconds["cycle"] for _, c in before)["mean"]
    series = []
    for begin in period_starts(start, end, granularity):
        finish = _next(begin, granularity)
        inside = [c.seconds["cycle"] for p, c in current if begin <= p.merged_at < finish]
        figures = spread(inside)
        series.append({"period_start": begin, "pull_requests": len(inside),
                       "total_cycle_time_hours": figures["mean"], "p50": figures["p50"]})
    return {
        "start_date": start, "end_date": end, "granularity": granularity,
        "total_cycle_time_hours": total["mean"],
        "breakdown": {f"{stage}_hours": spread((c.seconds[stage] for _, c in current), empty=empty)["mean"]
                      for stage in STAGES},
        "percentiles": {name: total[name] for name, _ in QUANTILES},
        "pull_requests": len(current), "deployed": sum(c.deployed is not None for _, c in current),
        "previous": previous, "trend": trend(total["mean"], previous), "series": series,
    }


def _merged(scope: Scope, start: datetime, end: datetime) -> list[tuple[Any, Cycle]]:
    return measured(pulls(scope).where(PullRequest.merged_at >= start, PullRequest.merged_at < end))


def change_lead_hours(scope: Scope, start: datetime, end: datetime) -> list[float]:
    """DORA's lead time for changes, change by change: for each pull request deployed in [start, end), the hours
    from its start (first commit, or opening) to the deployment that shipped it. Pull requests merged up to
    LEAD_LOOKBACK before the range are looked at: a change merged longer before it shipped is not counted."""
    rows = measured(pulls(scope).where(PullRequest.merged_at >= start - LEAD_LOOKBACK, PullRequest.merged_at < end))
    return [c.seconds["cycle"] / HOUR for _, c in rows
            if c.deployed is not None and start <= c.deployed.finished_at < end and c.seconds["cycle"] is not None]


def pull_request_metrics(scope: Scope, start: datetime, end: datetime) -> dict[str, Any]:
    """Time to merge and pickup (hours), review depth (reviews and comments by others), size (lines), each with
    mean and percentiles; and the merge rate."""
    merged = _merged(scope, start, end)
    opened = measured(pulls(scope).where(PullRequest.opened_at >= start, PullRequest.opened_at < end))
    closed = (pulls(scope).where(PullRequest.state != "open")
              .where(fn.COALESCE(PullRequest.merged_at, PullRequest.closed_at) >= start,
                     fn.COALESCE(PullRequest.merged_at, PullRequest.closed_at) < end))
    ended = [p.state for p in closed.objects()]
    empty = None if merged or opened or ended else 0.0  # no pull requests: zeros; a figure none has: null
    return {
        "start_date": start, "end_date": end,
        "time_to_merge_hours": spread((_between(p.opened_at, p.merged_at) for p, _ in merged), empty=empty),
        "pickup_hours": spread((c.seconds["pickup"] for _, c in opened), empty=empty),
        "review_depth": spread((float(c.review_depth) for _, c in opened), unit=1.0, empty=empty),
        "size_lines": spread((None if c.size is None else float(c.size) for _, c in opened), unit=1.0, empty=empty),
        "merge_rate": {"merged": ended.count("merged"), "closed": len(ended),
                       "rate": round(ended.count("merged") / len(ended), 4) if ended else empty},
        "opened": len(opened), "merged": len(merged),
    }


def _between(earlier: datetime | None, later: datetime | None) -> float | None:
    return None if earlier is None or later is None else max((later - earlier).total_seconds(), 0.0)


def timeline(pull_id: int) -> dict[str, Any]:
    """One pull request's stages, the events that bound them, and the deployment it was linked to (with why)."""
    rows = measured(pulls(Scope(include_bots=True)).where(PullRequest.id == pull_id))
    pull, cycle = rows[0]
    events = [{"at": at, "event": name, **extra} for at, name, extra in (
        (pull.first_commit_at, "first_commit", {}), (pull.opened_at, "opened", {}),
        (cycle.first_review_at, "first_review", {"developer_id": cycle.reviewer_id}),
        (cycle.testing_span[0] if cycle.testing_span else None, "ci_started", {"sha": pull.head_sha}),
        (cycle.testing_span[1] if cycle.testing_span else None, "ci_finished", {"sha": pull.head_sha}),
        (pull.merged_at, "merged", {"sha": pull.merge_commit_sha}), (pull.closed_at, "closed", {}),
        (cycle.deployed.finished_at if cycle.deployed else None, "deployed",
         {"pipeline_id": cycle.deployed.pipeline_id if cycle.deployed else None}),
    ) if at is not None and not (name == "closed" and pull.merged_at is not None)]
    events.sort(key=lambda e: (e["at"], _ORDER.index(e["event"])))
    deployed = cycle.deployed
    return {
        "pull_request_id": pull.id, "repository_id": pull.repository_id, "number": pull.number,
        "title": pull.title, "state": pull.state, "developer_id": pull.developer_id,
        "stages": {stage: _hours(cycle.seconds[stage]) for stage in (*STAGES, "cycle")},
        "review_depth": cycle.review_depth, "size_lines": cycle.size, "events": events,
        "deployment": None if deployed is None else {
            "pipeline_id": deployed.pipeline_id, "finished_at": deployed.finished_at, "head_sha": deployed.head_sha,
            "linked_by": ("the deployment's head commit is the merge commit" if deployed.head_sha
                          and deployed.head_sha == pull.merge_commit_sha else
                          "the first successful deployment after the merge whose head commit "
                          f"({deployed.head_time.isoformat()}Z) is no older than the merge commit "
                          f"({deployed.landed_time.isoformat()}Z)")},
    }


_ORDER = ("first_commit", "opened", "first_review", "ci_started", "ci_finished", "merged", "closed", "deployed")


def _hours(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / HOUR, 2)
