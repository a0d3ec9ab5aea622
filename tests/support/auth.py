"""Helpers of the auth and users API tests (tests/api/test_auth_*.py, test_users_*.py, test_maintenance.py,
tests/security/test_tokens.py): the routes, Bearer headers, and access tokens crafted with pyjwt (or by hand)."""
from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import jwt
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from models.db import db
from models.user import User
from tests.conftest import TEST_SECRET

ME = "/api/v1/users/me"
LOGIN = "/api/v1/auth/login"
REFRESH = "/api/v1/auth/refresh"
LOGOUT = "/api/v1/auth/logout"
USERS = "/api/v1/users"

AuthHeaders = Callable[..., dict[str, str]]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def valid_claims(username: str, role: str = "user", **overrides: Any) -> dict[str, Any]:
    """Every claim the API requires of an access token, valid for another ten minutes."""
    now = int(time.time())
    with db.connection_context():
        user = User.get_or_none(User.username == username)
    claims: dict[str, Any] = {
        "sub": username, "role": role, "permissions": [], "type": "access", "sid": uuid.uuid4().hex,
        "jti": uuid.uuid4().hex, "iat": now, "exp": now + 600,
        "uid": user.id if user else 999_999, "stamp": user.token_stamp if user else uuid.uuid4().hex,
    }
    claims.update(overrides)
    return claims


def sign(claims: dict[str, Any], key: str = TEST_SECRET, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=algorithm)


def b64url(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def b64url_decode(segment: str) -> dict[str, Any]:
    padded = segment + "=" * (-len(segment) % 4)
    return json.loads(base64.urlsafe_b64decode(padded))


def get_me(client: FlaskClient, token: str) -> TestResponse:
    return client.get(ME, headers=bearer(token))


def refresh(client: FlaskClient, refresh_token: str) -> TestResponse:
    return client.post(REFRESH, json={"refresh_token": refresh_token})


def user_id(client: FlaskClient, headers: dict[str, str]) -> int:
    response = client.get(ME, headers=headers)
    assert response.status_code == 200
    return int(response.get_json()["id"])
