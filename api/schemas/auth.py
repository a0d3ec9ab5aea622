from __future__ import annotations

import marshmallow as ma

from api.schemas.common import StrictSchema


class LoginSchema(StrictSchema):
    username = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=64))
    password = ma.fields.String(required=True, load_only=True, validate=ma.validate.Length(min=1, max=256))


class RefreshSchema(StrictSchema):
    refresh_token = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=4096))


class AccessTokenSchema(ma.Schema):
    access_token = ma.fields.String(required=True)
    token_type = ma.fields.String(required=True, metadata={"example": "bearer"})
    expires_in = ma.fields.Integer(required=True, metadata={"description": "seconds"})


class TokenPairSchema(AccessTokenSchema):
    refresh_token = ma.fields.String(required=True)
