"""Roll raw metric points up into 1-minute and 1-hour buckets: count, sum, min, max, avg, p50, p95, p99.

Idempotent by construction: a bucket is always recomputed from all of its raw points and replaces what
was there, so a second run never double-counts. Which buckets to redo comes from a watermark, the
highest point id rolled up so far: every bucket that holds a newer point (a late one too) is redone,
and the watermark moves only after all of them are written, so a run that dies is simply redone.
Percentiles are exact: linear interpolation between the closest ranks, which is PostgreSQL's
`percentile_cont`; on SQLite, which has no such aggregate, the same formula runs over the sorted values.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from itertools import groupby
from typing import Any

import peewee

from core.stats import percentile
from models.db import db, is_postgres
from models.metric import RESOLUTIONS, MetricPoint, MetricRollup, RollupWatermark

WATERMARK = "rollups"
QUANTILES = {"p50": 0.5, "p95": 0.95, "p99": 0.99}
# SQLite keeps timestamps as 'YYYY-MM-DD HH:MM:SS.ffffff': a bucket is a prefix of that text.
SQLITE_PREFIX = {"1m": (16, ":00"), "1h": (13, ":00:00")}


def bucket_of(resolution: str) -> Any:
    """SQL for the start of a point's bucket."""
    if is_postgres():
        return peewee.fn.date_trunc({"1m": "minute", "1h": "hour"}[resolution], MetricPoint.timestamp)
    length, suffix = SQLITE_PREFIX[resolution]
    return peewee.fn.substr(MetricPoint.timestamp, 1, length).concat(suffix)


def _as_datetime(value: datetime | str) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def _ranges(buckets: Iterable[datetime], width: timedelta) -> list[tuple[datetime, datetime]]:
    """Contiguous runs of bucket starts, as half-open [start, end) time ranges."""
    ranges: list[tuple[datetime, datetime]] = []
    for bucket in sorted(set(buckets)):
        if ranges and ranges[-1][1] == bucket:
            ranges[-1] = (ranges[-1][0], bucket + width)
        else:
            ranges.append((bucket, bucket + width))
    return ranges


def _in_range(start: datetime, end: datetime) -> peewee.Expression:
    return (MetricPoint.timestamp >= start) & (MetricPoint.timestamp < end)


def _groups_in_python(start: datetime, end: datetime, resolution: str) -> Iterator[dict[str, Any]]:
    bucket, tags = bucket_of(resolution), MetricPoint.tags.cast("TEXT")
    query = (MetricPoint.select(MetricPoint.name, tags, bucket, MetricPoint.value).where(_in_range(start, end))
             .order_by(MetricPoint.name, tags, bucket, MetricPoint.value).tuples())
    for (name, tag_text, start_text), group in groupby(query.iterator(), key=lambda row: row[:3]):
        values = [row[3] for row in group]
        total = math.fsum(values)
        yield {"name": name, "tags": tag_text, "bucket": _as_datetime(start_text), "count": len(values),
               "sum": total, "min": values[0], "max": values[-1], "avg": total / len(values),
               **{label: percentile(values, q) for label, q in QUANTILES.items()}}


def _groups_in_sql(start: datetime, end: datetime, resolution: str) -> Iterator[dict[str, Any]]:
    bucket, tags, value = bucket_of(resolution), MetricPoint.tags.cast("TEXT"), MetricPoint.value
    percentiles = [peewee.SQL(f"percentile_cont({q}) WITHIN GROUP (ORDER BY value)").alias(label)
                   for label, q in QUANTILES.items()]
    query = (MetricPoint.select(MetricPoint.name, tags.alias("tags"), bucket.alias("bucket"),
                                peewee.fn.COUNT(MetricPoint.id).alias("count"), peewee.fn.SUM(value).alias("sum"),
                                peewee.fn.MIN(value).alias("min"), peewee.fn.MAX(value).alias("max"),
                                peewee.fn.AVG(value).alias("avg"), *percentiles)
             .where(_in_range(start, end)).group_by(MetricPoint.name, tags, bucket).dicts())
    yield from query.iterator()


def _redo(resolution: str, buckets: Iterable[datetime]) -> int:
    """Recompute the buckets of `resolution` that start at `buckets`, for every name and tag set."""
    written = 0
    for start, end in _ranges(buckets, timedelta(seconds=RESOLUTIONS[resolution])):
        compute = _groups_in_sql if is_postgres() else _groups_in_python
        rows = [{**group, "resolution": resolution} for group in compute(start, end, resolution)]
        with db.atomic():
            MetricRollup.delete().where((MetricRollup.resolution == resolution) & (MetricRollup.bucket >= start)
                                        & (MetricRollup.bucket < end)).execute()
            for chunk in range(0, len(rows), 500):
                MetricRollup.insert_many(rows[chunk:chunk + 500]).execute()
        written += len(rows)
    return written


def aggregate(horizon: datetime) -> dict[str, int]:
    """Redo every bucket holding a point newer than the watermark, then move the watermark. Buckets
    that start before `horizon` (raw retention) are left alone: their raw points may be gone."""
    mark, _ = RollupWatermark.get_or_create(name=WATERMARK)
    high = MetricPoint.select(peewee.fn.MAX(MetricPoint.id)).scalar() or 0
    result = {"last_point_id": high, "rollups_1m": 0, "rollups_1h": 0}
    if high <= mark.last_point_id:
        return result
    fresh = (MetricPoint.id > mark.last_point_id) & (MetricPoint.id <= high)
    for resolution in RESOLUTIONS:
        starts: Any = MetricPoint.select(bucket_of(resolution)).where(fresh).distinct().tuples()
        buckets = (bucket for bucket in (_as_datetime(start) for (start,) in starts) if bucket >= horizon)
        result[f"rollups_{resolution}"] = _redo(resolution, buckets)
    RollupWatermark.update(last_point_id=high).where(RollupWatermark.name == WATERMARK).execute()
    return result


def prune(raw_before: datetime, rollups_before: dict[str, datetime]) -> dict[str, int]:
    """Delete raw points and rollups past their retention."""
    result = {"raw": MetricPoint.delete().where(MetricPoint.timestamp < raw_before).execute()}
    for resolution, before in rollups_before.items():
        result[resolution] = MetricRollup.delete().where(
            (MetricRollup.resolution == resolution) & (MetricRollup.bucket < before)).execute()
    return result


def by_tag_set(metric: str, aggregation: str, start: datetime, end: datetime) -> dict[str, tuple[float, int]]:
    """`aggregation` (avg, max, min, count, p50, p95, p99) of `metric`'s raw points in [start, end), per tag
    set (canonical JSON), with each set's point count. Exact, like the rollups."""
    tags, value = MetricPoint.tags.cast("TEXT"), MetricPoint.value
    scope = (MetricPoint.name == metric) & _in_range(start, end)
    if aggregation in QUANTILES and not is_postgres():
        rows: Any = (MetricPoint.select(tags, value).where(scope).order_by(tags, value).tuples())
        result = {}
        for tag_text, group in groupby(rows.iterator(), key=lambda row: row[0]):
            values = [row[1] for row in group]
            result[tag_text] = (percentile(values, QUANTILES[aggregation]), len(values))
        return result
    if aggregation in QUANTILES:
        measure: Any = peewee.SQL(f"percentile_cont({QUANTILES[aggregation]}) WITHIN GROUP (ORDER BY value)")
    else:
        measure = getattr(peewee.fn, aggregation.upper())(MetricPoint.id if aggregation == "count" else value)
    query: Any = (MetricPoint.select(tags, measure, peewee.fn.COUNT(MetricPoint.id)).where(scope)
                  .group_by(tags).tuples())
    return {tag_text: (float(measured), int(count)) for tag_text, measured, count in query}
