"""`PUT /api/v1/users/me {name, email}`: your own profile. A new email is nobody else's (409); on an account
with a password it comes with that password (missing 422, wrong 403) and nothing changes otherwise."""
from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from models.db import db
from models.user import User
from tests.conftest import PASSWORD, create_user, login
from tests.support.auth import ME, bearer
from tests.support.envelope import assert_error


def signed_in(client: FlaskClient, username: str, email: str | None = None) -> dict[str, str]:
    user = create_user(username)
    with db.connection_context():
        User.update(email=email).where(User.id == user.id).execute()
    return bearer(login(client, username)["access_token"])


def stored(username: str) -> tuple[Any, ...]:
    with db.connection_context():
        user = User.get(User.username == username)
        return user.name, user.email, user.updated_at


def test_a_user_changes_their_name_without_a_password(client: FlaskClient) -> None:
    headers = signed_in(client, "alice", "alice@example.com")
    before = stored("alice")
    response = client.put(ME, json={"name": "Alice Liddell"}, headers=headers)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["name"], body["email"]) == ("Alice Liddell", "alice@example.com")
    assert {"avatar_url", "login", "updated_at"} <= set(body) and body["updated_at"].endswith("Z")
    assert stored("alice")[:2] == ("Alice Liddell", "alice@example.com") and stored("alice")[2] > before[2]
    assert client.get(ME, headers=headers).get_json()["name"] == "Alice Liddell"


def test_a_new_email_needs_the_current_password(client: FlaskClient) -> None:
    headers = signed_in(client, "alice", "alice@example.com")
    before = stored("alice")
    missing = assert_error(client.put(ME, json={"email": "new@example.com"}, headers=headers), 422, "VALIDATION_ERROR")
    assert "current_password" in missing["details"]
    assert_error(client.put(ME, json={"email": "new@example.com", "current_password": "wrong-one", "name": "X"},
                            headers=headers), 403, "FORBIDDEN")
    assert stored("alice") == before
    ok = client.put(ME, json={"email": "new@example.com", "current_password": PASSWORD}, headers=headers)
    assert ok.status_code == 200 and ok.get_json()["email"] == "new@example.com"
    assert client.get(ME, headers=headers).status_code == 200  # the session goes on


def test_the_same_email_in_another_case_is_no_change(client: FlaskClient) -> None:
    headers = signed_in(client, "alice", "alice@example.com")
    assert client.put(ME, json={"email": "Alice@Example.com"}, headers=headers).status_code == 200


def test_another_accounts_email_answers_409(client: FlaskClient) -> None:
    signed_in(client, "bob", "bob@example.com")
    headers = signed_in(client, "alice", "alice@example.com")
    before = stored("alice")
    assert_error(client.put(ME, json={"email": "BOB@example.com", "current_password": PASSWORD}, headers=headers),
                 409, "CONFLICT")
    assert stored("alice") == before


def test_an_account_without_a_password_changes_its_email_without_one(client: FlaskClient) -> None:
    headers = signed_in(client, "octocat", "octo@example.com")
    with db.connection_context():
        user = User.get(User.username == "octocat")
        user.set_unusable_password()
        User.update(password_hash=user.password_hash).where(User.id == user.id).execute()
    response = client.put(ME, json={"email": "octo@new.example"}, headers=headers)
    assert response.status_code == 200 and response.get_json()["email"] == "octo@new.example"


def test_bad_profile_bodies_change_nothing(client: FlaskClient) -> None:
    headers = signed_in(client, "alice", "alice@example.com")
    before = stored("alice")
    for body in ({"email": "not-an-email"}, {"name": "x" * 256}, {"role": "admin"}, {"username": "root"}):
        assert_error(client.put(ME, json=body, headers=headers), 422, "VALIDATION_ERROR")
    assert_error(client.put(ME, headers=headers), 400, "BAD_REQUEST")
    assert stored("alice") == before and client.get(ME, headers=headers).get_json()["role"] == "user"
    assert_error(client.put(ME, json={"name": "X"}), 401, "UNAUTHORIZED")
