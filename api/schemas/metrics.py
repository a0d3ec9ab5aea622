"""Metric points in (up to 10,000 a request, all validated before any is stored) and series out."""
from __future__ import annotations

from datetime import UTC
from typing import Any

import marshmallow as ma

from api.schemas.common import FullMatch, StrictSchema, UtcDateTime
from api.schemas.point_list import PointList, PointRules

METRIC_NAME = r"^[a-zA-Z_][a-zA-Z0-9_.:-]{0,127}$"
METRIC_TYPE = r"^[a-zA-Z][a-zA-Z0-9-]{0,63}$"
TAG_KEY = r"^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$"
NAME_RULE = "A letter or _, then up to 127 letters, digits or _ . : -"
TAG_KEY_RULE = "A letter or _, then up to 63 letters, digits or _ . : -"
MAX_POINTS, MAX_TAGS = 10_000, 16
RESOLUTIONS = ("raw", "1m", "1h")


def _tags(**kwargs: Any) -> ma.fields.Dict:
    return ma.fields.Dict(keys=ma.fields.String(validate=FullMatch(TAG_KEY, error=TAG_KEY_RULE)),
                          values=ma.fields.String(validate=ma.validate.Length(max=256)),
                          validate=ma.validate.Length(max=MAX_TAGS, error=f"At most {MAX_TAGS} tags."), **kwargs)


class MetricPointInSchema(StrictSchema):
    name = ma.fields.String(required=True, validate=FullMatch(METRIC_NAME, error=NAME_RULE))
    value = ma.fields.Float(required=True, allow_nan=False)
    unit = ma.fields.String(load_default=None, allow_none=True, validate=ma.validate.Length(min=1, max=32))
    timestamp = ma.fields.AwareDateTime(load_default=None, allow_none=True, default_timezone=UTC,
                                        metadata={"description": "ISO 8601; UTC when no offset; now when absent."})
    tags = _tags(load_default=dict)


class MetricsInSchema(StrictSchema):
    metrics = PointList(PointRules(METRIC_NAME, NAME_RULE, TAG_KEY, TAG_KEY_RULE, MAX_TAGS), MetricPointInSchema,
                        required=True, validate=ma.validate.Length(min=1, max=MAX_POINTS))


class AcceptedSchema(ma.Schema):
    accepted_count = ma.fields.Integer(required=True)


class MetricNamesSchema(ma.Schema):
    items = ma.fields.List(ma.fields.String(), required=True)


class SeriesArgsSchema(ma.Schema):
    name = ma.fields.String(validate=FullMatch(METRIC_NAME))
    metric_type = ma.fields.String(validate=FullMatch(METRIC_TYPE), metadata={
        "description": "A family of metrics (seed 003): `cpu` selects `cpu`, `cpu_usage`, `cpu.user`..., i.e. the "
                       "name itself or names that continue it with `_` or `.`."})
    start_time = ma.fields.AwareDateTime(default_timezone=UTC, metadata={"description": "Default: an hour ago."})
    end_time = ma.fields.AwareDateTime(default_timezone=UTC, metadata={"description": "Default: now."})
    resolution = ma.fields.String(load_default="raw", validate=ma.validate.OneOf(RESOLUTIONS))
    limit = ma.fields.Integer(load_default=1000, validate=ma.validate.Range(min=1, max=MAX_POINTS))

    @ma.validates_schema
    def _ordered(self, data: dict[str, object], **kwargs: object) -> None:
        start, end = data.get("start_time"), data.get("end_time")
        if start is not None and end is not None and start > end:  # type: ignore[operator]
            raise ma.ValidationError("start_time is after end_time.", "start_time")


class SeriesPointSchema(ma.Schema):
    name = ma.fields.String()
    timestamp = UtcDateTime()
    count = ma.fields.Integer()
    sum = ma.fields.Float()
    min = ma.fields.Float()
    max = ma.fields.Float()
    avg = ma.fields.Float()
    p50 = ma.fields.Float()
    p95 = ma.fields.Float()
    p99 = ma.fields.Float()
    unit = ma.fields.String(allow_none=True)
    tags = ma.fields.Dict()


class SeriesSchema(ma.Schema):
    metrics = ma.fields.List(ma.fields.Nested(SeriesPointSchema), required=True)
    total_count = ma.fields.Integer(required=True)
    start_time = UtcDateTime(required=True)
    end_time = UtcDateTime(required=True)
