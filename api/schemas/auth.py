from __future__ import annotations

from typing import Any

import marshmallow as ma

from api.schemas.common import StrictSchema


class LoginSchema(StrictSchema):
    """`{username, password}`, where `username` may be an email too, or `{email, password}` (seed 004)."""

    username = ma.fields.String(validate=ma.validate.Length(min=1, max=254),
                                metadata={"description": "A username, or the account's email"})
    email = ma.fields.String(validate=ma.validate.Length(min=3, max=254))
    password = ma.fields.String(required=True, load_only=True, validate=ma.validate.Length(min=1, max=256))

    @ma.validates_schema
    def _one_name(self, data: dict[str, Any], **kwargs: Any) -> None:
        if ("username" in data) == ("email" in data):
            raise ma.ValidationError("Give a username or an email (one of them).", "username")


class RefreshSchema(StrictSchema):
    """The refresh token in the body, or in `Authorization: Bearer <refresh_token>` with no body (seed 004)."""

    BODY_OPTIONAL = True
    refresh_token = ma.fields.String(validate=ma.validate.Length(min=1, max=4096))


class AccessTokenSchema(ma.Schema):
    access_token = ma.fields.String(required=True)
    token_type = ma.fields.String(required=True, metadata={"example": "bearer"})
    expires_in = ma.fields.Integer(required=True, metadata={"description": "seconds"})


class TokenPairSchema(AccessTokenSchema):
    refresh_token = ma.fields.String(required=True)
