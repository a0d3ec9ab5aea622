"""Yourself: /users/me in its documented shape, with the permissions of your role."""
from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient

from tests.support.auth import ME, AuthHeaders

USER_PERMISSIONS = sorted([
    "build:create", "build:read", "build:cancel", "analysis:create", "analysis:read",
    "webhook:manage", "alert:manage", "metrics:write", "cluster:manage", "engineering:manage",
])
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def test_me_returns_the_documented_shape(client: FlaskClient, auth: AuthHeaders) -> None:
    # given
    headers = auth("user", username="alice")
    # when
    response = client.get(ME, headers=headers)
    # then
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) >= {"id", "username", "email", "role", "permissions", "created_at"}
    assert isinstance(body["id"], int)
    assert body["username"] == "alice"
    assert body["email"] is None
    assert body["role"] == "user"
    assert sorted(body["permissions"]) == USER_PERMISSIONS
    assert ISO_UTC.match(body["created_at"]), body["created_at"]
    assert body["created_at"].endswith("Z")
    assert not {"password", "password_hash"} & set(body)


@pytest.mark.parametrize(("role", "has_admin"), [("admin", True), ("user", False), ("viewer", False)])
def test_me_lists_the_permissions_of_the_role(client: FlaskClient, auth: AuthHeaders, role: str,
                                              has_admin: bool) -> None:
    # when
    body = client.get(ME, headers=auth(role)).get_json()
    # then
    assert body["role"] == role
    assert ("admin" in body["permissions"]) is has_admin
    assert "build:read" in body["permissions"]


def test_viewer_has_only_read_permissions(client: FlaskClient, auth: AuthHeaders) -> None:
    # when
    body = client.get(ME, headers=auth("viewer")).get_json()
    # then
    assert sorted(body["permissions"]) == ["analysis:read", "build:read"]
