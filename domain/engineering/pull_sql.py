"""Cycle time's and the pull request metrics' figures computed by the database over the rollup's rows (counts,
means and `percentile_cont`), so that an organization's answer moves a few numbers rather than every pull
request's row (`domain.engineering.pull_analytics` assembles them; its Python path over `Fact`s is the brute
force the tests hold these to)."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from peewee import SQL, Case, fn

from domain.engineering.pull_facts import Scope, narrowed
from models.cycles import PullRequestCycle as C
from models.db import raw_tuples, tuples
from models.sql import percentiles_of, percentiles_read, period_index

QUANTILES = (("p50", 0.5), ("p75", 0.75), ("p90", 0.9))
FRACTIONS = tuple(q for _, q in QUANTILES)
MOMENTS = {"merged": C.merged_at, "opened": C.opened_at, "ended": C.ended_at}


def rolled(scope: Scope, moment: str, start: datetime, end: datetime, *columns: Any) -> Any:
    """The rollup's rows of the scope whose `moment` falls in [start, end), selecting `columns`."""
    field = MOMENTS[moment]
    query = narrowed(C.select(*columns).where(field >= start, field < end), scope, C.organization_id,
                     C.repository_id, C.developer_id)
    return query if scope.include_bots else query.where(C.is_bot == False)  # noqa: E712


def spread_columns(column: Any) -> list[Any]:
    """Mean, the QUANTILES (one column: one sort) and how many known: the columns `spread_of` reads back."""
    return [fn.AVG(column).coerce(False), percentiles_of(column, FRACTIONS), fn.COUNT(column)]


def spread_of(values: Iterable[Any], unit: float, empty: float | None) -> dict[str, Any]:
    """A spread (as `pull_analytics.spread`) from the `spread_columns` read back, in `unit`s."""
    mean, quantiles, samples = values
    if not samples:
        return {"mean": empty, **{name: empty for name, _ in QUANTILES}, "samples": 0}
    # float(): PostgreSQL averages an integer column (review depth, size) as a numeric (a Decimal here)
    return {"mean": round(float(mean) / unit, 2),
            **{name: empty if q is None else round(q / unit, 2) for (name, _), q in
               zip(QUANTILES, percentiles_read(quantiles, len(QUANTILES)), strict=True)}, "samples": samples}


def first_row(query: Any) -> tuple[Any, ...]:
    rows = tuples(query)
    return rows[0]


def to_merge_figures(scope: Scope, start: datetime, end: datetime) -> tuple[int, list[Any]]:
    """How many pull requests were merged in the range, and the spread of the seconds from opening to merge."""
    count, *rest = first_row(rolled(scope, "merged", start, end, fn.COUNT(SQL("*")),
                                    *spread_columns(C.to_merge)))
    return count, rest


def merged_figures(scope: Scope, start: datetime, end: datetime, stages: Iterable[str]) -> dict[str, Any]:
    """Over the pull requests merged in the range: how many, how many deployed, the cycle's spread (seconds) and
    each stage's mean (seconds; None when none went through it)."""
    stages = list(stages)
    row = first_row(rolled(scope, "merged", start, end, fn.COUNT(SQL("*")), fn.COUNT(C.deployed_at),
                           *spread_columns(C.cycle), *(fn.AVG(getattr(C, s)) for s in stages)))
    count, deployed, *rest = row
    return {"count": count, "deployed": deployed, "cycle": rest[:3], "stages": dict(zip(stages, rest[3:],
                                                                                        strict=True))}


def mean_cycle(scope: Scope, start: datetime, end: datetime) -> float | None:
    """The mean cycle (seconds) of the pull requests merged in the range (a FILTER over the range before, in the
    statement of `merged_figures`, made it slower than two statements on PostgreSQL)."""
    value = first_row(rolled(scope, "merged", start, end, fn.AVG(C.cycle)))[0]
    return None if value is None else float(value)


def merged_series(scope: Scope, start: datetime, end: datetime, periods: list[datetime],
                  step: timedelta | None) -> dict[int, tuple[int, float | None, float | None]]:
    """Over the pull requests merged in the range, per period (starting at `periods`, each `step` long or months):
    how many, the mean and the p50 cycle (seconds), by the period's index; none there: absent."""
    query = rolled(scope, "merged", start, end, period_index(C.merged_at, periods, step), fn.COUNT(SQL("*")),
                   fn.AVG(C.cycle).coerce(False), percentiles_of(C.cycle, (0.5,))).group_by(SQL("1"))
    return {int(index): (count, mean, percentiles_read(p50, 1)[0]) for index, count, mean, p50 in raw_tuples(query)}


def opened_figures(scope: Scope, start: datetime, end: datetime) -> dict[str, Any]:
    """Over the pull requests opened in the range: how many, and the spreads of pickup, review depth and size."""
    count, *rest = first_row(rolled(scope, "opened", start, end, fn.COUNT(SQL("*")),
                                    *spread_columns(C.pickup), *spread_columns(C.review_depth),
                                    *spread_columns(C.size)))
    return {"count": count, "pickup": rest[0:3], "review_depth": rest[3:6], "size": rest[6:9]}


def ended_counts(scope: Scope, start: datetime, end: datetime) -> tuple[int, int]:
    """(merged, closed) of the pull requests closed, merged or not, in the range."""
    merged, closed = first_row(rolled(scope, "ended", start, end,
                                      fn.SUM(Case(None, [(C.state == "merged", 1)], 0)), fn.COUNT(SQL("*"))))
    return int(merged or 0), int(closed or 0)


def lead_figures(scope: Scope, start: datetime, end: datetime, lookback: timedelta) -> tuple[Any, Any, int]:
    """DORA's lead times by the database: the median and p90 cycle (seconds) of the pull requests merged from
    `lookback` before the range and deployed inside it, and how many."""
    quantiles, count = first_row(
        rolled(scope, "merged", start - lookback, end, percentiles_of(C.cycle, (0.5, 0.9)), fn.COUNT(C.cycle))
        .where(C.deployed_at >= start, C.deployed_at < end, C.cycle.is_null(False)))
    median, p90 = percentiles_read(quantiles, 2)
    return median, p90, count
