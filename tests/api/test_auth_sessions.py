"""Sessions: refresh, logout (revoking access and refresh token at once, in every API process, past a Redis
restart), and the tokens of users who are deleted or deactivated."""
from __future__ import annotations

from typing import Any

import jwt
import redis
from flask.testing import FlaskClient

from tests.conftest import PASSWORD, TEST_SECRET, create_user, login
from tests.support.auth import (
    LOGIN,
    LOGOUT,
    REFRESH,
    USERS,
    AuthHeaders,
    bearer,
    get_me,
    refresh,
    sign,
    user_id,
    valid_claims,
)
from tests.support.envelope import assert_error

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
