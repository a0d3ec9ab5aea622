"""`auth_required`: authenticate the Bearer token, check a permission, honour maintenance mode."""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import g, request

from api.auth.permissions import permissions_for
from api.auth.tokens import decode, token_user
from api.errors import ApiError
from api.maintenance import maintenance_state
from api.services import services
from models.user import User

F = TypeVar("F", bound=Callable[..., Any])
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def authenticate(token: str | None) -> tuple[User, dict[str, Any]]:
    """The active user behind an access token, or 401."""
    if token is None:
        raise ApiError(401, "Authentication required", headers={"WWW-Authenticate": "Bearer"})
    claims = decode(services().tokens, token, "access")
    return token_user(claims), claims


def current_user() -> User:
    return g.user


def auth_required(permission: str | None = None) -> Callable[[F], F]:
    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user, claims = authenticate(bearer_token())
            g.user, g.claims = user, claims
            # Permissions come from the user's current role, so a demotion takes effect at once.
            if permission and permission not in _permissions(user):
                raise ApiError(403, f"This action needs the '{permission}' permission")
            if request.method not in SAFE_METHODS and user.role != "admin":
                state = maintenance_state(services().redis)
                if state.get("enabled"):
                    raise ApiError(503, state.get("message") or "Down for maintenance", code="MAINTENANCE")
            return view(*args, **kwargs)

        # What the view needs, readable from the outside: the security tests enumerate the routes by it.
        wrapper.required_permission = permission  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorator


def _permissions(user: User) -> list[str]:
    return permissions_for(user.role)
