"""The last-admin guard: the last active admin can be neither demoted, deactivated nor deleted."""
from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.support.auth import ME, USERS, AuthHeaders
from tests.support.envelope import assert_error
from tests.support.users import create_via_api, my_id


@pytest.mark.parametrize("change", [{"role": "user"}, {"role": "viewer"}, {"is_active": False}])
def test_last_admin_cannot_be_demoted_or_deactivated(client: FlaskClient, auth: AuthHeaders,
                                                     change: dict[str, Any]) -> None:
    # given: one admin, and other users who are not admins
    admin = auth("admin")
    auth("user")
    # when
    response = client.put(f"{USERS}/{my_id(client, admin)}", json=change, headers=admin)
    # then
    assert_error(response, 409, "CONFLICT")
    me = client.get(ME, headers=admin).get_json()
    assert me["role"] == "admin" and me["is_active"] is True


def test_last_admin_cannot_be_deleted(client: FlaskClient, auth: AuthHeaders) -> None:
    # given
    admin = auth("admin")
    # when
    response = client.delete(f"{USERS}/{my_id(client, admin)}", headers=admin)
    # then
    assert_error(response, 409, "CONFLICT")
    assert client.get(ME, headers=admin).status_code == 200


def test_inactive_admin_does_not_count_as_a_remaining_admin(client: FlaskClient, auth: AuthHeaders) -> None:
    # given: a second admin who is deactivated
    admin = auth("admin")
    other = create_via_api(client, admin, "other-admin", role="admin")
    assert client.put(f"{USERS}/{other['id']}", json={"is_active": False}, headers=admin).status_code == 200
    # when
    response = client.put(f"{USERS}/{my_id(client, admin)}", json={"role": "user"}, headers=admin)
    # then
    assert_error(response, 409, "CONFLICT")


def test_an_admin_can_be_demoted_or_deleted_while_another_admin_remains(client: FlaskClient,
                                                                        auth: AuthHeaders) -> None:
    # given
    admin = auth("admin")
    first = create_via_api(client, admin, "admin-two", role="admin")
    second = create_via_api(client, admin, "admin-three", role="admin")
    # when
    demoted = client.put(f"{USERS}/{first['id']}", json={"role": "user"}, headers=admin)
    deleted = client.delete(f"{USERS}/{second['id']}", headers=admin)
    # then
    assert demoted.status_code == 200 and demoted.get_json()["role"] == "user"
    assert deleted.status_code == 204
