from __future__ import annotations

import marshmallow as ma

from api.schemas.common import FullMatch, StrictSchema, UtcDateTime
from domain.events import EVENT_TYPES
from domain.webhooks.signing import valid_secret

EVENT_PATTERN = FullMatch(r"^(\*|[a-z]+\.\*|[a-z]+\.[a-z_]+)$", error="An event type, `kind.*` or `*`.")


def _secret(value: str) -> None:
    if not valid_secret(value):
        raise ma.ValidationError("Must be `whsec_` followed by base64 of at least 24 bytes.")


class RetryPolicyUpdateSchema(StrictSchema):
    """On update, only the fields sent change: no defaults fill the others in."""

    max_retries = ma.fields.Integer(validate=ma.validate.Range(min=0, max=20))
    backoff_base = ma.fields.Float(validate=ma.validate.Range(min=1.0, max=10.0))
    max_backoff = ma.fields.Integer(validate=ma.validate.Range(min=1, max=86_400))


class RetryPolicySchema(RetryPolicyUpdateSchema):
    max_retries = ma.fields.Integer(load_default=5, validate=ma.validate.Range(min=0, max=20))
    backoff_base = ma.fields.Float(load_default=2.0, validate=ma.validate.Range(min=1.0, max=10.0))
    max_backoff = ma.fields.Integer(load_default=3600, validate=ma.validate.Range(min=1, max=86_400))


class WebhookUpdateSchema(StrictSchema):
    name = ma.fields.String(validate=ma.validate.Length(min=1, max=100))
    url = ma.fields.Url(schemes={"http", "https"}, require_tld=False, validate=ma.validate.Length(max=2048))
    description = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=1000))
    is_active = ma.fields.Boolean()
    events = ma.fields.List(ma.fields.String(validate=EVENT_PATTERN), validate=ma.validate.Length(min=1, max=50),
                            metadata={"description": f"Patterns over: {', '.join(EVENT_TYPES)}"})
    retry_policy = ma.fields.Nested(RetryPolicyUpdateSchema)
    timeout_seconds = ma.fields.Integer(validate=ma.validate.Range(min=1, max=60))
    ssl_verify = ma.fields.Boolean()
    rate_limit_per_hour = ma.fields.Integer(validate=ma.validate.Range(min=1, max=1_000_000))


class WebhookCreateSchema(WebhookUpdateSchema):
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=100))
    url = ma.fields.Url(required=True, schemes={"http", "https"}, require_tld=False,
                        validate=ma.validate.Length(max=2048))
    is_active = ma.fields.Boolean(load_default=True)
    events = ma.fields.List(ma.fields.String(validate=EVENT_PATTERN), load_default=lambda: ["*"],
                            validate=ma.validate.Length(min=1, max=50))
    secret = ma.fields.String(load_only=True, validate=_secret)
    retry_policy = ma.fields.Nested(RetryPolicySchema, load_default=lambda: RetryPolicySchema().load({}))
    timeout_seconds = ma.fields.Integer(load_default=30, validate=ma.validate.Range(min=1, max=60))
    ssl_verify = ma.fields.Boolean(load_default=True)
    rate_limit_per_hour = ma.fields.Integer(load_default=1000, validate=ma.validate.Range(min=1, max=1_000_000))


class WebhookSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    url = ma.fields.String(required=True)
    description = ma.fields.String(allow_none=True)
    is_active = ma.fields.Boolean(required=True)
    events = ma.fields.List(ma.fields.String())
    retry_policy = ma.fields.Function(lambda w: {"max_retries": w.max_retries, "backoff_base": w.backoff_base,
                                                 "max_backoff": w.max_backoff})
    timeout_seconds = ma.fields.Integer()
    ssl_verify = ma.fields.Boolean()
    rate_limit_per_hour = ma.fields.Integer()
    last_used_at = UtcDateTime(allow_none=True)
    failure_count = ma.fields.Integer()
    created_by = ma.fields.Function(lambda w: w.created_by.username)
    created_at = UtcDateTime()
    updated_at = UtcDateTime()


class WebhookCreatedSchema(WebhookSchema):
    secret = ma.fields.String(required=True, metadata={"description": "Shown in this response only."})
