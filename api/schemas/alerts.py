"""Alert rules and alerts."""
from __future__ import annotations

from typing import Any

import marshmallow as ma

from api.routing import MAX_ID
from api.schemas.common import FullMatch, ListArgsSchema, StrictSchema, UtcDateTime
from api.schemas.metrics import METRIC_NAME, NAME_RULE
from models.alert import AGGREGATIONS, COMPARISONS, SEVERITIES, STATUSES


def _one_of_threshold_or_baseline(data: dict[str, Any], require: bool) -> None:
    given = [f for f in ("threshold", "baseline_factor") if data.get(f) is not None]
    if len(given) > 1 or (require and not given):
        raise ma.ValidationError("Give exactly one of threshold and baseline_factor.", "threshold")


class AlertRuleUpdateSchema(StrictSchema):
    name = ma.fields.String(validate=ma.validate.Length(min=1, max=100))
    metric = ma.fields.String(validate=FullMatch(METRIC_NAME, error=NAME_RULE))
    aggregation = ma.fields.String(validate=ma.validate.OneOf(AGGREGATIONS))
    comparison = ma.fields.String(validate=ma.validate.OneOf(COMPARISONS))
    threshold = ma.fields.Float(allow_nan=False, allow_none=True)
    baseline_factor = ma.fields.Float(allow_nan=False, allow_none=True,
                                      validate=ma.validate.Range(min=0, min_inclusive=False, max=1000),
                                      metadata={"description": "Compare with this times the same aggregation "
                                                               "over the 7 days before the window."})
    window_minutes = ma.fields.Integer(validate=ma.validate.Range(min=1, max=1440))
    severity = ma.fields.String(validate=ma.validate.OneOf(SEVERITIES))
    is_active = ma.fields.Boolean()

    @ma.validates_schema
    def _exclusive(self, data: dict[str, Any], **kwargs: Any) -> None:
        _one_of_threshold_or_baseline(data, require=False)


class AlertRuleCreateSchema(AlertRuleUpdateSchema):
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=100))
    metric = ma.fields.String(required=True, validate=FullMatch(METRIC_NAME, error=NAME_RULE))
    aggregation = ma.fields.String(required=True, validate=ma.validate.OneOf(AGGREGATIONS))
    comparison = ma.fields.String(required=True, validate=ma.validate.OneOf(COMPARISONS))
    window_minutes = ma.fields.Integer(required=True, validate=ma.validate.Range(min=1, max=1440))
    severity = ma.fields.String(required=True, validate=ma.validate.OneOf(SEVERITIES))
    is_active = ma.fields.Boolean(load_default=True)

    @ma.validates_schema
    def _exclusive(self, data: dict[str, Any], **kwargs: Any) -> None:
        _one_of_threshold_or_baseline(data, require=True)


class AlertRuleSchema(ma.Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()
    metric = ma.fields.String()
    aggregation = ma.fields.String()
    comparison = ma.fields.String()
    threshold = ma.fields.Float(allow_none=True)
    baseline_factor = ma.fields.Float(allow_none=True)
    window_minutes = ma.fields.Integer()
    severity = ma.fields.String()
    is_active = ma.fields.Boolean()
    created_by = ma.fields.Function(lambda r: r.created_by.username)
    created_at = UtcDateTime()
    updated_at = UtcDateTime()


class AlertListArgsSchema(ListArgsSchema):
    status = ma.fields.String(validate=ma.validate.OneOf(STATUSES))
    severity = ma.fields.String(validate=ma.validate.OneOf(SEVERITIES))


class AlertSchema(ma.Schema):
    id = ma.fields.Integer()
    rule_id = ma.fields.Function(lambda a: a.__data__.get("rule"))
    rule = ma.fields.String(attribute="rule_name")
    metric = ma.fields.String()
    tags = ma.fields.Dict()
    severity = ma.fields.String()
    status = ma.fields.String()
    message = ma.fields.String()
    context = ma.fields.Dict()
    created_at = UtcDateTime()
    acknowledged_at = UtcDateTime(allow_none=True)
    acknowledged_by = ma.fields.String(allow_none=True)
    resolved_at = UtcDateTime(allow_none=True)
    # The seeds' names for the same facts (000: operation_type; 003: name, description, updated_at).
    name = ma.fields.Function(lambda a: a.rule_name, metadata={"type": "string", "description": "= rule"})
    description = ma.fields.Function(lambda a: a.message, metadata={"type": "string", "description": "= message"})
    operation_type = ma.fields.Function(lambda a: a.metric, metadata={"type": "string", "description": "= metric"})
    updated_at = UtcDateTime(metadata={"description": "The last change: raised, acknowledged or resolved."})


class AcknowledgeSchema(StrictSchema):
    alert_ids = ma.fields.List(  # ids the database can hold; a missing one is reported in `failed`
        ma.fields.Integer(strict=True, validate=ma.validate.Range(min=-MAX_ID - 1, max=MAX_ID)), required=True,
        validate=ma.validate.Length(min=1, max=1000))


class FailureSchema(ma.Schema):
    id = ma.fields.Integer()
    reason = ma.fields.String()


class AcknowledgedSchema(ma.Schema):
    acknowledged = ma.fields.Integer(required=True)
    failed = ma.fields.Integer(required=True)
    failures = ma.fields.List(ma.fields.Nested(FailureSchema))


class AcknowledgedOneSchema(ma.Schema):
    message = ma.fields.String(required=True)
    acknowledged_at = UtcDateTime(required=True)


class _LatestAlertSchema(ma.Schema):
    id = ma.fields.Integer()
    rule = ma.fields.String()
    severity = ma.fields.String()
    status = ma.fields.String()
    message = ma.fields.String()
    created_at = ma.fields.String()


class AlertsSummarySchema(ma.Schema):
    open = ma.fields.Integer(required=True)
    by_severity = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer(), required=True)
    by_status = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer(), required=True)
    latest = ma.fields.List(ma.fields.Nested(_LatestAlertSchema), required=True)
