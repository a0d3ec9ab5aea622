"""JWT and auth flows: login, token verification, refresh, logout, roles, maintenance and rate limits.

Tokens are real JWTs; the hostile ones are crafted with pyjwt (or by hand) against a user who exists,
so that the one defect under test is the only reason for a 401.
"""
from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import jwt
import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from models.db import db
from models.user import User
from tests.conftest import PASSWORD, TEST_SECRET, create_user, login
from tests.envelope import assert_error

ME = "/api/v1/users/me"
LOGIN = "/api/v1/auth/login"
REFRESH = "/api/v1/auth/refresh"
LOGOUT = "/api/v1/auth/logout"
USERS = "/api/v1/users"
MAINTENANCE = "/api/v1/admin/maintenance"

AuthHeaders = Callable[..., dict[str, str]]


# --- helpers -------------------------------------------------------------------------------------

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


def test_a_well_formed_crafted_token_is_accepted(client: FlaskClient) -> None:
    """The baseline for the rejection tests below: the crafted claims themselves are acceptable."""
    # given
    create_user("alice")
    token = sign(valid_claims("alice"))
    # when
    response = get_me(client, token)
    # then
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["username"] == "alice"


# --- hostile or broken tokens --------------------------------------------------------------------

def test_expired_token_answers_401(client: FlaskClient) -> None:
    # given: expired a minute ago, far beyond the 5 s leeway
    create_user("alice")
    now = int(time.time())
    token = sign(valid_claims("alice", iat=now - 3600, exp=now - 60))
    # when
    response = get_me(client, token)
    # then
    error = assert_error(response, 401, "UNAUTHORIZED")
    assert "expired" in error["message"].lower()


def test_token_expired_within_the_leeway_is_still_accepted(client: FlaskClient) -> None:
    # given: expired two seconds ago, inside the 5 s leeway for clock skew
    create_user("alice")
    now = int(time.time())
    token = sign(valid_claims("alice", iat=now - 600, exp=now - 2))
    # when / then
    assert get_me(client, token).status_code == 200


def test_token_signed_with_another_key_answers_401(client: FlaskClient) -> None:
    # given
    create_user("alice")
    token = sign(valid_claims("alice", role="admin"), key="another-secret-key-that-is-long-enough-9876")
    # when / then
    assert_error(get_me(client, token), 401, "UNAUTHORIZED")


def test_unsigned_alg_none_token_built_by_hand_answers_401(client: FlaskClient) -> None:
    # given: header.payload. with an empty signature
    create_user("alice")
    token = f"{b64url({'alg': 'none', 'typ': 'JWT'})}.{b64url(valid_claims('alice', role='admin'))}."
    # when / then
    assert_error(get_me(client, token), 401, "UNAUTHORIZED")


def test_unsigned_alg_none_token_from_pyjwt_answers_401(client: FlaskClient) -> None:
    # given
    create_user("alice")
    token = jwt.encode(valid_claims("alice", role="admin"), None, algorithm="none")
    assert token.endswith(".")  # pyjwt really produced an unsigned token
    # when / then
    assert_error(get_me(client, token), 401, "UNAUTHORIZED")


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
@pytest.mark.parametrize("algorithm", ["HS512", "HS384"])
def test_token_signed_with_the_real_secret_but_another_algorithm_answers_401(
        client: FlaskClient, algorithm: str) -> None:
    # given: the right key, but HS256 is pinned
    create_user("alice")
    token = sign(valid_claims("alice"), algorithm=algorithm)
    assert jwt.get_unverified_header(token)["alg"] == algorithm
    # when / then
    assert_error(get_me(client, token), 401, "UNAUTHORIZED")


@pytest.mark.parametrize("claim", ["exp", "jti", "iat", "sid", "type", "sub", "uid", "stamp"])
def test_token_missing_a_required_claim_answers_401(client: FlaskClient, claim: str) -> None:
    # given
    create_user("alice")
    claims = valid_claims("alice")
    del claims[claim]
    # when / then
    assert_error(get_me(client, sign(claims)), 401, "UNAUTHORIZED")


def test_token_with_a_tampered_payload_answers_401(client: FlaskClient) -> None:
    # given: a genuine token whose payload is rewritten to say admin, signature kept
    create_user("alice")
    header, payload, signature = login(client, "alice")["access_token"].split(".")
    claims = b64url_decode(payload)
    assert claims["role"] == "user"
    claims["role"] = "admin"
    tampered = f"{header}.{b64url(claims)}.{signature}"
    # when / then
    assert_error(get_me(client, tampered), 401, "UNAUTHORIZED")
    assert_error(client.get(USERS, headers=bearer(tampered)), 401, "UNAUTHORIZED")


def test_garbage_token_answers_401(client: FlaskClient) -> None:
    # when / then
    assert_error(get_me(client, "not.a.jwt"), 401, "UNAUTHORIZED")


def test_refresh_token_is_not_accepted_as_an_access_token(client: FlaskClient) -> None:
    # given
    create_user("alice")
    tokens = login(client, "alice")
    # when / then
    assert_error(get_me(client, tokens["refresh_token"]), 401, "UNAUTHORIZED")


def test_access_token_is_not_accepted_as_a_refresh_token(client: FlaskClient) -> None:
    # given
    create_user("alice")
    tokens = login(client, "alice")
    # when / then
    assert_error(refresh(client, tokens["access_token"]), 401, "UNAUTHORIZED")


def test_token_for_a_user_who_never_existed_answers_401(client: FlaskClient) -> None:
    # given: correctly signed, but nobody is called "ghost"
    token = sign(valid_claims("ghost", role="admin"))
    # when / then
    assert_error(get_me(client, token), 401, "UNAUTHORIZED")


# --- refresh and logout --------------------------------------------------------------------------

def test_refresh_returns_a_working_new_access_token(client: FlaskClient) -> None:
    # given
    create_user("alice")
    tokens = login(client, "alice")
    # when
    response = refresh(client, tokens["refresh_token"])
    # then
    assert response.status_code == 200
    body = response.get_json()
    assert body["token_type"] == "bearer" and body["expires_in"] > 0
    assert body["access_token"] != tokens["access_token"]
    assert jwt.decode(body["access_token"], TEST_SECRET, algorithms=["HS256"])["type"] == "access"
    me = get_me(client, body["access_token"])
    assert me.status_code == 200 and me.get_json()["username"] == "alice"


def test_refresh_with_a_forged_refresh_token_answers_401(client: FlaskClient) -> None:
    # given
    create_user("alice")
    forged = sign(valid_claims("alice", type="refresh"), key="another-secret-key-that-is-long-enough-9876")
    # when / then
    assert_error(refresh(client, forged), 401, "UNAUTHORIZED")


def test_refresh_without_a_token_answers_422(client: FlaskClient) -> None:
    # when
    response = client.post(REFRESH, json={})
    # then
    error = assert_error(response, 422, "VALIDATION_ERROR")
    assert "refresh_token" in error["details"]


def test_logout_answers_204_and_revokes_access_and_refresh_token_at_once(client: FlaskClient) -> None:
    # given
    create_user("alice")
    tokens = login(client, "alice")
    assert get_me(client, tokens["access_token"]).status_code == 200
    # when
    response = client.post(LOGOUT, headers=bearer(tokens["access_token"]))
    # then
    assert response.status_code == 204
    assert response.get_data() == b""
    assert_error(get_me(client, tokens["access_token"]), 401, "UNAUTHORIZED")
    assert_error(refresh(client, tokens["refresh_token"]), 401, "UNAUTHORIZED")


def test_logout_also_revokes_access_tokens_refreshed_in_that_session(client: FlaskClient) -> None:
    # given
    create_user("alice")
    tokens = login(client, "alice")
    refreshed = refresh(client, tokens["refresh_token"]).get_json()["access_token"]
    # when
    assert client.post(LOGOUT, headers=bearer(tokens["access_token"])).status_code == 204
    # then
    assert_error(get_me(client, refreshed), 401, "UNAUTHORIZED")


def test_logout_leaves_another_session_of_the_same_user_working(client: FlaskClient) -> None:
    # given: two logins of the same user
    create_user("alice")
    first = login(client, "alice")
    second = login(client, "alice")
    # when
    assert client.post(LOGOUT, headers=bearer(first["access_token"])).status_code == 204
    # then
    assert get_me(client, second["access_token"]).status_code == 200
    assert refresh(client, second["refresh_token"]).status_code == 200
    assert_error(get_me(client, first["access_token"]), 401, "UNAUTHORIZED")


def test_a_logout_outlives_a_redis_restart(client: FlaskClient, redis_client: redis.Redis) -> None:
    """Ended sessions live in the database: an embedded Redis without persistence forgets everything."""
    create_user("alice")
    tokens = login(client, "alice")
    assert client.post(LOGOUT, headers=bearer(tokens["access_token"])).status_code == 204
    redis_client.flushdb()
    assert_error(get_me(client, tokens["access_token"]), 401, "UNAUTHORIZED")
    assert_error(refresh(client, tokens["refresh_token"]), 401, "UNAUTHORIZED")


def test_a_logout_through_one_api_app_ends_the_session_in_another(make_app: Any) -> None:
    """Every API process (an app each) reads ended sessions from the same database; one that had verified (and
    remembered) the token refuses it at once too."""
    first, second = make_app().test_client(), make_app().test_client()
    create_user("alice")
    tokens = login(first, "alice")
    assert get_me(second, tokens["access_token"]).status_code == 200  # `second` now remembers the token
    assert first.post(LOGOUT, headers=bearer(tokens["access_token"])).status_code == 204
    assert assert_error(get_me(second, tokens["access_token"]), 401, "UNAUTHORIZED")["message"] == \
        "Token has been revoked"
    assert_error(refresh(second, tokens["refresh_token"]), 401, "UNAUTHORIZED")


def test_logout_without_a_token_answers_401(client: FlaskClient) -> None:
    # when / then
    assert_error(client.post(LOGOUT), 401, "UNAUTHORIZED")


# --- users who go away ---------------------------------------------------------------------------

def test_deleted_users_token_stops_working(client: FlaskClient, auth: AuthHeaders) -> None:
    # given
    admin = auth("admin")
    create_user("alice")
    tokens = login(client, "alice")
    alice_id = user_id(client, bearer(tokens["access_token"]))
    # when
    assert client.delete(f"{USERS}/{alice_id}", headers=admin).status_code == 204
    # then
    assert_error(get_me(client, tokens["access_token"]), 401, "UNAUTHORIZED")
    assert_error(refresh(client, tokens["refresh_token"]), 401, "UNAUTHORIZED")


def test_deleted_users_token_does_not_work_for_a_new_user_given_the_same_name(
        client: FlaskClient, auth: AuthHeaders) -> None:
    # given: alice is deleted while her tokens are still unexpired
    admin = auth("admin")
    create_user("alice")
    old = login(client, "alice")
    alice_id = user_id(client, bearer(old["access_token"]))
    assert client.delete(f"{USERS}/{alice_id}", headers=admin).status_code == 204
    # when: an admin gives the name to someone new
    created = client.post(USERS, json={"username": "alice", "password": "new-alice-pass", "role": "admin"},
                          headers=admin)
    assert created.status_code == 201
    # then: the old tokens do not become the new user's tokens
    assert_error(get_me(client, old["access_token"]), 401, "UNAUTHORIZED")
    assert_error(refresh(client, old["refresh_token"]), 401, "UNAUTHORIZED")


def test_deactivated_users_token_stops_working_and_login_is_refused(client: FlaskClient, auth: AuthHeaders) -> None:
    # given
    admin = auth("admin")
    create_user("alice")
    tokens = login(client, "alice")
    alice_id = user_id(client, bearer(tokens["access_token"]))
    # when
    response = client.put(f"{USERS}/{alice_id}", json={"is_active": False}, headers=admin)
    # then
    assert response.status_code == 200 and response.get_json()["is_active"] is False
    assert_error(get_me(client, tokens["access_token"]), 401, "UNAUTHORIZED")
    assert_error(refresh(client, tokens["refresh_token"]), 401, "UNAUTHORIZED")
    assert_error(client.post(LOGIN, json={"username": "alice", "password": PASSWORD}), 401, "UNAUTHORIZED")


# --- roles ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("role", ["viewer", "user"])
def test_non_admin_cannot_list_users(client: FlaskClient, auth: AuthHeaders, role: str) -> None:
    # when
    response = client.get(USERS, headers=auth(role))
    # then
    assert_error(response, 403, "FORBIDDEN")


@pytest.mark.parametrize("role", ["viewer", "user"])
def test_non_admin_cannot_create_users(client: FlaskClient, auth: AuthHeaders, role: str) -> None:
    # given
    admin, caller = auth("admin"), auth(role)
    before = client.get(USERS, headers=admin).get_json()["total"]
    # when
    response = client.post(USERS, json={"username": "mallory", "password": "longenough1"}, headers=caller)
    # then
    assert_error(response, 403, "FORBIDDEN")
    assert client.get(USERS, headers=admin).get_json()["total"] == before
    assert_error(client.post(LOGIN, json={"username": "mallory", "password": "longenough1"}), 401, "UNAUTHORIZED")


def test_admin_can_list_and_create_users(client: FlaskClient, auth: AuthHeaders) -> None:
    # given
    admin = auth("admin")
    # when
    listed = client.get(USERS, headers=admin)
    created = client.post(USERS, json={"username": "bob", "password": "longenough1"}, headers=admin)
    # then
    assert listed.status_code == 200
    assert created.status_code == 201
    assert created.get_json()["username"] == "bob"


def test_demoted_admin_loses_admin_permission_immediately(client: FlaskClient, auth: AuthHeaders) -> None:
    # given: a second admin whose token still says role "admin"
    admin = auth("admin")
    other = auth("admin", username="other-admin")
    assert client.get(USERS, headers=other).status_code == 200
    other_id = user_id(client, other)
    # when
    response = client.put(f"{USERS}/{other_id}", json={"role": "user"}, headers=admin)
    # then: the old token is still valid, but permissions follow the current role
    assert response.status_code == 200
    assert_error(client.get(USERS, headers=other), 403, "FORBIDDEN")
    assert client.get(ME, headers=other).status_code == 200


def test_user_changed_to_viewer_sees_viewer_permissions_immediately(client: FlaskClient, auth: AuthHeaders) -> None:
    # given
    admin = auth("admin")
    user = auth("user")
    me = client.get(ME, headers=user).get_json()
    assert "build:create" in me["permissions"]
    # when
    response = client.put(f"{USERS}/{me['id']}", json={"role": "viewer"}, headers=admin)
    # then
    assert response.status_code == 200
    now = client.get(ME, headers=user).get_json()
    assert now["role"] == "viewer"
    assert sorted(now["permissions"]) == ["analysis:read", "build:read"]


# --- maintenance ---------------------------------------------------------------------------------

def enable_maintenance(client: FlaskClient, admin: dict[str, str], message: str = "upgrade") -> TestResponse:
    return client.post(MAINTENANCE, json={"enabled": True, "message": message}, headers=admin)


def test_admin_switches_maintenance_on(client: FlaskClient, auth: AuthHeaders) -> None:
    # given
    admin = auth("admin")
    # when
    response = enable_maintenance(client, admin)
    # then
    assert response.status_code == 200
    body = response.get_json()
    assert body["enabled"] is True and body["message"] == "upgrade"
    assert body["changed_by"] == "admin-user"
    assert body["changed_at"].endswith("Z")


@pytest.mark.parametrize("role", ["viewer", "user"])
def test_non_admin_cannot_switch_maintenance(client: FlaskClient, auth: AuthHeaders, role: str) -> None:
    # when
    response = client.post(MAINTENANCE, json={"enabled": True, "message": "mine"}, headers=auth(role))
    # then
    assert_error(response, 403, "FORBIDDEN")


@pytest.mark.parametrize("role", ["viewer", "user"])
def test_maintenance_refuses_non_admin_writes_with_503(client: FlaskClient, auth: AuthHeaders, role: str) -> None:
    # given
    headers = auth(role)
    assert enable_maintenance(client, auth("admin")).status_code == 200
    # when
    response = client.post(LOGOUT, headers=headers)
    # then: refused, and nothing was done (the session is not logged out)
    error = assert_error(response, 503, "MAINTENANCE")
    assert error["message"] == "upgrade"
    assert client.get(ME, headers=headers).status_code == 200


def test_maintenance_keeps_reads_working(client: FlaskClient, auth: AuthHeaders) -> None:
    # given
    user = auth("user")
    enable_maintenance(client, auth("admin"))
    # when
    response = client.get(ME, headers=user)
    # then
    assert response.status_code == 200


def test_maintenance_lets_admin_writes_through(client: FlaskClient, auth: AuthHeaders) -> None:
    # given
    admin = auth("admin")
    enable_maintenance(client, admin)
    # when
    response = client.post(USERS, json={"username": "bob", "password": "longenough1"}, headers=admin)
    # then
    assert response.status_code == 201


def test_disabling_maintenance_restores_non_admin_writes(client: FlaskClient, auth: AuthHeaders) -> None:
    # given
    admin, user = auth("admin"), auth("user")
    enable_maintenance(client, admin)
    assert client.post(LOGOUT, headers=user).status_code == 503
    # when
    response = client.post(MAINTENANCE, json={"enabled": False}, headers=admin)
    # then
    assert response.status_code == 200 and response.get_json()["enabled"] is False
    assert client.post(LOGOUT, headers=user).status_code == 204


# --- rate limits ---------------------------------------------------------------------------------

def limited_app(make_app: Callable[..., Flask], **limits: str) -> FlaskClient:
    return make_app(RATE_LIMITS_ENABLED="true", **limits).test_client()


def test_anonymous_rate_limit_answers_429_after_the_limit(make_app: Callable[..., Flask]) -> None:
    # given
    client = limited_app(make_app, RATE_LIMIT_ANONYMOUS="3/minute")
    create_user("alice")
    credentials = {"username": "alice", "password": PASSWORD}
    # when
    allowed = [client.post(LOGIN, json=credentials) for _ in range(3)]
    refused = client.post(LOGIN, json=credentials)
    # then
    assert [r.status_code for r in allowed] == [200, 200, 200]
    assert_error(refused, 429, "RATE_LIMIT_EXCEEDED")
    assert "access_token" not in refused.get_json()


def test_rate_limited_responses_carry_the_rate_limit_headers(make_app: Callable[..., Flask]) -> None:
    # given
    client = limited_app(make_app, RATE_LIMIT_ANONYMOUS="3/minute")
    credentials = {"username": "nobody", "password": PASSWORD}
    # when
    responses = [client.post(LOGIN, json=credentials) for _ in range(4)]
    # then
    for response in responses:
        assert response.headers.get("X-RateLimit-Limit") == "3", dict(response.headers)
        assert int(response.headers["X-RateLimit-Reset"]) > 0
    assert [r.headers.get("X-RateLimit-Remaining") for r in responses] == ["2", "1", "0", "0"]
    assert responses[-1].status_code == 429


def test_health_is_never_rate_limited(make_app: Callable[..., Flask]) -> None:
    # given
    client = limited_app(make_app, RATE_LIMIT_ANONYMOUS="3/minute")
    # when
    statuses = [client.get("/health").status_code for _ in range(10)]
    # then
    assert statuses == [200] * 10


def test_rate_limits_switched_off_never_answer_429(make_app: Callable[..., Flask]) -> None:
    # given
    client = make_app(RATE_LIMITS_ENABLED="false", RATE_LIMIT_ANONYMOUS="3/minute").test_client()
    # when
    statuses = [client.post(LOGIN, json={"username": "nobody", "password": PASSWORD}).status_code
                for _ in range(6)]
    # then
    assert statuses == [401] * 6


def test_per_user_rate_limit_applies_to_authenticated_requests(make_app: Callable[..., Flask]) -> None:
    # given
    client = limited_app(make_app, RATE_LIMIT_USER="2/minute")
    create_user("alice")
    headers = bearer(login(client, "alice")["access_token"])
    # when
    responses = [client.get(ME, headers=headers) for _ in range(3)]
    # then
    assert [r.status_code for r in responses[:2]] == [200, 200]
    assert_error(responses[2], 429, "RATE_LIMIT_EXCEEDED")
    assert responses[0].headers.get("X-RateLimit-Limit") == "2"


def test_per_user_rate_limit_is_counted_per_user_not_per_address(make_app: Callable[..., Flask]) -> None:
    # given: alice has used up her limit; bob calls from the same address
    client = limited_app(make_app, RATE_LIMIT_USER="2/minute")
    create_user("alice")
    create_user("bob")
    alice = bearer(login(client, "alice")["access_token"])
    bob = bearer(login(client, "bob")["access_token"])
    for _ in range(2):
        client.get(ME, headers=alice)
    assert client.get(ME, headers=alice).status_code == 429
    # when
    response = client.get(ME, headers=bob)
    # then
    assert response.status_code == 200
