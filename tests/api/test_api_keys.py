"""API keys: made, listed and revoked by their owner; shown once and stored as a digest; what a key may do is
its scopes within its owner's role of the moment; a revoked, expired or orphaned key is refused alike."""
from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from models.api_key import ApiKey
from models.db import db, utc_naive
from models.user import User
from tests.support.api_keys import KEYS, bearer_key, make_key, with_key
from tests.support.audit import entries, only_entry
from tests.support.auth import ME, user_id
from tests.support.envelope import assert_envelope, assert_error
from tests.support.tasks import make_project

SHOWN = {"id", "name", "prefix", "scopes", "status", "user_id", "owner", "rate_limit", "created_at", "expires_at",
         "revoked_at", "last_used_at"}


def key_row(key_id: int) -> ApiKey:
    with db.connection_context():
        return ApiKey.get_by_id(key_id)


# --- making, reading, revoking ------------------------------------------------------------------------------------


def test_a_new_key_is_shown_once_and_never_again(client: FlaskClient, auth: Any) -> None:
    # given
    alice = auth("user", "alice")
    # when
    made = make_key(client, alice, ["build:read", "analysis:read", "build:read"], name="deploy bot")
    listed = client.get(KEYS, headers=alice).get_json()
    one = client.get(f"{KEYS}/{made['id']}", headers=alice).get_json()
    # then
    assert re.fullmatch(r"cvk_[0-9A-Za-z]{43}", made["key"]), made["key"]
    assert set(made) == SHOWN | {"key"}
    assert made["prefix"] == made["key"][:12] and made["status"] == "active"
    assert made["scopes"] == ["analysis:read", "build:read"] and made["owner"] == "alice"
    assert made["expires_at"] is None and made["rate_limit"] is None and made["last_used_at"] is None
    assert listed["total"] == 1 and set(listed["items"][0]) == SHOWN
    assert set(one) == SHOWN and one["prefix"] == made["prefix"]
    for text in (str(listed), str(one)):
        assert made["key"] not in text and made["key"][12:] not in text
        assert hashlib.sha256(made["key"].encode()).hexdigest() not in text


def test_the_database_keeps_a_digest_of_the_key_never_the_key(client: FlaskClient, auth: Any) -> None:
    made = make_key(client, auth("user"), ["build:read"])
    secret = made["key"]
    assert key_row(made["id"]).key_hash == hashlib.sha256(secret.encode()).hexdigest()
    with db.connection_context():
        row = db.execute_sql('SELECT * FROM "api_key"').fetchall()
    stored = " ".join(str(value) for value in row[0])
    assert secret not in stored and secret[12:] not in stored and secret[4:12] in stored  # only the prefix


def test_two_keys_differ_and_each_authenticates_as_its_owner(client: FlaskClient, auth: Any) -> None:
    alice = auth("user", "alice")
    first, second = (make_key(client, alice, ["build:read"], name=n)["key"] for n in ("one", "two"))
    assert first != second
    for secret in (first, second):
        response = client.get(ME, headers=with_key(secret))
        assert response.status_code == 200 and response.get_json()["username"] == "alice"


def test_the_x_api_key_header_and_a_bearer_key_both_work(client: FlaskClient, auth: Any) -> None:
    secret = make_key(client, auth("user"), ["build:read"])["key"]
    assert client.get("/api/v1/builds", headers=with_key(secret)).status_code == 200
    assert client.get("/api/v1/builds", headers=bearer_key(secret)).status_code == 200
    assert client.get("/api/v1/builds", headers={"x-api-key": f"  {secret} "}).status_code == 200


def test_a_key_with_a_scope_its_owner_lacks_is_refused_403_and_not_made(client: FlaskClient, auth: Any) -> None:
    viewer = auth("viewer")
    body = {"name": "x", "scopes": ["build:read", "build:create"]}
    error = assert_error(client.post(KEYS, headers=viewer, json=body), 403, "FORBIDDEN")
    assert error["details"] == {"scopes": ["build:create"]}
    assert client.get(KEYS, headers=viewer).get_json()["total"] == 0
    assert make_key(client, viewer, ["build:read"])["scopes"] == ["build:read"]  # what a viewer has is fine


@pytest.mark.parametrize(("body", "field"), [
    ({"name": "x", "scopes": ["build:everything"]}, "scopes"),
    ({"name": "x", "scopes": []}, "scopes"),
    ({"name": "x"}, "scopes"),
    ({"scopes": ["build:read"]}, "name"),
    ({"name": "", "scopes": ["build:read"]}, "name"),
    ({"name": "x", "scopes": ["build:read"], "expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
    ({"name": "x", "scopes": ["build:read"], "expires_at": "soon"}, "expires_at"),
    ({"name": "x", "scopes": ["build:read"], "key": "cvk_" + "a" * 43}, "key"),
    ({"name": "x", "scopes": ["build:read"], "rate_limit": 10}, "rate_limit"),
])
def test_an_invalid_key_request_is_422_naming_the_field(
        client: FlaskClient, auth: Any, body: dict[str, Any], field: str) -> None:
    user = auth("user")
    assert field in assert_error(client.post(KEYS, headers=user, json=body), 422, "VALIDATION_ERROR")["details"]
    assert client.get(KEYS, headers=user).get_json()["total"] == 0


def test_an_expiry_is_kept_and_a_bare_date_lasts_its_whole_day(client: FlaskClient, auth: Any) -> None:
    user = auth("user")
    moment = make_key(client, user, ["build:read"], expires_at="2999-01-02T03:04:05+02:00")
    day = make_key(client, user, ["build:read"], expires_at="2999-01-02")
    assert moment["expires_at"] == "2999-01-02T01:04:05.000Z"
    assert day["expires_at"] == "2999-01-03T00:00:00.000Z"


def test_users_see_only_their_keys_admins_see_all_and_filter_by_user(client: FlaskClient, auth: Any) -> None:
    alice, bob, admin = auth("user", "alice"), auth("user", "bob"), auth("admin", "root")
    mine = make_key(client, alice, ["build:read"], name="alice-1")
    make_key(client, bob, ["build:read"], name="bob-1")
    make_key(client, bob, ["build:read"], name="bob-2")
    assert [k["name"] for k in client.get(KEYS, headers=alice).get_json()["items"]] == ["alice-1"]
    # a user's filter cannot reach past their own keys
    assert client.get(KEYS, headers=alice, query_string={"user_id": user_id(client, bob)}).get_json()["total"] == 0
    everyone = client.get(KEYS, headers=admin).get_json()
    assert [k["name"] for k in everyone["items"]] == ["bob-2", "bob-1", "alice-1"]  # newest first
    bobs = client.get(KEYS, headers=admin, query_string={"user_id": user_id(client, bob), "limit": 1}).get_json()
    assert bobs["total"] == 2 and bobs["limit"] == 1 and [k["owner"] for k in bobs["items"]] == ["bob"]
    assert_envelope(client.get(f"{KEYS}/{mine['id']}", headers=bob), 404, "NOT_FOUND")
    assert client.get(f"{KEYS}/{mine['id']}", headers=admin).status_code == 200


def test_revoking_stops_the_key_at_once_and_keeps_it_listed_as_revoked(client: FlaskClient, auth: Any) -> None:
    alice = auth("user", "alice")
    made = make_key(client, alice, ["build:read"])
    assert client.get("/api/v1/builds", headers=with_key(made["key"])).status_code == 200
    # when
    assert client.delete(f"{KEYS}/{made['id']}", headers=alice).status_code == 204
    # then
    assert_error(client.get("/api/v1/builds", headers=with_key(made["key"])), 401, "UNAUTHORIZED")
    shown = client.get(f"{KEYS}/{made['id']}", headers=alice).get_json()
    assert shown["status"] == "revoked" and shown["revoked_at"].endswith("Z")
    assert client.delete(f"{KEYS}/{made['id']}", headers=alice).status_code == 204  # again: nothing changes
    assert client.get(f"{KEYS}/{made['id']}", headers=alice).get_json()["revoked_at"] == shown["revoked_at"]
    # the audit log: the key's creation and its one revocation, by alice, naming the key by its visible prefix
    assert [(e["action"], e["actor_label"], e["target_id"], e["details"]) for e in entries()
            if e["action"].startswith("api_key.")] == [
        (action, "alice", str(made["id"]), {"name": made["name"], "prefix": made["prefix"], "scopes": ["build:read"]})
        for action in ("api_key.create", "api_key.revoke")]


def test_a_key_revoked_on_one_api_process_is_refused_by_another_on_its_next_request(
        make_app: Any, auth: Any, client: FlaskClient) -> None:
    """No process keeps a key it has seen: the second app, which has just served the key, refuses it next."""
    alice = auth("user", "alice")
    made = make_key(client, alice, ["build:read"])
    other: FlaskClient = make_app().test_client()
    assert other.get("/api/v1/builds", headers=with_key(made["key"])).status_code == 200
    # when: revoked through the first
    assert client.delete(f"{KEYS}/{made['id']}", headers=alice).status_code == 204
    # then
    assert_error(other.get("/api/v1/builds", headers=with_key(made["key"])), 401, "UNAUTHORIZED")


def test_an_admin_revokes_anyones_key_and_others_cannot(client: FlaskClient, auth: Any) -> None:
    alice, bob, admin = auth("user", "alice"), auth("user", "bob"), auth("admin")
    made = make_key(client, alice, ["build:read"])
    assert_envelope(client.delete(f"{KEYS}/{made['id']}", headers=bob), 404, "NOT_FOUND")
    assert client.get(ME, headers=with_key(made["key"])).status_code == 200
    assert client.delete(f"{KEYS}/{made['id']}", headers=admin).status_code == 204
    assert client.get(ME, headers=with_key(made["key"])).status_code == 401
    assert only_entry("api_key.revoke")["actor_label"] == User.get_by_id(user_id(client, admin)).username


# --- what a key may do --------------------------------------------------------------------------------------------


def test_a_build_read_key_lists_builds_but_cannot_start_one(client: FlaskClient, auth: Any) -> None:
    user = auth("user")
    make_project(client, user)
    secret = make_key(client, user, ["build:read"])["key"]
    assert client.get("/api/v1/builds", headers=with_key(secret)).status_code == 200
    refused = assert_error(client.post("/api/v1/builds", headers=with_key(secret), json={"project_name": "demo"}),
                           403, "FORBIDDEN")
    assert "build:create" in refused["message"]
    assert client.get("/api/v1/builds", headers=user).get_json()["total"] == 0
    # the owner's session, and a key with the scope, can
    assert client.post("/api/v1/builds", headers=user, json={"project_name": "demo"}).status_code == 202
    creator = make_key(client, user, ["build:create"], name="creator")["key"]
    assert client.post("/api/v1/builds", headers=with_key(creator), json={"project_name": "demo"}).status_code == 202


def test_demoting_the_owner_takes_the_keys_power_on_the_next_request(client: FlaskClient, auth: Any) -> None:
    admin, user = auth("admin"), auth("user", "alice")
    make_project(client, user)
    secret = make_key(client, user, ["build:create", "build:read"])["key"]
    assert client.post("/api/v1/builds", headers=with_key(secret), json={"project_name": "demo"}).status_code == 202
    # when
    changed = client.put(f"/api/v1/users/{user_id(client, user)}", headers=admin, json={"role": "viewer"})
    assert changed.status_code == 200
    # then: the scope the viewer role lacks is gone; the one it has stays
    assert_error(client.post("/api/v1/builds", headers=with_key(secret), json={"project_name": "demo"}),
                 403, "FORBIDDEN")
    assert client.get("/api/v1/builds", headers=with_key(secret)).status_code == 200
    # and promoting back gives it back: the scopes were never changed, only bounded
    client.put(f"/api/v1/users/{user_id(client, user)}", headers=admin, json={"role": "user"})
    assert client.post("/api/v1/builds", headers=with_key(secret), json={"project_name": "demo"}).status_code == 202


def test_an_admins_key_without_the_admin_scope_cannot_use_admin_routes(client: FlaskClient, auth: Any) -> None:
    admin = auth("admin")
    plain = make_key(client, admin, ["build:read"])["key"]
    full = make_key(client, admin, ["admin", "build:read"], name="full")["key"]
    assert_error(client.get("/api/v1/users", headers=with_key(plain)), 403, "FORBIDDEN")
    assert client.get("/api/v1/users", headers=with_key(full)).status_code == 200


def test_a_deactivated_or_deleted_owners_keys_stop_working(client: FlaskClient, auth: Any) -> None:
    admin, alice, bob = auth("admin"), auth("user", "alice"), auth("user", "bob")
    alices = make_key(client, alice, ["build:read"])["key"]
    bobs = make_key(client, bob, ["build:read"])["key"]
    client.put(f"/api/v1/users/{user_id(client, alice)}", headers=admin, json={"is_active": False})
    client.delete(f"/api/v1/users/{user_id(client, bob)}", headers=admin)
    for secret in (alices, bobs):
        assert_error(client.get(ME, headers=with_key(secret)), 401, "UNAUTHORIZED")
    with db.connection_context():
        assert ApiKey.select().count() == 1  # bob's went with him


def test_every_refused_key_gets_the_same_401(client: FlaskClient, auth: Any, app: Flask) -> None:
    """Malformed, unknown, expired, revoked, or its owner deactivated: one answer, so nothing tells them apart."""
    admin, user = auth("admin"), auth("user", "alice")
    expired, revoked, orphan = (make_key(client, user, ["build:read"], name=n) for n in ("e", "r", "o"))
    with db.connection_context():
        ApiKey.update(expires_at=utc_naive() - timedelta(seconds=1)).where(ApiKey.id == expired["id"]).execute()
    client.delete(f"{KEYS}/{revoked['id']}", headers=user)
    live = make_key(client, admin, ["build:read"])["key"]
    unknown = live[:-1] + ("A" if live[-1] != "A" else "B")
    with db.connection_context():
        User.update(is_active=False).where(User.username == "alice").execute()
    refused = ["cvk_", "cvk_short", "cvk_" + "!" * 43, live + "x", unknown, expired["key"], revoked["key"],
               orphan["key"], "not-a-key-at-all"]
    answers = []
    for secret in refused:
        for headers in (with_key(secret), bearer_key(secret)):
            if headers.get("Authorization") == "Bearer not-a-key-at-all":
                continue  # that one is a (bad) access token
            error = assert_error(client.get("/api/v1/builds", headers=headers), 401, "UNAUTHORIZED")
            answers.append(error["message"])
    assert set(answers) == {"Invalid API key"}
    assert client.get("/api/v1/builds", headers=with_key(live)).status_code == 200
    shown = client.get(f"{KEYS}/{expired['id']}", headers=admin).get_json()
    assert shown["status"] == "expired"


def test_the_x_api_key_header_wins_over_an_access_token(client: FlaskClient, auth: Any) -> None:
    admin = auth("admin")
    secret = make_key(client, admin, ["build:read"])["key"]
    both = {**admin, **with_key(secret)}
    assert_error(client.get("/api/v1/users", headers=both), 403, "FORBIDDEN")  # the key's scopes, not the session's
    assert_error(client.get("/api/v1/users", headers={**admin, "X-API-Key": "cvk_wrong"}), 401, "UNAUTHORIZED")


# --- what needs a session -----------------------------------------------------------------------------------------


def test_a_key_cannot_make_list_change_or_revoke_keys(client: FlaskClient, auth: Any) -> None:
    admin = auth("admin")
    made = make_key(client, admin, ["admin", "build:read"])
    key = with_key(made["key"])
    for method, path, body in (("POST", KEYS, {"name": "child", "scopes": ["build:read"]}), ("GET", KEYS, None),
                               ("GET", f"{KEYS}/{made['id']}", None), ("PATCH", f"{KEYS}/{made['id']}", {"name": "n"}),
                               ("DELETE", f"{KEYS}/{made['id']}", None)):
        error = assert_error(client.open(path, method=method, headers=key, json=body), 403, "FORBIDDEN")
        assert "signed-in session" in error["message"]
    assert client.get(KEYS, headers=admin).get_json()["total"] == 1
    assert client.get(ME, headers=key).status_code == 200  # still a working key


def test_a_key_cannot_log_out_or_manage_users(client: FlaskClient, auth: Any) -> None:
    admin = auth("admin")
    key = with_key(make_key(client, admin, ["admin"])["key"])
    me = user_id(client, admin)
    assert_error(client.post("/api/v1/auth/logout", headers=key), 403, "FORBIDDEN")
    assert_error(client.post("/api/v1/users", headers=key, json={"username": "backdoor", "password": "x" * 12}),
                 403, "FORBIDDEN")
    assert_error(client.put(f"/api/v1/users/{me}", headers=key, json={"password": "y" * 12}), 403, "FORBIDDEN")
    assert_error(client.delete(f"/api/v1/users/{me}", headers=key), 403, "FORBIDDEN")
    assert client.get("/api/v1/users", headers=key).status_code == 200  # reading them is fine with `admin`


# --- renaming and the rate limit ----------------------------------------------------------------------------------


def test_owners_rename_their_keys_only_admins_set_a_rate_limit(client: FlaskClient, auth: Any) -> None:
    alice, admin = auth("user", "alice"), auth("admin")
    made = make_key(client, alice, ["build:read"])
    path = f"{KEYS}/{made['id']}"
    assert client.patch(path, headers=alice, json={"name": "renamed"}).get_json()["name"] == "renamed"
    assert_error(client.patch(path, headers=alice, json={"rate_limit": 10_000}), 403, "FORBIDDEN")
    assert client.patch(path, headers=admin, json={"rate_limit": 5000}).get_json()["rate_limit"] == 5000
    assert client.get(path, headers=alice).get_json()["rate_limit"] == 5000
    assert client.patch(path, headers=admin, json={"rate_limit": None}).get_json()["rate_limit"] is None
    for bad in ({"rate_limit": 0}, {"name": ""}, {"scopes": ["admin"]}, {"rate_limit": "lots"}):
        assert_error(client.patch(path, headers=admin, json=bad), 422, "VALIDATION_ERROR")
    assert key_row(made["id"]).scopes == ["build:read"]
