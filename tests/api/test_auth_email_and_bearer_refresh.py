"""Login by email (in `username`, or an `email` field as seed 004 sends it) and a refresh with the refresh
token as the Bearer token (seed 004) as well as in the body."""
from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from models.db import db
from models.user import User
from tests.conftest import PASSWORD, create_user, login
from tests.support.auth import LOGIN, ME, REFRESH, bearer
from tests.support.envelope import assert_error


def with_email(username: str, email: str) -> User:
    user = create_user(username)
    with db.connection_context():
        User.update(email=email).where(User.id == user.id).execute()
    return user


@pytest.mark.parametrize("body", [{"username": "Alice@Example.com"}, {"email": "alice@example.com"}])
def test_login_by_email_signs_in_its_one_account(client: FlaskClient, body: dict[str, str]) -> None:
    with_email("alice", "alice@example.com")
    response = client.post(LOGIN, json={**body, "password": PASSWORD})
    assert response.status_code == 200, response.get_json()
    assert client.get(ME, headers=bearer(response.get_json()["access_token"])).get_json()["username"] == "alice"


def test_login_by_email_with_a_wrong_password_answers_as_an_unknown_one(client: FlaskClient) -> None:
    with_email("alice", "alice@example.com")
    wrong = assert_error(client.post(LOGIN, json={"email": "alice@example.com", "password": "nope-nope"}),
                         401, "UNAUTHORIZED")
    unknown = assert_error(client.post(LOGIN, json={"email": "bob@example.com", "password": PASSWORD}),
                           401, "UNAUTHORIZED")
    assert wrong["message"] == unknown["message"]


def test_an_email_two_accounts_share_signs_in_neither(client: FlaskClient) -> None:
    with_email("alice", "shared@example.com")
    with_email("alice2", "SHARED@example.com")
    assert_error(client.post(LOGIN, json={"email": "shared@example.com", "password": PASSWORD}), 401, "UNAUTHORIZED")


@pytest.mark.parametrize("body", [{"password": PASSWORD}, {"username": "alice", "email": "a@example.com",
                                                           "password": PASSWORD}])
def test_login_needs_a_username_or_an_email_not_both(client: FlaskClient, body: dict[str, str]) -> None:
    create_user("alice")
    assert "username" in assert_error(client.post(LOGIN, json=body), 422, "VALIDATION_ERROR")["details"]


def test_refresh_takes_the_refresh_token_as_the_bearer_token(client: FlaskClient) -> None:
    create_user("alice")
    tokens = login(client, "alice")
    response = client.post(REFRESH, headers=bearer(tokens["refresh_token"]))
    assert response.status_code == 200, response.get_json()
    assert client.get(ME, headers=bearer(response.get_json()["access_token"])).status_code == 200


def test_refresh_by_bearer_refuses_an_access_token_and_no_token_at_all(client: FlaskClient) -> None:
    create_user("alice")
    tokens = login(client, "alice")
    assert_error(client.post(REFRESH, headers=bearer(tokens["access_token"])), 401, "UNAUTHORIZED")
    assert "refresh_token" in assert_error(client.post(REFRESH), 422, "VALIDATION_ERROR")["details"]
    assert_error(client.post(REFRESH, data="{", content_type="application/json"), 400, "BAD_REQUEST")
