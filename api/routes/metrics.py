"""Metric ingestion (`POST /api/v1/metrics`) and series (`GET /api/v1/metrics`)."""
from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import request
from flask.views import MethodView

from api.auth.guard import auth_required
from api.blueprint import Blueprint
from api.errors import invalid
from api.schemas.metrics import (
    MAX_TAGS,
    TAG_KEY,
    TAG_KEY_RULE,
    AcceptedSchema,
    MetricNamesSchema,
    MetricsInSchema,
    SeriesArgsSchema,
    SeriesSchema,
)
from models.db import utc_naive
from models.metric import MetricPoint, MetricRollup, insert_points, metric_names, tagged

blp = Blueprint("metrics", __name__, url_prefix="/api/v1/metrics", description="Metrics: push points, read series")
_TAG_KEY = re.compile(TAG_KEY)


def _naive_utc(moment: datetime | None) -> datetime:
    return utc_naive() if moment is None else moment.astimezone(UTC).replace(tzinfo=None)


def _tag_filters() -> dict[str, str]:
    """`?tags.KEY=VALUE` pairs; a malformed key or too many is a 422 like any other bad argument."""
    filters = {key[len("tags."):]: value for key, value in request.args.items() if key.startswith("tags.")}
    bad = [key for key in filters if not _TAG_KEY.fullmatch(key)]
    if bad or len(filters) > MAX_TAGS:
        detail = f"Tag keys: {TAG_KEY_RULE}" if bad else f"At most {MAX_TAGS} tag filters."
        raise invalid("tags", detail)
    return filters


@blp.route("")
class Metrics(MethodView):
    @auth_required("metrics:write")
    @blp.arguments(MetricsInSchema)
    @blp.response(202, AcceptedSchema)
    def post(self, body: dict[str, Any]) -> dict[str, int]:
        """Store up to 10,000 points; one bad point refuses them all (422 names its index)"""
        return {"accepted_count": insert_points(body["metrics"])}

    @auth_required()
    @blp.arguments(SeriesArgsSchema, location="query")
    @blp.response(200, SeriesSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """A series, oldest first: raw points, or 1-minute or 1-hour rollups (by the aggregate_metrics job),
        by name, time range and tags (`?tags.env=prod`)"""
        end = _naive_utc(args.get("end_time"))
        start = _naive_utc(args["start_time"]) if args.get("start_time") else end - timedelta(hours=1)
        raw = args["resolution"] == "raw"
        model: Any = MetricPoint if raw else MetricRollup
        moment = model.timestamp if raw else model.bucket
        query = model.select().where(moment.between(start, end))
        if not raw:
            query = query.where(model.resolution == args["resolution"])
        if args.get("name"):
            query = query.where(model.name == args["name"])
        if args.get("metric_type"):
            query = query.where(of_type(model.name, args["metric_type"]))
        for key, value in _tag_filters().items():
            query = query.where(tagged(model.tags, key, value))
        rows = query.order_by(moment, model.id).limit(args["limit"])
        return {"metrics": [_raw(row) if raw else _rollup(row) for row in rows], "total_count": query.count(),
                "start_time": start, "end_time": end}


def of_type(name: Any, family: str) -> Any:
    """`name` is the family itself or continues it with `_` or `.`: `cpu` -> `cpu`, `cpu_usage`, `cpu.user`, not
    `cpus`. Ranges, not LIKE: exact (no wildcard in a name to escape) and served by the name index."""
    return (name == family) | ((name >= f"{family}_") & (name < f"{family}`")) | (
        (name >= f"{family}.") & (name < f"{family}/"))


MAX_NAMES = 1000


@blp.route("/names")
class MetricNames(MethodView):
    @auth_required()
    @blp.response(200, MetricNamesSchema)
    def get(self) -> dict[str, Any]:
        """The names that have raw points, sorted (the first 1,000), for pickers such as the dashboard's"""
        return {"items": metric_names(MAX_NAMES)}


def _raw(point: MetricPoint) -> dict[str, Any]:
    """A raw point in the series shape: a bucket of one."""
    v = point.value
    return {"name": point.name, "timestamp": point.timestamp, "count": 1, "sum": v, "min": v, "max": v, "avg": v,
            "p50": v, "p95": v, "p99": v, "unit": point.unit, "tags": point.tags}


def _rollup(row: MetricRollup) -> dict[str, Any]:
    return {"name": row.name, "timestamp": row.bucket, "tags": json.loads(row.tags),
            **{f: getattr(row, f) for f in ("count", "sum", "min", "max", "avg", "p50", "p95", "p99")}}
