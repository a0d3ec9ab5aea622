"""Sign in with GitHub (OAuth 2 authorization code with PKCE), and link or unlink a GitHub account.

Off (404 on every route here) unless GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET are set. The start and the
callback need no token; a link is started by a signed-in user, and its callback must come with that user's
token too, so nobody can attach their GitHub account to someone else's session (docs/github-sign-in.md).
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask.views import MethodView

from api.audit import request_origin
from api.auth.guard import auth_required, authenticate, bearer_token, current_user
from api.auth.tokens import issue_pair
from api.blueprint import Blueprint
from api.errors import ApiError, invalid
from api.schemas.github_auth import (
    GitHubCallbackArgsSchema,
    GitHubSignInSchema,
    GitHubStartArgsSchema,
    GitHubStartSchema,
)
from api.schemas.users import UserSchema
from api.services import services
from core.settings import GitHubSignIn
from domain.github_sign_in import accounts, flows
from domain.github_sign_in.client import GitHubOAuth, GitHubProfile, GitHubRefused, GitHubUnavailable
from models.user import User

blp = Blueprint("github_auth", __name__, url_prefix="/api/v1/auth/github",
                description="Sign in with GitHub, and link a GitHub account")


def _config() -> GitHubSignIn:
    config = services().settings.github
    if not config.enabled:
        raise ApiError(404, "Sign-in with GitHub is not configured on this server")
    return config


def _start(redirect_uri: str, user_id: int | None) -> dict[str, str]:
    config = _config()
    if redirect_uri not in config.redirect_uris:
        raise invalid("redirect_uri", "Not one of this server's OAUTH_REDIRECT_URIS.")
    flow = flows.start(services().redis, redirect_uri, user_id)
    return {"auth_url": GitHubOAuth(config).authorization_url(flow.state, flow.code_verifier, redirect_uri),
            "state": flow.state}


def _profile(config: GitHubSignIn, flow: flows.Flow, code: str) -> GitHubProfile:
    try:
        return GitHubOAuth(config).profile(code, flow.code_verifier, flow.redirect_uri)
    except GitHubRefused as exc:
        raise ApiError(401, f"GitHub sign-in failed: {exc}") from None
    except GitHubUnavailable as exc:
        if exc.unreachable:
            raise ApiError(503, f"GitHub is unavailable: {exc}", headers={"Retry-After": "5"}) from None
        raise ApiError(502, f"GitHub answered unexpectedly: {exc}") from None


@contextmanager
def account_errors() -> Iterator[None]:
    """A sign-in, link or unlink the accounts refuse, as the envelope with the status they name."""
    try:
        yield
    except accounts.AccountRefused as exc:
        raise ApiError(exc.status, exc.message) from None


def _signed_in(user: User) -> dict[str, Any]:
    return {**issue_pair(services().tokens, user), "user": user}


@blp.route("")
class GitHubStart(MethodView):
    @blp.arguments(GitHubStartArgsSchema, location="query")
    @blp.response(200, GitHubStartSchema)
    def get(self, args: dict[str, str]) -> dict[str, str]:
        """Start signing in with GitHub: where to send the browser, and the flow's state"""
        return _start(args["redirect_uri"], None)


@blp.route("/callback")
class GitHubCallback(MethodView):
    @blp.arguments(GitHubCallbackArgsSchema, location="query")
    @blp.response(200, GitHubSignInSchema)
    def get(self, args: dict[str, str]) -> dict[str, Any]:
        """Finish a GitHub sign-in (or link) with the code and state GitHub sent back: tokens and the user"""
        config = _config()
        flow = flows.take(services().redis, args["state"])
        if flow is None:
            raise ApiError(401, "Unknown, used or expired sign-in state: start again")
        if flow.user_id is not None:
            # A link: only the user who started it may finish it (the state alone could be a victim's click).
            user, _ = authenticate(bearer_token())
            if user.id != flow.user_id:
                raise ApiError(403, "This link was started by another user")
        profile = _profile(config, flow, args["code"])
        with account_errors():
            if flow.user_id is not None:
                return _signed_in(accounts.link(flow.user_id, profile, request_origin()))
            return _signed_in(accounts.sign_in(profile, config.default_role, request_origin()))


@blp.route("/link")
class GitHubLink(MethodView):
    @auth_required(session_only=True)  # a key must not tie a GitHub account to its owner's
    @blp.arguments(GitHubStartArgsSchema)
    @blp.response(200, GitHubStartSchema)
    def post(self, body: dict[str, str]) -> dict[str, str]:
        """Start linking a GitHub account to yours; finish with the callback, sending your token with it"""
        return _start(body["redirect_uri"], current_user().id)

    @auth_required(session_only=True)
    @blp.response(200, UserSchema)
    def delete(self) -> User:
        """Unlink your GitHub account (an account without a password cannot: it could not sign in again)"""
        _config()
        with account_errors():
            return accounts.unlink(current_user(), request_origin())
