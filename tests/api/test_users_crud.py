"""The admin's users API: the list envelope and its paging, create, get, put and delete by id with their
validation, and who may do what."""
from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.conftest import login
from tests.support.auth import ME, USERS, AuthHeaders
from tests.support.envelope import assert_error
from tests.support.users import can_log_in, create_via_api, my_id, user_count, usernames

# --- list ----------------------------------------------------------------------------------------

def test_list_answers_the_envelope_newest_first(client: FlaskClient, auth: AuthHeaders) -> None:
    # given: the admin, then three users in order
    admin = auth("admin")
    for name in ("u-one", "u-two", "u-three"):
        create_via_api(client, admin, name)
    # when
    response = client.get(USERS, headers=admin)
    # then
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"items", "total", "limit", "offset"}
    assert body["total"] == 4 and body["limit"] == 20 and body["offset"] == 0
    assert [item["username"] for item in body["items"]] == ["u-three", "u-two", "u-one", "admin-user"]
    ids = [item["id"] for item in body["items"]]
    assert ids == sorted(ids, reverse=True)
    assert all(not {"password", "password_hash"} & set(item) for item in body["items"])


def test_list_pages_with_limit_and_offset(client: FlaskClient, auth: AuthHeaders) -> None:
    # given
    admin = auth("admin")
    for name in ("u-one", "u-two", "u-three"):
        create_via_api(client, admin, name)
    # when
    body = client.get(USERS, query_string={"limit": 2, "offset": 1}, headers=admin).get_json()
    # then
    assert body["total"] == 4 and body["limit"] == 2 and body["offset"] == 1
    assert [item["username"] for item in body["items"]] == ["u-two", "u-one"]


def test_list_offset_past_the_end_answers_an_empty_page(client: FlaskClient, auth: AuthHeaders) -> None:
    # given
    admin = auth("admin")
    # when
    body = client.get(USERS, query_string={"offset": 50}, headers=admin).get_json()
    # then
    assert body["items"] == [] and body["total"] == 1


@pytest.mark.parametrize(("query", "field"), [
    ({"limit": 0}, "limit"), ({"limit": 101}, "limit"), ({"limit": "many"}, "limit"),
    ({"offset": -1}, "offset"), ({"offset": "x"}, "offset"),
])
def test_list_rejects_bad_paging_arguments_with_422(client: FlaskClient, auth: AuthHeaders,
                                                    query: dict[str, Any], field: str) -> None:
    # when
    response = client.get(USERS, query_string=query, headers=auth("admin"))
    # then
    error = assert_error(response, 422, "VALIDATION_ERROR")
    assert field in error["details"], error


@pytest.mark.parametrize("limit", [1, 100])
def test_list_accepts_the_limit_bounds(client: FlaskClient, auth: AuthHeaders, limit: int) -> None:
    # when
    response = client.get(USERS, query_string={"limit": limit}, headers=auth("admin"))
    # then
    assert response.status_code == 200 and response.get_json()["limit"] == limit


# --- create --------------------------------------------------------------------------------------

def test_create_answers_201_without_the_password(client: FlaskClient, auth: AuthHeaders) -> None:
    # given
    admin = auth("admin")
    # when
    response = client.post(USERS, json={"username": "bob", "password": "longenough1", "role": "viewer",
                                        "email": "bob@example.com"}, headers=admin)
    # then
    assert response.status_code == 201
    body = response.get_json()
    assert body["username"] == "bob" and body["role"] == "viewer" and body["email"] == "bob@example.com"
    assert isinstance(body["id"], int) and body["created_at"].endswith("Z")
    assert sorted(body["permissions"]) == ["analysis:read", "build:read"]
    assert "longenough1" not in response.get_data(as_text=True)
    assert not {"password", "password_hash"} & set(body)
    assert can_log_in(client, "bob", "longenough1")


def test_create_defaults_the_role_to_user(client: FlaskClient, auth: AuthHeaders) -> None:
    # when
    body = create_via_api(client, auth("admin"), "bob")
    # then
    assert body["role"] == "user" and body["email"] is None


def test_create_with_a_taken_username_answers_409(client: FlaskClient, auth: AuthHeaders) -> None:
    # given
    admin = auth("admin")
    create_via_api(client, admin, "bob")
    before = user_count()
    # when
    response = client.post(USERS, json={"username": "bob", "password": "different-pass"}, headers=admin)
    # then
    assert_error(response, 409, "CONFLICT")
    assert user_count() == before
    assert can_log_in(client, "bob", "longenough1")
    assert not can_log_in(client, "bob", "different-pass")


@pytest.mark.parametrize(("body", "field"), [
    ({"username": "bob", "password": "longenough1", "role": "superuser"}, "role"),
    ({"username": "bob", "password": "short12"}, "password"),
    ({"username": "bob", "password": "longenough1", "email": "not-an-email"}, "email"),
    ({"username": "bob", "password": "longenough1", "is_admin": True}, "is_admin"),
    ({"password": "longenough1"}, "username"),
    ({"username": "bob"}, "password"),
    ({"username": "b", "password": "longenough1"}, "username"),
    ({"username": "bob smith", "password": "longenough1"}, "username"),
])
def test_create_with_invalid_body_answers_422_and_creates_nothing(client: FlaskClient, auth: AuthHeaders,
                                                                  body: dict[str, Any], field: str) -> None:
    # given
    admin = auth("admin")
    before = user_count()
    # when
    response = client.post(USERS, json=body, headers=admin)
    # then
    error = assert_error(response, 422, "VALIDATION_ERROR")
    assert field in error["details"], error
    assert user_count() == before
    assert client.get(USERS, headers=admin).get_json()["total"] == before


def test_create_with_malformed_json_answers_400(client: FlaskClient, auth: AuthHeaders) -> None:
    # given
    admin = auth("admin")
    before = user_count()
    # when
    response = client.post(USERS, data="{not json", headers={**admin, "Content-Type": "application/json"})
    # then
    assert_error(response, 400, "BAD_REQUEST")
    assert user_count() == before


def test_create_without_a_token_answers_401_and_creates_nothing(client: FlaskClient) -> None:
    # when
    response = client.post(USERS, json={"username": "bob", "password": "longenough1"})
    # then
    assert_error(response, 401, "UNAUTHORIZED")
    assert user_count() == 0


# --- get, put, delete by id ----------------------------------------------------------------------

def test_get_by_id_answers_the_user(client: FlaskClient, auth: AuthHeaders) -> None:
    # given
    admin = auth("admin")
    created = create_via_api(client, admin, "bob", email="bob@example.com")
    # when
    response = client.get(f"{USERS}/{created['id']}", headers=admin)
    # then
    assert response.status_code == 200
    assert response.get_json()["username"] == "bob"
    assert response.get_json()["email"] == "bob@example.com"


def test_put_changes_role_and_email(client: FlaskClient, auth: AuthHeaders) -> None:
    # given
    admin = auth("admin")
    created = create_via_api(client, admin, "bob")
    # when
    response = client.put(f"{USERS}/{created['id']}", json={"role": "viewer", "email": "b@example.com"},
                          headers=admin)
    # then
    assert response.status_code == 200
    assert response.get_json()["role"] == "viewer"
    fetched = client.get(f"{USERS}/{created['id']}", headers=admin).get_json()
    assert fetched["role"] == "viewer" and fetched["email"] == "b@example.com"
    assert fetched["username"] == "bob"


@pytest.mark.parametrize(("body", "field"), [
    ({"role": "root"}, "role"), ({"password": "short"}, "password"), ({"email": "nope"}, "email"),
    ({"username": "renamed"}, "username"), ({"is_active": "perhaps"}, "is_active"),
])
def test_put_with_invalid_body_answers_422_and_changes_nothing(client: FlaskClient, auth: AuthHeaders,
                                                               body: dict[str, Any], field: str) -> None:
    # given
    admin = auth("admin")
    created = create_via_api(client, admin, "bob", email="bob@example.com")
    # when
    response = client.put(f"{USERS}/{created['id']}", json=body, headers=admin)
    # then
    error = assert_error(response, 422, "VALIDATION_ERROR")
    assert field in error["details"], error
    fetched = client.get(f"{USERS}/{created['id']}", headers=admin).get_json()
    assert {k: fetched[k] for k in ("username", "role", "email", "is_active")} == {
        "username": "bob", "role": "user", "email": "bob@example.com", "is_active": True}
    assert can_log_in(client, "bob", "longenough1")


def test_put_password_lets_the_user_log_in_with_the_new_one(client: FlaskClient, auth: AuthHeaders) -> None:
    # given
    admin = auth("admin")
    created = create_via_api(client, admin, "bob")
    # when
    response = client.put(f"{USERS}/{created['id']}", json={"password": "brand-new-secret"}, headers=admin)
    # then
    assert response.status_code == 200
    assert "brand-new-secret" not in response.get_data(as_text=True)
    assert can_log_in(client, "bob", "brand-new-secret")
    assert not can_log_in(client, "bob", "longenough1")


def test_delete_answers_204_and_the_user_is_gone(client: FlaskClient, auth: AuthHeaders) -> None:
    # given
    admin = auth("admin")
    created = create_via_api(client, admin, "bob")
    # when
    response = client.delete(f"{USERS}/{created['id']}", headers=admin)
    # then
    assert response.status_code == 204
    assert_error(client.get(f"{USERS}/{created['id']}", headers=admin), 404, "NOT_FOUND")
    assert "bob" not in usernames()
    assert not can_log_in(client, "bob", "longenough1")


@pytest.mark.local_receivers
def test_deleting_a_user_refreshes_the_cached_views_others_see(client: FlaskClient, auth: AuthHeaders) -> None:
    """The admins' cached webhooks list held the user's endpoint: it goes with the user, at once."""
    admin = auth("admin")
    create_via_api(client, admin, "bob")
    bob = {"Authorization": f"Bearer {login(client, 'bob', 'longenough1')['access_token']}"}
    hook = client.post("/api/v1/webhooks", headers=bob, json={"name": "bob's", "url": "http://127.0.0.1:9/h",
                                                                "events": ["build.*"]})
    assert hook.status_code == 201

    def admin_sees() -> list[str]:
        listed = [w["name"] for w in client.get("/api/v1/webhooks", headers=admin).get_json()["items"]]
        assert [w["name"] for w in client.get("/api/v1/webhooks", headers=admin).get_json()["items"]] == listed
        return listed

    assert admin_sees() == ["bob's"]
    assert client.delete(f"{USERS}/{my_id(client, bob)}", headers=admin).status_code == 204
    assert admin_sees() == []


@pytest.mark.parametrize("method", ["get", "put", "delete"])
def test_unknown_id_answers_404_envelope(client: FlaskClient, auth: AuthHeaders, method: str) -> None:
    # given
    admin = auth("admin")
    before = user_count()
    # when
    response = client.open(f"{USERS}/999999", method=method.upper(), json={"role": "viewer"}, headers=admin)
    # then
    error = assert_error(response, 404, "NOT_FOUND")
    assert "999999" in error["message"]
    assert user_count() == before


@pytest.mark.parametrize("role", ["user", "viewer"])
def test_non_admin_cannot_read_change_or_delete_users_by_id(client: FlaskClient, auth: AuthHeaders,
                                                            role: str) -> None:
    # given
    admin, caller = auth("admin"), auth(role)
    target = create_via_api(client, admin, "bob")
    url = f"{USERS}/{target['id']}"
    # when / then
    assert_error(client.get(url, headers=caller), 403, "FORBIDDEN")
    assert_error(client.put(url, json={"role": "admin"}, headers=caller), 403, "FORBIDDEN")
    assert_error(client.delete(url, headers=caller), 403, "FORBIDDEN")
    assert client.get(url, headers=admin).get_json()["role"] == "user"


def test_user_cannot_promote_themselves(client: FlaskClient, auth: AuthHeaders) -> None:
    # given
    user = auth("user")
    # when
    response = client.put(f"{USERS}/{my_id(client, user)}", json={"role": "admin"}, headers=user)
    # then
    assert_error(response, 403, "FORBIDDEN")
    assert client.get(ME, headers=user).get_json()["role"] == "user"


def test_password_change_ends_the_users_existing_sessions(client: FlaskClient, auth: Any) -> None:
    admin = auth("admin")
    user_headers = auth("user", username="dora")
    user_id = client.get("/api/v1/users/me", headers=user_headers).get_json()["id"]
    assert client.put(f"/api/v1/users/{user_id}", headers=admin,
                      json={"password": "a-brand-new-password"}).status_code == 200
    assert client.get("/api/v1/users/me", headers=user_headers).status_code == 401
