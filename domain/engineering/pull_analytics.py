"""Pull request analytics over a scope (issue 20): cycle time and its breakdown, the pull request metrics, and one
pull request's timeline, from the facts of `domain.engineering.pull_facts`.

A pull request counts in a range by the moment its figure is about: cycle time and time to merge by when it was
merged; pickup, review depth and size by when it was opened; the merge rate over those closed (merged or not) in
the range. Ranges are half-open (start inclusive, end exclusive). Bots' pull requests are left out unless asked
for, and bots' reviews never pick a pull request up. Every percentile interpolates between the closest ranks
(`core.stats.percentile`, as the metric rollups do)."""
from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from core.stats import percentile
from domain.dora import _next, period_starts, step, trend
from domain.engineering import pull_sql
from domain.engineering.cycle import STAGES
from domain.engineering.pull_facts import Facts, Scope, measured, pulls
from domain.engineering.pull_sql import QUANTILES
from models.activity import PullRequest
from models.cycles import PullRequestCycle as C
from models.db import raw_tuples

HOUR = 3600.0
LEAD_LOOKBACK = timedelta(days=90)


def spread(seconds: Iterable[float | None], unit: float = HOUR, empty: float | None = None) -> dict[str, Any]:
    """Mean and percentiles of the known values (None: not happened, left out), in `unit`s; `empty` for each
    when there are none."""
    ordered = sorted(s / unit for s in seconds if s is not None)
    if not ordered:
        return {"mean": empty, **{name: empty for name, _ in QUANTILES}, "samples": 0}
    return {"mean": round(sum(ordered) / len(ordered), 2),
            **{name: round(percentile(ordered, q), 2) for name, q in QUANTILES}, "samples": len(ordered)}


def cycle_time(scope: Scope, start: datetime, end: datetime, granularity: str,
               facts: Facts | None = None) -> dict[str, Any]:
    """Seed 002's cycle time over the pull requests merged in [start, end): the mean total and each stage's mean
    (hours), the total's percentiles, a series per period, and the trend against the period before. Computed by
    the database over the rollup (`pull_sql`), or, given `facts`, from those (the brute force of the tests)."""
    periods = period_starts(start, end, granularity)
    figures = _cycle_in_sql(scope, start, end, periods, step(granularity)) if facts is None else \
        _cycle_of_facts(facts, scope, start, end, [_next(begin, granularity) for begin in periods])
    total, previous = figures["total"], figures["previous"]
    return {
        "start_date": start, "end_date": end, "granularity": granularity,
        "total_cycle_time_hours": total["mean"],
        "breakdown": {f"{stage}_hours": figures["stages"][stage] for stage in STAGES},
        "percentiles": {name: total[name] for name, _ in QUANTILES},
        "pull_requests": figures["count"], "deployed": figures["deployed"],
        "previous": previous, "trend": trend(total["mean"], previous),
        "series": [{"period_start": begin, "pull_requests": count, "total_cycle_time_hours": mean, "p50": p50}
                   for begin, (count, mean, p50) in zip(periods, figures["series"], strict=True)],
    }


def _cycle_of_facts(facts: Facts, scope: Scope, start: datetime, end: datetime,
                    period_ends: list[datetime]) -> dict[str, Any]:
    current = facts(scope, "merged", start, end)
    empty = None if current else 0.0  # no pull requests: zeros; a stage none went through: null
    points = sorted(((f.merged_at, f.seconds["cycle"]) for f in current if f.merged_at), key=lambda p: p[0])
    times, series, first = [at for at, _ in points], [], 0
    for period_end in period_ends:
        last = bisect_left(times, period_end)
        inside = spread(cycle for _, cycle in points[first:last])
        series.append((last - first, inside["mean"], inside["p50"]))
        first = last
    return {"count": len(current), "deployed": sum(f.deployed_at is not None for f in current),
            "total": spread((f.seconds["cycle"] for f in current), empty=empty),
            "stages": {stage: spread((f.seconds[stage] for f in current), empty=empty)["mean"] for stage in STAGES},
            "previous": spread(f.seconds["cycle"] for f in facts(scope, "merged", start - (end - start), start))[
                "mean"], "series": series}


def _cycle_in_sql(scope: Scope, start: datetime, end: datetime, periods: list[datetime],
                  length: timedelta | None) -> dict[str, Any]:
    merged = pull_sql.merged_figures(scope, start, end, STAGES)
    previous = pull_sql.mean_cycle(scope, start - (end - start), start)
    empty = None if merged["count"] else 0.0
    found = pull_sql.merged_series(scope, start, end, periods, length)
    return {"count": merged["count"], "deployed": merged["deployed"],
            "total": pull_sql.spread_of(merged["cycle"], HOUR, empty),
            "stages": {stage: _in_hours(mean, empty) for stage, mean in merged["stages"].items()},
            "previous": _in_hours(previous, None),
            "series": [(count, _in_hours(mean, None), _in_hours(p50, None))
                       for count, mean, p50 in (found.get(i, (0, None, None)) for i in range(len(periods)))]}


def _in_hours(seconds: float | None, empty: float | None) -> float | None:
    return empty if seconds is None else round(float(seconds) / HOUR, 2)


def change_lead_hours(scope: Scope, start: datetime, end: datetime, facts: Facts | None = None) -> list[float]:
    """DORA's lead time for changes, change by change: for each pull request deployed in [start, end), the hours
    from its start (first commit, or opening) to the deployment that shipped it. Pull requests merged up to
    LEAD_LOOKBACK before the range are looked at: a change merged longer before it shipped is not counted.
    From the rollup's rows (only their cycles read), or from `facts` (as cycle_time)."""
    if facts is None:
        shipped = pull_sql.rolled(scope, "merged", start - LEAD_LOOKBACK, end, C.cycle).where(
            C.deployed_at >= start, C.deployed_at < end, C.cycle.is_null(False))
        return [cycle / HOUR for (cycle,) in raw_tuples(shipped)]
    return [f.seconds["cycle"] / HOUR for f in facts(scope, "merged", start - LEAD_LOOKBACK, end)
            if f.deployed_at is not None and start <= f.deployed_at < end and f.seconds["cycle"] is not None]


def change_lead_spread(scope: Scope, start: datetime, end: datetime) -> dict[str, Any]:
    """`change_lead_hours`' median, p90 and count, computed by the database (what DORA shows of them)."""
    median, p90, samples = pull_sql.lead_figures(scope, start, end, LEAD_LOOKBACK)
    return {"median_hours": _in_hours(median, None), "p90_hours": _in_hours(p90, None), "samples": samples}


def pull_request_metrics(scope: Scope, start: datetime, end: datetime, facts: Facts | None = None) -> dict[str, Any]:
    """Time to merge and pickup (hours), review depth (reviews and comments by others), size (lines), each with
    mean and percentiles; and the merge rate. By the database over the rollup, or from `facts` (as cycle_time)."""
    figures = _metrics_in_sql(scope, start, end) if facts is None else _metrics_of_facts(facts, scope, start, end)
    merged, closed = figures["ended"]
    empty = None if figures["merged"] or figures["opened"] or closed else 0.0  # none: zeros; a figure none has: null
    return {
        "start_date": start, "end_date": end,
        **{name: figures[name](empty) for name in ("time_to_merge_hours", "pickup_hours", "review_depth",
                                                    "size_lines")},
        "merge_rate": {"merged": merged, "closed": closed, "rate": round(merged / closed, 4) if closed else empty},
        "opened": figures["opened"], "merged": figures["merged"],
    }


def _metrics_of_facts(facts: Facts, scope: Scope, start: datetime, end: datetime) -> dict[str, Any]:
    merged, opened = facts(scope, "merged", start, end), facts(scope, "opened", start, end)
    ended = [f.state for f in facts(scope, "ended", start, end)]
    return {"merged": len(merged), "opened": len(opened), "ended": (ended.count("merged"), len(ended)),
            "time_to_merge_hours": lambda empty: spread((f.to_merge for f in merged), empty=empty),
            "pickup_hours": lambda empty: spread((f.seconds["pickup"] for f in opened), empty=empty),
            "review_depth": lambda empty: spread((float(f.review_depth) for f in opened), unit=1.0, empty=empty),
            "size_lines": lambda empty: spread((None if f.size is None else float(f.size) for f in opened),
                                               unit=1.0, empty=empty)}


def _metrics_in_sql(scope: Scope, start: datetime, end: datetime) -> dict[str, Any]:
    merged, to_merge = pull_sql.to_merge_figures(scope, start, end)
    opened = pull_sql.opened_figures(scope, start, end)
    return {"merged": merged, "opened": opened["count"], "ended": pull_sql.ended_counts(scope, start, end),
            "time_to_merge_hours": lambda empty: pull_sql.spread_of(to_merge, HOUR, empty),
            "pickup_hours": lambda empty: pull_sql.spread_of(opened["pickup"], HOUR, empty),
            "review_depth": lambda empty: pull_sql.spread_of(opened["review_depth"], 1.0, empty),
            "size_lines": lambda empty: pull_sql.spread_of(opened["size"], 1.0, empty)}


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
