"""The four DORA metrics from the pipelines of deploy workflows (Google's Four Keys definitions where they
apply; the deploy runs stand in for Four Keys' deployments and, for restores, its incidents):

- deployment frequency: successful deploys per period (day, week or month) in the range;
- lead time for changes: from the deployed head commit's timestamp to the deploy's finish (median, p90); over an
  organization's repositories, from each change's (pull request's) first commit to the deploy that shipped it;
- change failure rate: failed deploys over all finished (successful or failed) deploys, as a percentage;
- time to restore: from the first failed deploy of a failing streak to the next successful deploy of the
  same source (median, p90); a streak not yet restored is counted in `unrestored`.
A deploy counts in the range its `finished_at` falls in (half-open: start inclusive, end exclusive).
Each metric's trend compares it with the same metric over the period of equal length just before.
"""
from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from core.stats import percentile
from models.db import tuples
from models.pipeline import Pipeline

PERIODS = {"daily": ("per_day", 1), "weekly": ("per_week", 7), "monthly": ("per_month", None)}
STABLE_WITHIN = 0.05  # a relative change this small is "stable"


@dataclass(frozen=True)
class Deploy:
    source_id: int
    status: str
    finished_at: datetime
    commit_timestamp: datetime | None


def deploys(query: Any, start: datetime, end: datetime) -> list[Deploy]:
    """Finished (successful or failed) deploy runs of `query`'s pipelines, by finish time."""
    rows = query.select(Pipeline.source, Pipeline.status, Pipeline.finished_at, Pipeline.commit_timestamp).where(
        Pipeline.is_deploy == True, Pipeline.status.in_(("success", "failed")),  # noqa: E712
        Pipeline.finished_at >= start, Pipeline.finished_at < end).order_by(Pipeline.finished_at)
    return [Deploy(*row) for row in tuples(rows)]  # the columns only: a model a run was most of the time


def period_starts(start: datetime, end: datetime, granularity: str) -> list[datetime]:
    """The calendar periods (days, ISO weeks from Monday, months) that the range touches."""
    day = start.replace(hour=0, minute=0, second=0, microsecond=0)
    if granularity == "weekly":
        day -= timedelta(days=day.weekday())
    elif granularity == "monthly":
        day = day.replace(day=1)
    starts = []
    while day < end:
        starts.append(day)
        day = _next(day, granularity)
    return starts


def _next(day: datetime, granularity: str) -> datetime:
    if granularity == "monthly":
        return day.replace(year=day.year + day.month // 12, month=day.month % 12 + 1)
    return day + timedelta(days=PERIODS[granularity][1] or 1)


def _hours(delta: timedelta) -> float:
    return delta.total_seconds() / 3600


def hours_spread(values: Iterable[float]) -> dict[str, Any]:
    ordered = sorted(values)
    if not ordered:
        return {"median_hours": None, "p90_hours": None, "samples": 0}
    return {"median_hours": round(percentile(ordered, 0.5), 2), "p90_hours": round(percentile(ordered, 0.9), 2),
            "samples": len(ordered)}


def restore_hours(query: Any, runs: list[Deploy]) -> tuple[list[float], int]:
    """Hours from each failing streak's first failed deploy (in `runs`) to the next successful deploy."""
    failed = [run for run in runs if run.status == "failed"]
    history = _deploy_history(query, {run.source_id for run in failed}) if failed else {}
    hours, unrestored = [], 0
    for run in failed:
        times, statuses = history[run.source_id]
        if statuses[:bisect_left(times, run.finished_at)][-1:] == ["failed"]:
            continue  # not the first failure of its streak
        after = bisect_right(times, run.finished_at)
        fixed = next((times[i] for i in range(after, len(times)) if statuses[i] == "success"), None)
        if fixed is None:
            unrestored += 1
        else:
            hours.append(_hours(fixed - run.finished_at))
    return hours, unrestored


def _deploy_history(query: Any, sources: set[int]) -> dict[int, tuple[list[datetime], list[str]]]:
    """Every finished deploy run of these sources (in `query`'s scope), by finish: their times and statuses, read
    at once (a query per failed deploy was most of an organization's answer)."""
    rows = query.select(Pipeline.source, Pipeline.finished_at, Pipeline.status).where(
        Pipeline.source << sorted(sources), Pipeline.is_deploy == True,  # noqa: E712
        Pipeline.status.in_(("success", "failed")), Pipeline.finished_at.is_null(False)).order_by(Pipeline.finished_at)
    history: dict[int, tuple[list[datetime], list[str]]] = {source: ([], []) for source in sources}
    for source, finished_at, status in tuples(rows):
        history[source][0].append(finished_at)
        history[source][1].append(status)
    return history


# Each change's lead time in hours, or their spread already computed (median_hours, p90_hours, samples)
LeadTimes = Callable[[datetime, datetime], list[float] | dict[str, Any]]


def measure(query: Any, start: datetime, end: datetime, granularity: str,
            lead_times: LeadTimes | None = None) -> dict[str, Any]:
    """The four metrics over [start, end). Lead time is each deploy's, from its head commit, unless `lead_times`
    gives the hours of each change deployed in the range (from its first commit: `domain.engineering`)."""
    runs = deploys(query, start, end)
    good = [run for run in runs if run.status == "success"]
    periods = period_starts(start, end, granularity)
    restored, unrestored = restore_hours(query, runs)
    leads = lead_times(start, end) if lead_times is not None else [
        _hours(run.finished_at - run.commit_timestamp) for run in good if run.commit_timestamp is not None]
    lead = leads if isinstance(leads, dict) else hours_spread(leads)
    return {
        "deployment_frequency": {"value": round(len(good) / max(len(periods), 1), 2),
                                 "unit": PERIODS[granularity][0], "deployments": len(good)},
        "lead_time_for_changes": lead,
        "change_failure_rate": {"percentage": round(100 * (len(runs) - len(good)) / len(runs), 1) if runs else None,
                                "failed": len(runs) - len(good), "total": len(runs)},
        "time_to_restore": {**hours_spread(restored), "unrestored": unrestored},
        "series": _series(runs, periods, granularity),
    }


def _series(runs: list[Deploy], periods: list[datetime], granularity: str) -> list[dict[str, Any]]:
    series = []
    for begin in periods:
        end = _next(begin, granularity)
        inside = [run for run in runs if begin <= run.finished_at < end]
        series.append({"period_start": begin, "deployments": sum(run.status == "success" for run in inside),
                       "failed_deployments": sum(run.status == "failed" for run in inside)})
    return series


KEYS = {"deployment_frequency": "value", "lead_time_for_changes": "median_hours",
        "change_failure_rate": "percentage", "time_to_restore": "median_hours"}


def trend(now: float | None, before: float | None) -> str:
    """increasing, decreasing or stable against the previous period; no_data when either side has none."""
    if now is None or before is None:
        return "no_data"
    if before == 0:
        return "stable" if now == 0 else "increasing"
    change = (now - before) / abs(before)
    return "stable" if abs(change) <= STABLE_WITHIN else ("increasing" if change > 0 else "decreasing")


def dora(query: Any, start: datetime, end: datetime, granularity: str,
         lead_times: LeadTimes | None = None) -> dict[str, Any]:
    """The four metrics over [start, end), each with `previous` and `trend` against the period before."""
    current = measure(query, start, end, granularity, lead_times)
    previous = measure(query, start - (end - start), start, granularity, lead_times)
    for name, key in KEYS.items():
        current[name]["previous"] = previous[name][key]
        current[name]["trend"] = trend(current[name][key], previous[name][key])
    return {"start_date": start, "end_date": end, "granularity": granularity, **current}
