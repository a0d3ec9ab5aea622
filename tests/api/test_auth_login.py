"""Logging in (a bearer token pair with the documented claims; a wrong password and an unknown user alike),
and protected routes called with no token or a non-bearer Authorization header."""
from __future__ import annotations

import jwt
import pytest
from flask.testing import FlaskClient

from tests.conftest import PASSWORD, TEST_SECRET, create_user, login
from tests.support.auth import LOGIN, ME
from tests.support.envelope import assert_error

# --- login ---------------------------------------------------------------------------------------

def test_login_with_correct_password_returns_a_bearer_token_pair(client: FlaskClient) -> None:
    # given
    create_user("alice")
    # when
    response = client.post(LOGIN, json={"username": "alice", "password": PASSWORD})
    # then
    assert response.status_code == 200
    body = response.get_json()
    assert body["token_type"] == "bearer"
    assert isinstance(body["expires_in"], int) and body["expires_in"] > 0
    access = jwt.decode(body["access_token"], TEST_SECRET, algorithms=["HS256"])
    refresh_claims = jwt.decode(body["refresh_token"], TEST_SECRET, algorithms=["HS256"])
    assert access["sub"] == "alice" and access["type"] == "access" and access["role"] == "user"
    assert refresh_claims["sub"] == "alice" and refresh_claims["type"] == "refresh"
    assert access["exp"] - access["iat"] == body["expires_in"]
    assert "password" not in body


def test_login_access_token_carries_the_documented_claims(client: FlaskClient) -> None:
    # given
    create_user("alice", role="viewer")
    # when
    claims = jwt.decode(login(client, "alice")["access_token"], TEST_SECRET, algorithms=["HS256"])
    # then
    assert set(claims) >= {"sub", "role", "permissions", "exp", "iat", "jti", "type"}
    assert claims["role"] == "viewer"
    assert sorted(claims["permissions"]) == ["analysis:read", "build:read"]


def test_login_with_wrong_password_answers_401_unauthorized(client: FlaskClient) -> None:
    # given
    create_user("alice")
    # when
    response = client.post(LOGIN, json={"username": "alice", "password": "not-the-password"})
    # then
    assert_error(response, 401, "UNAUTHORIZED")
    assert "access_token" not in response.get_json()


def test_login_with_unknown_user_answers_401_like_a_wrong_password(client: FlaskClient) -> None:
    # given
    create_user("alice")
    wrong_password = client.post(LOGIN, json={"username": "alice", "password": "not-the-password"})
    # when
    response = client.post(LOGIN, json={"username": "nobody", "password": PASSWORD})
    # then: same status, code and message, so usernames cannot be probed
    error = assert_error(response, 401, "UNAUTHORIZED")
    assert error["message"] == wrong_password.get_json()["error"]["message"]


@pytest.mark.parametrize("missing", ["username", "password"])
def test_login_with_a_missing_field_answers_422_naming_the_field(client: FlaskClient, missing: str) -> None:
    # given
    body = {"username": "alice", "password": PASSWORD}
    del body[missing]
    # when
    response = client.post(LOGIN, json=body)
    # then
    error = assert_error(response, 422, "VALIDATION_ERROR")
    assert missing in error["details"], error


# --- missing or malformed credentials ------------------------------------------------------------

def test_protected_route_without_a_token_answers_401(client: FlaskClient) -> None:
    # when
    response = client.get(ME)
    # then
    assert_error(response, 401, "UNAUTHORIZED")
    assert response.headers.get("WWW-Authenticate") == "Bearer"


@pytest.mark.parametrize("header", ["Basic x", "Basic YWxpY2U6cGFzc3dvcmQ=", "Bearer", "Bearer ", "Token abc"])
def test_protected_route_with_a_non_bearer_authorization_answers_401(client: FlaskClient, header: str) -> None:
    # when
    response = client.get(ME, headers={"Authorization": header})
    # then
    assert_error(response, 401, "UNAUTHORIZED")
