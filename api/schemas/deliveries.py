"""Events published through the API, and webhook deliveries with their attempts."""
from __future__ import annotations

import marshmallow as ma

from api.schemas.common import FullMatch, ListArgsSchema, StrictSchema, UtcDateTime
from core.timeutil import isoformat
from domain.events import EVENT_TYPE_FORMAT
from models.delivery import STATUSES

EVENT_TYPE = FullMatch(f"^{EVENT_TYPE_FORMAT.pattern}$", error="An event type such as `deployment.completed`.")


class EventCreateSchema(StrictSchema):
    type = ma.fields.String(required=True, validate=[ma.validate.Length(max=64), EVENT_TYPE])
    data = ma.fields.Dict(keys=ma.fields.String(), load_default=dict)


class EventPublishedSchema(ma.Schema):
    event_id = ma.fields.Integer(required=True)
    deliveries = ma.fields.Integer(required=True, metadata={"description": "Endpoints it is being delivered to."})


class TestSentSchema(EventPublishedSchema):
    delivery_id = ma.fields.String(required=True)


class DeliveryListArgsSchema(ListArgsSchema):
    status = ma.fields.String(validate=ma.validate.OneOf(STATUSES))


class AttemptSchema(ma.Schema):
    n = ma.fields.Integer(required=True)
    at = UtcDateTime(required=True)
    status_code = ma.fields.Integer(allow_none=True)
    duration_ms = ma.fields.Integer()
    error = ma.fields.String(allow_none=True)
    response_excerpt = ma.fields.String(allow_none=True)


class DeliverySchema(ma.Schema):
    id = ma.fields.String(required=True, metadata={"description": "Sent as `webhook-id`; the same on every retry."})
    event_id = ma.fields.Function(lambda d: d.event_id)
    event_type = ma.fields.String()
    status = ma.fields.String()
    attempts = ma.fields.Function(lambda d: AttemptSchema(many=True).dump(d.attempt_rows))
    next_attempt_at = ma.fields.Function(
        lambda d: isoformat(d.next_attempt_at) if d.status in ("pending", "failed") else None,
        metadata={"description": "When the next attempt is due; null once it is delivered or dead."})
    last_error = ma.fields.String(allow_none=True)
    created_at = UtcDateTime()
    delivered_at = UtcDateTime(allow_none=True)
