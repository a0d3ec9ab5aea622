"""Sign in with GitHub: the start (`{auth_url, state}`), the callback's arguments, and its answer."""
from __future__ import annotations

import marshmallow as ma

from api.schemas.auth import TokenPairSchema
from api.schemas.common import StrictSchema

STATE = ma.validate.Length(min=16, max=128)


class GitHubStartArgsSchema(StrictSchema):
    redirect_uri = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=2048), metadata={
        "description": "Where GitHub sends the browser back; one of OAUTH_REDIRECT_URIS, exactly"})


class GitHubStartSchema(ma.Schema):
    auth_url = ma.fields.String(required=True, metadata={
        "description": "GitHub's authorization page, with this flow's state and PKCE challenge"})
    state = ma.fields.String(required=True, metadata={"description": "Single use, expires in 10 minutes"})


class GitHubCallbackArgsSchema(StrictSchema):
    code = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=512))
    state = ma.fields.String(required=True, validate=STATE)


class GitHubUserSchema(ma.Schema):
    id = ma.fields.Integer(required=True, metadata={"description": "The Conveyor user's id"})
    login = ma.fields.String(allow_none=True, metadata={"description": "The GitHub login"})
    name = ma.fields.String(allow_none=True)
    email = ma.fields.String(allow_none=True)
    avatar_url = ma.fields.String(allow_none=True)


class GitHubSignInSchema(TokenPairSchema):
    user = ma.fields.Nested(GitHubUserSchema, required=True)
