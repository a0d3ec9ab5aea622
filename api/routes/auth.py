"""Log in, refresh, log out."""
from __future__ import annotations

from typing import Any

from flask import g
from flask.views import MethodView

from api.audit import NOBODY, audit
from api.auth.guard import auth_required, bearer_token
from api.auth.tokens import access_token, decode, issue_pair, revoke_session, token_user
from api.blueprint import Blueprint
from api.errors import ApiError, invalid
from api.schemas.auth import AccessTokenSchema, LoginSchema, RefreshSchema, TokenPairSchema
from api.services import services
from models.db import db
from models.user import User

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="Log in and manage tokens")


@blp.route("/login")
class Login(MethodView):
    @blp.arguments(LoginSchema)
    @blp.response(200, TokenPairSchema)
    def post(self, body: dict[str, str]) -> dict[str, Any]:
        """Exchange a username (or email) and password for an access and a refresh token"""
        user = User.authenticate(body.get("username") or body["email"], body["password"])
        if user is None:
            audit("auth.login_failed", actor=NOBODY, label=body.get("username") or body["email"])
            raise ApiError(401, "Invalid username or password")
        with db.atomic():
            audit("auth.login", actor=user, target=("user", user.id))
        return issue_pair(services().tokens, user)


@blp.route("/refresh")
class Refresh(MethodView):
    @blp.arguments(RefreshSchema, required=False)
    @blp.response(200, AccessTokenSchema)
    def post(self, body: dict[str, str]) -> dict[str, Any]:
        """Get a new access token with a refresh token (in the body, or as the Bearer token)"""
        svc = services()
        token = body.get("refresh_token") or bearer_token()
        if token is None:
            raise invalid("refresh_token", "Send the refresh token in the body or as `Authorization: Bearer`.")
        claims = decode(svc.tokens, token, "refresh")
        user = token_user(claims)
        return {"access_token": access_token(svc.tokens, user, claims["sid"]),
                "token_type": "bearer", "expires_in": svc.tokens.access_ttl}


@blp.route("/logout")
class Logout(MethodView):
    @auth_required(session_only=True)
    @blp.response(204)
    def post(self) -> None:
        """Revoke this access token and the refresh token issued with it"""
        svc = services()
        revoke_session(svc.tokens, g.claims)
