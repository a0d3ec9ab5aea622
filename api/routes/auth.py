"""Log in, refresh, log out."""
from __future__ import annotations

from typing import Any

from flask import g
from flask.views import MethodView

from api.auth.guard import auth_required
from api.auth.tokens import access_token, decode, issue_pair, revoke_session, token_user
from api.blueprint import Blueprint
from api.errors import ApiError
from api.schemas.auth import AccessTokenSchema, LoginSchema, RefreshSchema, TokenPairSchema
from api.services import services
from models.user import User

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="Log in and manage tokens")


@blp.route("/login")
class Login(MethodView):
    @blp.arguments(LoginSchema)
    @blp.response(200, TokenPairSchema)
    def post(self, body: dict[str, str]) -> dict[str, Any]:
        """Exchange a username and password for an access and a refresh token"""
        user = User.authenticate(body["username"], body["password"])
        if user is None:
            raise ApiError(401, "Invalid username or password")
        return issue_pair(services().tokens, user)


@blp.route("/refresh")
class Refresh(MethodView):
    @blp.arguments(RefreshSchema)
    @blp.response(200, AccessTokenSchema)
    def post(self, body: dict[str, str]) -> dict[str, Any]:
        """Get a new access token with a refresh token"""
        svc = services()
        claims = decode(svc.tokens, body["refresh_token"], "refresh")
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
