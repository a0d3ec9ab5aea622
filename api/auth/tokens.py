"""JWT access and refresh tokens: HS256 pinned, required claims, and revocation (`models.session`).

An access token and the refresh token issued with it share a session id (`sid`). Logging out puts
that session on a denylist until the refresh token would have expired, so both stop working at once.
"""
from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import jwt

from api.auth.permissions import permissions_for
from api.errors import ApiError
from models.session import revoke
from models.user import User

ALGORITHM = "HS256"
REQUIRED_CLAIMS = ["exp", "iat", "jti", "type", "sub", "uid", "stamp", "sid"]
LEEWAY_SECONDS = 5


class VerifiedTokens:
    """Tokens whose signature and claims were verified, with their claims: a token is immutable, so
    checking it again only repeats the work (most of a read's CPU after the database). Bounded; expiry
    and revocation are still checked on every use."""

    def __init__(self, size: int = 4096) -> None:
        self.size, self.lock = size, threading.Lock()
        self.claims: dict[str, dict[str, Any]] = {}

    def get(self, token: str) -> dict[str, Any] | None:
        return self.claims.get(token)

    def put(self, token: str, claims: dict[str, Any]) -> None:
        with self.lock:
            if len(self.claims) >= self.size:
                del self.claims[next(iter(self.claims))]  # the oldest entry
            self.claims[token] = claims


@dataclass(frozen=True)
class TokenConfig:
    secret: str
    access_ttl: int
    refresh_ttl: int
    verified: VerifiedTokens = field(default_factory=VerifiedTokens, compare=False, repr=False)


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


def verify(config: TokenConfig, token: str) -> dict[str, Any]:
    """The claims of a token signed with our key and algorithm, with every required claim, not expired."""
    claims = config.verified.get(token)
    if claims is not None:
        if claims["exp"] < time.time() - LEEWAY_SECONDS:
            raise ApiError(401, "Token has expired")
        return dict(claims)
    try:
        claims = jwt.decode(token, config.secret, algorithms=[ALGORITHM], leeway=LEEWAY_SECONDS,
                            options={"require": REQUIRED_CLAIMS})
    except jwt.ExpiredSignatureError:
        raise ApiError(401, "Token has expired") from None
    except jwt.InvalidTokenError:
        raise ApiError(401, "Token is invalid") from None
    config.verified.put(token, dict(claims))
    return claims


def decode(config: TokenConfig, token: str, expected_type: str) -> dict[str, Any]:
    """Verify signature, algorithm, required claims and type; raise 401 otherwise. Revocation is checked with
    the user (`token_user`)."""
    claims = verify(config, token)
    if claims.get("type") != expected_type:
        raise ApiError(401, f"An {expected_type} token is required")
    return claims


def token_user(claims: dict[str, Any]) -> User:
    """The active account a token was issued to, while neither this session (logout) nor all of the user's
    (a new token stamp) has been ended."""
    uid, sid = claims["uid"], claims["sid"]
    user, revoked = User.for_session(uid, sid) if type(uid) is int and type(sid) is str else (None, False)
    if revoked:
        raise ApiError(401, "Token has been revoked")
    if user is None or not user.is_active or user.token_stamp != claims["stamp"]:
        raise ApiError(401, "Token is invalid")
    return user


def revoke_session(config: TokenConfig, claims: dict[str, Any]) -> None:
    """Deny the whole session until its refresh token would have expired anyway."""
    revoke(claims["sid"], config.refresh_ttl + LEEWAY_SECONDS)
