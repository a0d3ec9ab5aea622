"""Helpers of the users API tests (tests/api/test_users_*.py): users in the database, and through the API."""
from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from models.db import db
from models.user import User
from tests.support.auth import LOGIN, ME, USERS


def user_count() -> int:
    with db.connection_context():
        return int(User.select().count())


def usernames() -> set[str]:
    with db.connection_context():
        return {user.username for user in User.select()}


def can_log_in(client: FlaskClient, username: str, password: str) -> bool:
    response = client.post(LOGIN, json={"username": username, "password": password})
    assert response.status_code in (200, 401), response.get_json()
    return response.status_code == 200


def create_via_api(client: FlaskClient, admin: dict[str, str], username: str, **fields: Any) -> dict[str, Any]:
    response = client.post(USERS, json={"username": username, "password": "longenough1", **fields}, headers=admin)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def my_id(client: FlaskClient, headers: dict[str, str]) -> int:
    return int(client.get(ME, headers=headers).get_json()["id"])
