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

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from peewee import SQL, fn

from core.stats import percentile
from models.db import raw_tuples
from models.pipeline import Pipeline
from models.sql import percentiles_of, percentiles_read, period_index, seconds_between, seconds_from

DEPLOY_OUTCOMES = ("success", "failed")  # the deploys that count; cancelled and unfinished runs do not
PERIODS = {"daily": ("per_day", 1), "weekly": ("per_week", 7), "monthly": ("per_month", None)}
STABLE_WITHIN = 0.05  # a relative change this small is "stable"


def outcomes(query: Any, start: datetime, end: datetime, periods: list[datetime],
             granularity: str) -> dict[tuple[int, str], int]:
    """How many successful and failed deploy runs of `query`'s pipelines finished in each period of the range (by
    the period's index and the status), counted by the database."""
    period = period_index(Pipeline.finished_at, periods, step(granularity))
    rows = query.select(period, Pipeline.status, fn.COUNT(SQL("*"))).where(
        Pipeline.is_deploy == True, Pipeline.status.in_(DEPLOY_OUTCOMES),  # noqa: E712
        Pipeline.finished_at >= start, Pipeline.finished_at < end).group_by(SQL("1"), Pipeline.status)
    return {(int(index), status): count for index, status, count in raw_tuples(rows)}


def commit_leads(query: Any, start: datetime, end: datetime) -> dict[str, Any]:
    """Lead time from each successful deploy's head commit to its finish (median, p90, how many), in hours."""
    seconds = seconds_from(Pipeline.commit_timestamp, Pipeline.finished_at)
    quantiles, samples = raw_tuples(query.select(percentiles_of(seconds, (0.5, 0.9)), fn.COUNT(seconds)).where(
        Pipeline.is_deploy == True, Pipeline.status == "success",  # noqa: E712
        Pipeline.finished_at >= start, Pipeline.finished_at < end))[0]
    median, p90 = percentiles_read(quantiles, 2)
    return {"median_hours": _in_hours(median), "p90_hours": _in_hours(p90), "samples": samples}


def _in_hours(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 3600, 2)


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


def step(granularity: str) -> timedelta | None:
    """How long each period of the granularity is (None: months, which differ)."""
    days = PERIODS[granularity][1]
    return None if days is None else timedelta(days=days)


def _next(day: datetime, granularity: str) -> datetime:
    if granularity == "monthly":
        return day.replace(year=day.year + day.month // 12, month=day.month % 12 + 1)
    return day + timedelta(days=PERIODS[granularity][1] or 1)


def hours_spread(values: Iterable[float]) -> dict[str, Any]:
    ordered = sorted(values)
    if not ordered:
        return {"median_hours": None, "p90_hours": None, "samples": 0}
    return {"median_hours": round(percentile(ordered, 0.5), 2), "p90_hours": round(percentile(ordered, 0.9), 2),
            "samples": len(ordered)}


def restore_hours(query: Any, start: datetime, end: datetime) -> tuple[list[float], int]:
    """Hours from each failing streak's first failed deploy in [start, end) to the next successful deploy of its
    source (at any time after), and how many such streaks are not restored yet. For each failed deploy in the range
    the database looks up the deploy of its source just before it and the first success after it (an index lookup
    each: reading each failing source's whole history was most of an organization's answer)."""
    before_run, next_run = Pipeline.alias("before_run"), Pipeline.alias("next_run")
    before = before_run.select(before_run.status).where(
        _same_source(before_run), before_run.status.in_(DEPLOY_OUTCOMES),
        before_run.finished_at < Pipeline.finished_at).order_by(before_run.finished_at.desc()).limit(1)
    fixed = next_run.select(seconds_between(Pipeline.finished_at, next_run.finished_at)).where(
        _same_source(next_run), next_run.status == "success", next_run.finished_at > Pipeline.finished_at,
    ).order_by(next_run.finished_at).limit(1)
    streaks = query.select(fixed).where(
        Pipeline.is_deploy == True, Pipeline.status == "failed",  # noqa: E712
        Pipeline.finished_at >= start, Pipeline.finished_at < end, fn.COALESCE(before, "") != "failed")
    seconds = [value for (value,) in raw_tuples(streaks)]
    return [float(value) / 3600 for value in seconds if value is not None], seconds.count(None)


def _same_source(run: Any) -> Any:
    """`run` (an alias of Pipeline) is a deploy of the same source (so of the same repository: a source's is fixed)
    as the deploy being looked at."""
    return (run.source == Pipeline.source) & (run.is_deploy == True)  # noqa: E712


# Each change's lead time in hours, or their spread already computed (median_hours, p90_hours, samples)
LeadTimes = Callable[[datetime, datetime], list[float] | dict[str, Any]]


def measure(query: Any, start: datetime, end: datetime, granularity: str,
            lead_times: LeadTimes | None = None) -> dict[str, Any]:
    """The four metrics over [start, end). Lead time is each deploy's, from its head commit, unless `lead_times`
    gives the hours of each change deployed in the range (from its first commit: `domain.engineering`)."""
    periods = period_starts(start, end, granularity)
    counted = outcomes(query, start, end, periods, granularity)
    good, failed = (sum(n for (_, status), n in counted.items() if status == wanted) for wanted in DEPLOY_OUTCOMES)
    restored, unrestored = restore_hours(query, start, end)
    leads = lead_times(start, end) if lead_times is not None else commit_leads(query, start, end)
    return {
        "deployment_frequency": {"value": round(good / max(len(periods), 1), 2),
                                 "unit": PERIODS[granularity][0], "deployments": good},
        "lead_time_for_changes": leads if isinstance(leads, dict) else hours_spread(leads),
        "change_failure_rate": {"percentage": round(100 * failed / (good + failed), 1) if good + failed else None,
                                "failed": failed, "total": good + failed},
        "time_to_restore": {**hours_spread(restored), "unrestored": unrestored},
        "series": [{"period_start": begin, "deployments": counted.get((index, "success"), 0),
                    "failed_deployments": counted.get((index, "failed"), 0)} for index, begin in enumerate(periods)],
    }


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
