"""`auth_required`: authenticate the Bearer token or API key, check a permission, honour maintenance mode, then
run the view once per `Idempotency-Key` (`api.idempotency`)."""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import g, request

from api.auth.credentials import authenticate_key, bearer_token, presented_key, using_api_key
from api.auth.permissions import permissions_for
from api.auth.tokens import decode, token_user
from api.errors import ApiError
from api.idempotency import idempotent
from api.maintenance import maintenance_state
from api.services import services
from models.user import User

__all__ = ["auth_required", "authenticate", "bearer_token", "current_user", "socket_user"]

F = TypeVar("F", bound=Callable[..., Any])
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
SESSION_ONLY = "API keys cannot do this: it needs a signed-in session (an access token from logging in)"


def authenticate(token: str | None) -> tuple[User, dict[str, Any]]:
    """The active user behind an access token, or 401."""
    if token is None:
        raise ApiError(401, "Authentication required", headers={"WWW-Authenticate": "Bearer"})
    claims = decode(services().tokens, token, "access")
    return token_user(claims), claims


def current_user() -> User:
    return g.user


def _authenticate_request() -> frozenset[str]:
    """Set `g.user` (and `g.claims` for a token, `g.api_key` for a key); what the request may do."""
    if presented_key() is not None:
        g.user, permissions = authenticate_key()
        g.claims = None
        return permissions
    g.user, g.claims = authenticate(bearer_token())
    g.api_key = None
    # Permissions come from the user's current role, so a demotion takes effect at once.
    return frozenset(permissions_for(g.user.role))


def _require(permission: str | None, permissions: frozenset[str]) -> None:
    if permission and permission not in permissions:
        what = "This API key" if using_api_key() else "This action"
        raise ApiError(403, f"{what} needs the '{permission}' permission")


def auth_required(permission: str | None = None, *, session_only: bool = False) -> Callable[[F], F]:
    """A view for signed-in callers holding `permission` (any, when None). `session_only`: not for API keys
    (managing keys, sessions and users: a leaked key must not be able to make itself a lasting way in)."""

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            permissions = _authenticate_request()
            if session_only and using_api_key():
                raise ApiError(403, SESSION_ONLY)
            _require(permission, permissions)
            if request.method not in SAFE_METHODS and "admin" not in permissions:
                state = maintenance_state(services().redis)
                if state.get("enabled"):
                    raise ApiError(503, state.get("message") or "Down for maintenance", code="MAINTENANCE")
            # Only now, authenticated and allowed: a stored response goes to none but its own principal.
            return idempotent(view, *args, **kwargs)

        # What the view needs, readable from the outside: the security tests enumerate the routes by it.
        wrapper.required_permission = permission  # type: ignore[attr-defined]
        wrapper.session_only = session_only  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorator


def socket_user(permission: str | None = None) -> User:
    """The user a WebSocket handshake authenticates, holding `permission`; 401 or 403 otherwise. An access token
    in `?token=` or the Authorization header, or an API key in a header: never a key in the query string, where
    proxies and access logs would keep it."""
    query_token = request.args.get("token")
    if not query_token and presented_key() is not None:
        user, permissions = authenticate_key()
    else:
        user, _ = authenticate(query_token or bearer_token())
        permissions = frozenset(permissions_for(user.role))
    _require(permission, permissions)
    return user
