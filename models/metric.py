"""Metric points, raw: what teams push and what the platform records about itself.

`tags` are kept as canonical JSON (sorted keys, no spaces), so one tag set has one spelling: it can be
grouped on, and a `key=value` filter is a substring test on `"key":"value"`.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

import peewee

from models.bulk import bulk_insert
from models.db import BaseModel, JSONField, is_postgres


def tagged(column: peewee.Field, key: str, value: str) -> peewee.Expression:
    """Rows whose canonical tag JSON in `column` includes `key=value` (exact, case-sensitive)."""
    needle = json.dumps({key: value}, separators=(",", ":"))[1:-1]
    position = peewee.fn.strpos(column, needle) if is_postgres() else peewee.fn.instr(column, needle)
    return position > 0


class MetricPoint(BaseModel):
    id = peewee.BigAutoField()
    name = peewee.CharField(max_length=128)
    value = peewee.DoubleField()
    unit = peewee.CharField(max_length=32, null=True)
    timestamp = peewee.DateTimeField()
    tags = JSONField(default=dict)

    class Meta:
        indexes = ((("name", "timestamp"), False),)


def insert_points(rows: Sequence[tuple[str, float, str | None, dict[str, str], datetime]]) -> int:
    """Store points given as (name, value, unit, tags, naive-UTC timestamp), all or none."""
    return bulk_insert(POINT_FIELDS, rows)


def metric_names(limit: int) -> list[str]:
    """The distinct point names, sorted: a loose index scan (one index seek per name, with a recursive CTE
    both engines run), so it costs the number of names rather than the number of points."""
    database, table = MetricPoint._meta.database, MetricPoint._meta.table_name  # our own constant name
    sql = (f'WITH RECURSIVE names(name) AS (SELECT MIN(name) FROM "{table}" UNION ALL '  # noqa: S608
           f'SELECT (SELECT MIN(name) FROM "{table}" WHERE name > names.name) FROM names '
           f"WHERE names.name IS NOT NULL) SELECT name FROM names WHERE name IS NOT NULL LIMIT {database.param}")
    return [row[0] for row in database.execute_sql(sql, (limit,)).fetchall()]


POINT_FIELDS = (MetricPoint.name, MetricPoint.value, MetricPoint.unit, MetricPoint.tags, MetricPoint.timestamp)
RESOLUTIONS = {"1m": 60, "1h": 3600}


class MetricRollup(BaseModel):
    """count, sum, min, max, avg and exact percentiles of the raw points of one name, tag set and bucket."""

    id = peewee.BigAutoField()
    resolution = peewee.CharField(max_length=4)
    name = peewee.CharField(max_length=128)
    tags = peewee.TextField()  # the points' canonical JSON, as stored
    bucket = peewee.DateTimeField()
    count = peewee.IntegerField()
    sum = peewee.DoubleField()
    min = peewee.DoubleField()
    max = peewee.DoubleField()
    avg = peewee.DoubleField()
    p50 = peewee.DoubleField()
    p95 = peewee.DoubleField()
    p99 = peewee.DoubleField()

    class Meta:
        indexes = ((("resolution", "name", "bucket", "tags"), True),)


class RollupWatermark(BaseModel):
    """The highest raw point id that the rollups have seen: newer points mark their buckets for redoing."""

    name = peewee.CharField(max_length=32, primary_key=True)
    last_point_id = peewee.BigIntegerField(default=0)
