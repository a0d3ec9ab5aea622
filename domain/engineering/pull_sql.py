"""Cycle time's and the pull request metrics' figures computed by the database over the rollup's rows (counts,
means and `percentile_cont`), so that an organization's answer moves a few numbers rather than every pull
request's row (`domain.engineering.pull_analytics` assembles them; its Python path over `Fact`s is the brute
force the tests hold these to)."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from peewee import SQL, Case, Value, fn

from domain.engineering.pull_facts import Scope, narrowed
from models.cycles import PullRequestCycle as C
from models.db import percentile_of, raw_tuples, seconds_between, tuples

QUANTILES = (("p50", 0.5), ("p75", 0.75), ("p90", 0.9))
MOMENTS = {"merged": C.merged_at, "opened": C.opened_at, "ended": C.ended_at}


def rolled(scope: Scope, moment: str, start: datetime, end: datetime, *columns: Any) -> Any:
    """The rollup's rows of the scope whose `moment` falls in [start, end), selecting `columns`."""
    field = MOMENTS[moment]
    query = narrowed(C.select(*columns).where(field >= start, field < end), scope, C.organization_id,
                     C.repository_id, C.developer_id)
    return query if scope.include_bots else query.where(C.is_bot == False)  # noqa: E712


def spread_columns(column: Any) -> list[Any]:
    """Mean, the QUANTILES and how many known: the columns `spread_of` reads back."""
    return [fn.AVG(column).coerce(False), *(percentile_of(column, q) for _, q in QUANTILES), fn.COUNT(column)]


def spread_of(values: Iterable[Any], unit: float, empty: float | None) -> dict[str, Any]:
    """A spread (as `pull_analytics.spread`) from the `spread_columns` read back, in `unit`s."""
    mean, *quantiles, samples = values
    if not samples:
        return {"mean": empty, **{name: empty for name, _ in QUANTILES}, "samples": 0}
    # float(): PostgreSQL averages an integer column (review depth, size) as a numeric (a Decimal here)
    return {"mean": round(float(mean) / unit, 2), **{name: round(float(q) / unit, 2) for (name, _), q in
                                                     zip(QUANTILES, quantiles, strict=True)}, "samples": samples}


def first_row(query: Any) -> tuple[Any, ...]:
    rows = tuples(query)
    return rows[0]


def to_merge_figures(scope: Scope, start: datetime, end: datetime) -> tuple[int, list[Any]]:
    """How many pull requests were merged in the range, and the spread of the seconds from opening to merge."""
    count, *rest = first_row(rolled(scope, "merged", start, end, fn.COUNT(C.pull_request),
                                    *spread_columns(seconds_between(C.opened_at, C.merged_at))))
    return count, rest


def merged_figures(scope: Scope, start: datetime, end: datetime, stages: Iterable[str]) -> dict[str, Any]:
    """Over the pull requests merged in the range: how many, how many deployed, the cycle's spread (seconds) and
    each stage's mean (seconds; None when none went through it)."""
    stages = list(stages)
    row = first_row(rolled(scope, "merged", start, end, fn.COUNT(C.pull_request), fn.COUNT(C.deployed_at),
                           *spread_columns(C.cycle), *(fn.AVG(getattr(C, s)) for s in stages)))
    count, deployed, *rest = row
    return {"count": count, "deployed": deployed, "cycle": rest[:5], "stages": dict(zip(stages, rest[5:],
                                                                                        strict=True))}


def mean_cycle(scope: Scope, start: datetime, end: datetime) -> float | None:
    value = first_row(rolled(scope, "merged", start, end, fn.AVG(C.cycle)))[0]
    return None if value is None else float(value)


def merged_series(scope: Scope, start: datetime, end: datetime,
                  boundaries: list[datetime]) -> dict[int, tuple[int, float | None, float | None]]:
    """Over the pull requests merged in the range, per period (the periods' starts after the first are
    `boundaries`): how many, the mean and the p50 cycle (seconds), by the period's index; none there: absent."""
    period = Case(None, [(C.merged_at < boundary, index) for index, boundary in enumerate(boundaries)],
                  len(boundaries)) if boundaries else Value(0)  # one period: a CASE needs a WHEN
    query = rolled(scope, "merged", start, end, period, fn.COUNT(C.pull_request), fn.AVG(C.cycle).coerce(False),
                   percentile_of(C.cycle, 0.5)).group_by(SQL("1"))  # by position: the CASE's parameters differ
    return {index: (count, mean, p50) for index, count, mean, p50 in raw_tuples(query)}


def opened_figures(scope: Scope, start: datetime, end: datetime) -> dict[str, Any]:
    """Over the pull requests opened in the range: how many, and the spreads of pickup, review depth and size."""
    count, *rest = first_row(rolled(scope, "opened", start, end, fn.COUNT(C.pull_request),
                                    *spread_columns(C.pickup), *spread_columns(C.review_depth),
                                    *spread_columns(C.size)))
    return {"count": count, "pickup": rest[0:5], "review_depth": rest[5:10], "size": rest[10:15]}


def ended_counts(scope: Scope, start: datetime, end: datetime) -> tuple[int, int]:
    """(merged, closed) of the pull requests closed, merged or not, in the range."""
    merged, closed = first_row(rolled(scope, "ended", start, end,
                                      fn.SUM(Case(None, [(C.state == "merged", 1)], 0)), fn.COUNT(C.pull_request)))
    return int(merged or 0), int(closed or 0)


def lead_figures(scope: Scope, start: datetime, end: datetime, lookback: timedelta) -> tuple[Any, Any, int]:
    """DORA's lead times by the database: the median and p90 cycle (seconds) of the pull requests merged from
    `lookback` before the range and deployed inside it, and how many."""
    median, p90, count = first_row(
        rolled(scope, "merged", start - lookback, end, percentile_of(C.cycle, 0.5), percentile_of(C.cycle, 0.9),
               fn.COUNT(C.cycle)).where(C.deployed_at >= start, C.deployed_at < end, C.cycle.is_null(False)))
    return median, p90, count
