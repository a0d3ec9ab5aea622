"""JWT access and refresh tokens: HS256 pinned, required claims, and revocation through Redis.

An access token and the refresh token issued with it share a session id (`sid`). Logging out puts
that session on a denylist until the refresh token would have expired, so both stop working at once.
"""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
import redis

from api.auth.permissions import permissions_for
from api.errors import ApiError
from models.user import User

ALGORITHM = "HS256"
REQUIRED_CLAIMS = ["exp", "iat", "jti", "type", "sub", "uid", "stamp", "sid"]
REVOKED_KEY = "conveyor:auth:revoked"
LEEWAY_SECONDS = 5


@dataclass(frozen=True)
class TokenConfig:
    secret: str
    access_ttl: int
    refresh_ttl: int


def _encode(config: TokenConfig, claims: dict[str, Any], kind: str, ttl: int) -> str:
    now = int(time.time())
    payload = {**claims, "type": kind, "iat": now, "exp": now + ttl, "jti": uuid.uuid4().hex}
    return jwt.encode(payload, config.secret, algorithm=ALGORITHM)


def access_token(config: TokenConfig, user: User, sid: str) -> str:
    claims = {"sub": user.username, "uid": user.id, "stamp": user.token_stamp, "role": user.role,
              "permissions": permissions_for(user.role), "sid": sid}
    return _encode(config, claims, "access", config.access_ttl)


def issue_pair(config: TokenConfig, user: User) -> dict[str, Any]:
    sid = uuid.uuid4().hex
    refresh_claims = {"sub": user.username, "uid": user.id, "stamp": user.token_stamp, "sid": sid}
    return {
        "access_token": access_token(config, user, sid),
        "refresh_token": _encode(config, refresh_claims, "refresh", config.refresh_ttl),
        "token_type": "bearer",
        "expires_in": config.access_ttl,
    }


def decode(config: TokenConfig, token: str, expected_type: str, client: redis.Redis) -> dict[str, Any]:
    """Verify signature, algorithm, required claims, type and revocation; raise 401 otherwise."""
    try:
        claims = jwt.decode(token, config.secret, algorithms=[ALGORITHM], leeway=LEEWAY_SECONDS,
                            options={"require": REQUIRED_CLAIMS})
    except jwt.ExpiredSignatureError:
        raise ApiError(401, "Token has expired") from None
    except jwt.InvalidTokenError:
        raise ApiError(401, "Token is invalid") from None
    if claims.get("type") != expected_type:
        raise ApiError(401, f"An {expected_type} token is required")
    if client.exists(f"{REVOKED_KEY}:{claims['sid']}"):
        raise ApiError(401, "Token has been revoked")
    return claims


def token_user(claims: dict[str, Any]) -> User:
    """The active account a token was issued to, while its sessions have not been ended."""
    user = User.get_or_none(User.id == claims["uid"])
    if user is None or not user.is_active or user.token_stamp != claims["stamp"]:
        raise ApiError(401, "Token is invalid")
    return user


def revoke_session(config: TokenConfig, claims: dict[str, Any], client: redis.Redis) -> None:
    """Deny the whole session until its refresh token would have expired anyway."""
    client.set(f"{REVOKED_KEY}:{claims['sid']}", "1", ex=config.refresh_ttl + LEEWAY_SECONDS)
