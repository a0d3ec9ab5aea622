"""API keys: what is sent to make or change one, and what is shown (the key itself only once)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import marshmallow as ma

from api.auth.permissions import PERMISSIONS
from api.schemas.common import ListArgsSchema, StrictSchema, UtcDateTime, row_id
from api.schemas.ranges import LATEST, DayOrMoment
from models.db import utc_naive

RATE_LIMIT = ma.validate.Range(min=1, max=10_000_000)


class ApiKeyUpdateSchema(StrictSchema):
    name = ma.fields.String(validate=ma.validate.Length(min=1, max=100))
    rate_limit = ma.fields.Integer(allow_none=True, validate=RATE_LIMIT, metadata={
        "description": "Requests per hour (admins only); null: the default, RATE_LIMIT_API_KEY."})


class ApiKeyCreateSchema(StrictSchema):
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=100))
    scopes = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(PERMISSIONS)), required=True,
        validate=ma.validate.Length(min=1, max=len(PERMISSIONS)),
        metadata={"description": "Permissions the key may use, each one that your role has (403 otherwise). At "
                                 "each use the key can do only what both its scopes and your role allow then."})
    expires_at = DayOrMoment(end=True, allow_none=True, load_default=None, metadata={
        "description": "When the key stops working (a bare date: at the end of that day, UTC); null: never."})

    @ma.validates("expires_at")
    def _future(self, value: datetime | None, **kwargs: Any) -> None:
        if value is not None and not utc_naive() < value <= LATEST:
            raise ma.ValidationError("Must be in the future.")


class ApiKeyListArgsSchema(ListArgsSchema):
    user_id = row_id(metadata={"description": "Only this user's keys (admins; others see only their own)."})


class ApiKeySchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    prefix = ma.fields.String(required=True, metadata={"description": "The key's first characters, to recognise it."})
    scopes = ma.fields.List(ma.fields.String(), required=True)
    status = ma.fields.Function(lambda key: key.status(utc_naive()),
                                metadata={"description": "`active`, `expired` or `revoked`."})
    user_id = ma.fields.Integer(attribute="owner_id", required=True)
    owner = ma.fields.Function(lambda key: key.owner.username, metadata={"description": "The owner's username."})
    rate_limit = ma.fields.Integer(allow_none=True, metadata={
        "description": "Requests per hour set by an admin; null: the default, RATE_LIMIT_API_KEY."})
    created_at = UtcDateTime()
    expires_at = UtcDateTime(allow_none=True)
    revoked_at = UtcDateTime(allow_none=True)
    last_used_at = UtcDateTime(allow_none=True, metadata={"description": "The latest request made with the key."})


class ApiKeyCreatedSchema(ApiKeySchema):
    key = ma.fields.String(attribute="secret", required=True,
                           metadata={"description": "The key: shown in this response only."})
