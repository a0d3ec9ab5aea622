from __future__ import annotations

import marshmallow as ma

from api.schemas.common import StrictSchema


class MaintenanceSchema(StrictSchema):
    enabled = ma.fields.Boolean(required=True)
    message = ma.fields.String(load_default=None, allow_none=True, validate=ma.validate.Length(max=500))


class MaintenanceStateSchema(ma.Schema):
    enabled = ma.fields.Boolean(required=True)
    message = ma.fields.String(allow_none=True)
    changed_by = ma.fields.String(allow_none=True)
    changed_at = ma.fields.String(allow_none=True)


class JobSchema(ma.Schema):
    name = ma.fields.String(required=True)
    actor = ma.fields.String(required=True)
    description = ma.fields.String()
    interval_seconds = ma.fields.Integer(required=True, allow_none=True,
                                         metadata={"description": "null: not on a timer (see `after`)"})
    after = ma.fields.String(allow_none=True, metadata={"description": "runs when this job has succeeded"})
    last_run_at = ma.fields.String(allow_none=True, metadata={"description": "when it was last enqueued"})
    next_run_at = ma.fields.String(allow_none=True)
    last_trigger = ma.fields.String(allow_none=True, metadata={"description": "schedule or manual"})
    last_message_id = ma.fields.String(allow_none=True)
    last_finished_at = ma.fields.String(allow_none=True)
    last_status = ma.fields.String(allow_none=True)
    last_duration_ms = ma.fields.Float(allow_none=True)
    last_result = ma.fields.Raw(allow_none=True)
    last_error = ma.fields.String(allow_none=True)


class JobRunSchema(ma.Schema):
    name = ma.fields.String(required=True)
    message_id = ma.fields.String(required=True)
    status = ma.fields.String(required=True, metadata={"example": "queued"})


class SystemStatusSchema(ma.Schema):
    status = ma.fields.String(required=True)
    version = ma.fields.String(required=True)
    environment = ma.fields.String(required=True)
    uptime_seconds = ma.fields.Float(required=True)
    database = ma.fields.Dict(required=True)
    redis = ma.fields.Dict(required=True)
    queues = ma.fields.Dict()
    workers = ma.fields.Dict()
    scheduler = ma.fields.Dict()
    maintenance = ma.fields.Dict()
    users = ma.fields.Integer()
    settings = ma.fields.Dict()
    webhooks = ma.fields.Dict()
    cache = ma.fields.Dict(metadata={"description": "{status, hit_rate}"})
    external_services = ma.fields.Dict()
    services = ma.fields.List(ma.fields.Dict(), metadata={
        "description": "Every API, worker and scheduler process seen in the last minute: {name (api, worker, "
                       "scheduler), id, status, uptime, memory_usage, cpu_usage, memory_bytes, cpu_percent, "
                       "last_seen}."})


class RateLimitTierSchema(ma.Schema):
    name = ma.fields.String(required=True, metadata={"example": "premium"})
    limit = ma.fields.String(required=True, metadata={"example": "600/minute"})
    users = ma.fields.Integer(required=True, metadata={"description": "Users in this tier"})


class RateLimitTiersSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(RateLimitTierSchema), required=True)
    route_limits = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String(), required=True, metadata={
        "description": "Per-user limits of single routes, applied on top of the tier's limit to every tier"})
