"""Roles: only admins list and create users, and a change of role takes effect on tokens already issued."""
from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from tests.support.auth import LOGIN, ME, USERS, AuthHeaders, user_id
from tests.support.envelope import assert_error


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
