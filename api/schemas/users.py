from __future__ import annotations

import marshmallow as ma

from api.auth.permissions import permissions_for
from api.schemas.common import FullMatch, StrictSchema, UtcDateTime
from core.settings import STANDARD_TIER
from models.user import ROLES

USERNAME = FullMatch(r"^[A-Za-z0-9_.-]{3,64}$",
                              error="3 to 64 letters, digits, dots, dashes or underscores")
PASSWORD = ma.validate.Length(min=8, max=256)
TIER = FullMatch(r"^[a-z][a-z0-9_-]{0,31}$", error="A tier's name: `standard` or one of RATE_LIMIT_TIERS")


class UserSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    username = ma.fields.String(required=True)
    email = ma.fields.String(allow_none=True)
    role = ma.fields.String(required=True)
    permissions = ma.fields.Method("get_permissions")
    is_active = ma.fields.Boolean()
    rate_limit_tier = ma.fields.Method("get_rate_limit_tier", metadata={
        "description": "The user's rate-limit tier: `standard` (RATE_LIMIT_USER) or one of RATE_LIMIT_TIERS"})
    name = ma.fields.String(allow_none=True)
    avatar_url = ma.fields.String(allow_none=True)
    login = ma.fields.String(allow_none=True, metadata={"description": "The linked GitHub account's login"})
    has_password = ma.fields.Boolean(metadata={"description": "False for an account that signs in with GitHub only"})
    created_at = UtcDateTime()
    updated_at = UtcDateTime()

    def get_permissions(self, user: object) -> list[str]:
        return permissions_for(getattr(user, "role", ""))

    def get_rate_limit_tier(self, user: object) -> str:
        return getattr(user, "rate_limit_tier", None) or STANDARD_TIER


class UserCreateSchema(StrictSchema):
    username = ma.fields.String(required=True, validate=USERNAME)
    password = ma.fields.String(required=True, load_only=True, validate=PASSWORD)
    role = ma.fields.String(load_default="user", validate=ma.validate.OneOf(ROLES))
    email = ma.fields.Email(load_default=None, allow_none=True, validate=ma.validate.Length(max=254))
    rate_limit_tier = ma.fields.String(validate=TIER)


class UserUpdateSchema(StrictSchema):
    password = ma.fields.String(load_only=True, validate=PASSWORD)
    role = ma.fields.String(validate=ma.validate.OneOf(ROLES))
    email = ma.fields.Email(allow_none=True, validate=ma.validate.Length(max=254))
    is_active = ma.fields.Boolean()
    rate_limit_tier = ma.fields.String(validate=TIER)


class ProfileUpdateSchema(StrictSchema):
    name = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=255))
    email = ma.fields.Email(allow_none=True, validate=ma.validate.Length(max=254))
    current_password = ma.fields.String(load_only=True, validate=ma.validate.Length(min=1, max=256), metadata={
        "description": "Required to change the email of an account that has a password"})
