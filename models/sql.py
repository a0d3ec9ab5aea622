"""SQL expressions that read the same on SQLite and PostgreSQL, for the figures the database computes: percentiles
(one sort for several), the period a moment falls in, seconds between two moments, a column among many values."""
from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import peewee

from models.db import is_postgres


def percentiles_of(column: Any, fractions: tuple[float, ...]) -> Any:
    """SQL for the `fractions` percentiles of `column` over a query's rows (interpolated, as `percentile_cont`),
    in one sort; read back by `percentiles_read`."""
    if is_postgres():
        array = peewee.NodeList((peewee.Value(list(map(float, fractions)), unpack=False), peewee.SQL("::float8[]")),
                                glue="")
        order = peewee.EnclosedNodeList([peewee.NodeList((peewee.SQL("ORDER BY"), column))])
        return peewee.NodeList((peewee.fn.percentile_cont(array), peewee.SQL("WITHIN GROUP"), order))
    return peewee.fn.percentiles_cont(column, json.dumps(list(map(float, fractions)))).coerce(False)


def percentiles_read(value: Any, count: int) -> list[float | None]:
    """`percentiles_of`'s value as it was read (PostgreSQL's array, SQLite's JSON), `count` Nones over no rows."""
    if value is None:
        return [None] * count
    return [float(v) for v in (json.loads(value) if isinstance(value, str) else value)]


def one_of(column: Any, values: Iterable[str]) -> Any:
    """SQL for `column IN values` with the values as one parameter (PostgreSQL's `= ANY(array)`, SQLite's
    `json_each`): an organization's hundreds of repository names, compiled by peewee one by one in each statement,
    were most of the Python time of its DORA answer."""
    listed = sorted(set(values))
    if is_postgres():
        # converter: peewee would otherwise hand the list to the column's own (a text column's str())
        return column == peewee.fn.ANY(peewee.Value(listed, converter=list, unpack=False))
    return column << peewee.NodeList((peewee.SQL("(SELECT value FROM json_each("), peewee.Value(json.dumps(listed)),
                                      peewee.SQL("))")), glue="")


def period_index(column: Any, periods: list[datetime], step: timedelta | None) -> Any:
    """SQL for the index of the period `column` falls in, the periods starting at `periods` (the last open-ended).
    Periods all `step` long (days, weeks; starting at midnight, as `domain.dora.period_starts` makes them) are
    counted from the first one's start: a short expression, where a CASE of a WHEN per period (months; a year of
    days was 365) cost its compiling and each row's comparisons. Group by its position (`GROUP BY 1`): its
    parameters differ between the select list and a GROUP BY written out."""
    if len(periods) < 2:
        return peewee.Value(0)
    if step is None:
        return peewee.Case(None, [(column < boundary, index) for index, boundary in enumerate(periods[1:])],
                           len(periods) - 1)
    if is_postgres():
        return peewee.fn.FLOOR(seconds_from(peewee.Value(periods[0]), column) / int(step.total_seconds()))
    # days from the date's text (periods start at midnight): SQLite's time functions round to the millisecond, so
    # the last microsecond of a day would fall in the next one
    days = peewee.fn.julianday(peewee.fn.substr(column, 1, 10)) - peewee.fn.julianday(periods[0].date().isoformat())
    return peewee.fn.CAST(peewee.NodeList((days, peewee.SQL("AS INTEGER")))) / step.days


def seconds_from(earlier: Any, later: Any) -> Any:
    """SQL for the seconds from `earlier` to `later` (two timestamp columns), negative when `later` is earlier;
    null when either is."""
    if is_postgres():
        return peewee.fn.EXTRACT(peewee.NodeList((peewee.SQL("EPOCH FROM"), later - earlier)))
    return (peewee.fn.julianday(later) - peewee.fn.julianday(earlier)) * 86400.0


def seconds_between(earlier: Any, later: Any) -> Any:
    """`seconds_from`, 0 when `later` is earlier."""
    seconds = seconds_from(earlier, later)
    return peewee.Case(None, [(seconds < 0, 0.0)], seconds)
