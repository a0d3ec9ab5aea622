"""Maintenance mode: only admins switch it; it refuses non-admin writes with 503 and keeps reads and admin
writes working."""
from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.support.auth import LOGOUT, ME, USERS, AuthHeaders
from tests.support.envelope import assert_error

MAINTENANCE = "/api/v1/admin/maintenance"


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
