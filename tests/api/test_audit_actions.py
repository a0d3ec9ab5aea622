"""Each audited action writes exactly one entry, with its actor, target and the client's address and agent, in
the transaction of its change: a refused or failed change writes none."""
from __future__ import annotations

import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from models.db import db
from models.user import User
from tests.conftest import PASSWORD, create_user
from tests.support.audit import entries, only_entry
from tests.support.auth import LOGIN, USERS, AuthHeaders, user_id
from tests.support.envelope import assert_error
from tests.support.processes import free_port

AGENT = {"User-Agent": "audit-test/1.0"}


def test_a_login_records_who_from_where(client: FlaskClient) -> None:
    user = create_user("alice")
    response = client.post(LOGIN, json={"username": "alice", "password": PASSWORD}, headers=AGENT)
    assert response.status_code == 200
    entry = only_entry("auth.login")
    assert (entry["actor_id"], entry["actor_label"]) == (user.id, "alice")
    assert (entry["target_type"], entry["target_id"]) == ("user", str(user.id))
    assert (entry["remote_addr"], entry["user_agent"]) == ("127.0.0.1", "audit-test/1.0")
    assert entries("auth.login_failed") == []


def test_failed_logins_record_the_username_tried_and_never_the_password(client: FlaskClient) -> None:
    create_user("alice")
    for username in ("alice", "nobody-here"):
        response = client.post(LOGIN, json={"username": username, "password": "a-Wrong-Guess-1618"})
        assert_error(response, 401, "UNAUTHORIZED")
    failed = entries("auth.login_failed")
    assert [(e["actor_id"], e["actor_label"]) for e in failed] == [(None, "alice"), (None, "nobody-here")]
    assert "a-Wrong-Guess-1618" not in repr(entries())
    assert entries("auth.login") == []


def test_creating_a_user_records_the_admin_and_the_new_user(client: FlaskClient, auth: AuthHeaders) -> None:
    admin = auth("admin")
    response = client.post(USERS, headers=admin, json={"username": "carol", "password": "longenough1",
                                                       "role": "viewer"})
    assert response.status_code == 201
    entry = only_entry("user.create")
    assert (entry["actor_id"], entry["actor_label"]) == (user_id(client, admin), "admin-user")
    assert (entry["target_type"], entry["target_id"]) == ("user", str(response.get_json()["id"]))
    assert entry["details"] == {"username": "carol", "role": "viewer"}
    assert "longenough1" not in repr(entry)
    # a taken username changes nothing and records nothing
    again = client.post(USERS, headers=admin, json={"username": "carol", "password": "longenough2"})
    assert_error(again, 409, "CONFLICT")
    assert len(entries("user.create")) == 1


def test_a_role_change_records_both_roles_and_other_changes_record_none(
        client: FlaskClient, auth: AuthHeaders) -> None:
    admin = auth("admin")
    carol = create_user("carol", "viewer")
    assert client.put(f"{USERS}/{carol.id}", headers=admin, json={"email": "c@example.com"}).status_code == 200
    assert client.put(f"{USERS}/{carol.id}", headers=admin, json={"role": "viewer"}).status_code == 200
    assert entries("user.role_change") == []
    assert client.put(f"{USERS}/{carol.id}", headers=admin, json={"role": "user"}).status_code == 200
    entry = only_entry("user.role_change")
    assert entry["actor_label"] == "admin-user" and entry["target_id"] == str(carol.id)
    assert entry["details"] == {"username": "carol", "from_role": "viewer", "to_role": "user"}


def test_a_refused_role_change_records_nothing(client: FlaskClient, auth: AuthHeaders) -> None:
    admin = auth("admin")
    me = user_id(client, admin)
    assert_error(client.put(f"{USERS}/{me}", headers=admin, json={"role": "user"}), 409, "CONFLICT")  # last admin
    assert_error(client.put(f"{USERS}/{me}", headers=auth("user"), json={"role": "user"}), 403, "FORBIDDEN")
    assert entries("user.role_change") == []


def test_deleting_a_user_records_it_and_the_entry_outlives_the_user(client: FlaskClient, auth: AuthHeaders) -> None:
    admin = auth("admin")
    carol = create_user("carol")
    assert client.delete(f"{USERS}/{carol.id}", headers=admin).status_code == 204
    entry = only_entry("user.delete")
    assert (entry["target_type"], entry["target_id"]) == ("user", str(carol.id))
    assert entry["details"] == {"username": "carol", "role": "user"}
    assert_error(client.delete(f"{USERS}/{carol.id}", headers=admin), 404, "NOT_FOUND")
    assert len(entries("user.delete")) == 1


def test_rotating_a_webhook_secret_records_it_and_never_the_secret(client: FlaskClient, auth: AuthHeaders) -> None:
    alice = auth("user", "alice")
    hook = client.post("/api/v1/webhooks", headers=alice, json={"name": "ci", "url": "https://93.184.216.34/x"})
    assert hook.status_code == 201
    old = hook.get_json()["secret"]
    response = client.post(f"/api/v1/webhooks/{hook.get_json()['id']}/rotate-secret", headers=alice)
    assert response.status_code == 200
    new = response.get_json()["secret"]
    assert new.startswith("whsec_") and new != old
    assert "secret" not in client.get(f"/api/v1/webhooks/{hook.get_json()['id']}", headers=alice).get_json()
    entry = only_entry("webhook.secret_rotate")
    assert (entry["actor_label"], entry["target_type"], entry["target_id"]) == (
        "alice", "webhook", str(hook.get_json()["id"]))
    assert entry["details"] == {"name": "ci"}
    assert not any(part in repr(entries()) for part in (old, new, old[6:], new[6:]))


def test_another_users_webhook_secret_is_not_rotated(client: FlaskClient, auth: AuthHeaders) -> None:
    alice, bob = auth("user", "alice"), auth("user", "bob")
    hook = client.post("/api/v1/webhooks", headers=alice, json={"name": "ci", "url": "https://93.184.216.34/x"})
    assert_error(client.post(f"/api/v1/webhooks/{hook.get_json()['id']}/rotate-secret", headers=bob), 404,
                 "NOT_FOUND")
    assert entries("webhook.secret_rotate") == []


def test_maintenance_toggles_are_recorded(client: FlaskClient, auth: AuthHeaders) -> None:
    admin = auth("admin")
    for enabled in (True, False):
        response = client.post("/api/v1/admin/maintenance", headers=admin,
                               json={"enabled": enabled, "message": "upgrade"})
        assert response.status_code == 200
    toggles = entries("maintenance.toggle")
    assert [e["details"] for e in toggles] == [{"enabled": True, "message": "upgrade"},
                                               {"enabled": False, "message": "upgrade"}]
    assert {e["actor_label"] for e in toggles} == {"admin-user"}


def test_a_maintenance_toggle_that_redis_refuses_leaves_no_entry(make_app: Any) -> None:
    """The state lives in Redis: when Redis is away the change fails (503) and its entry is rolled back."""
    away = make_app(REDIS_URL=f"redis://127.0.0.1:{free_port()}").test_client()
    create_user("root", "admin")
    token = away.post(LOGIN, json={"username": "root", "password": PASSWORD}).get_json()["access_token"]
    response = away.post("/api/v1/admin/maintenance", headers={"Authorization": f"Bearer {token}"},
                         json={"enabled": True, "message": "upgrade"})
    assert_error(response, 503, "SERVICE_UNAVAILABLE")
    assert entries("maintenance.toggle") == []
    assert len(entries("auth.login")) == 1  # the recorder itself worked


def test_deleting_a_project_records_it(client: FlaskClient, auth: AuthHeaders) -> None:
    alice, bob = auth("user", "alice"), auth("user", "bob")
    created = client.post("/api/v1/projects", headers=alice, json={
        "name": "app", "repo_url": "/nonexistent/repo", "build_steps": [{"name": "s", "run": "true"}]})
    assert created.status_code == 201
    assert_error(client.delete("/api/v1/projects/app", headers=bob), 403, "FORBIDDEN")
    assert entries("project.delete") == []
    assert client.delete("/api/v1/projects/app", headers=alice).status_code == 204
    entry = only_entry("project.delete")
    assert (entry["actor_label"], entry["target_type"], entry["target_id"]) == (
        "alice", "project", str(created.get_json()["id"]))
    assert entry["details"] == {"name": "app"}


def test_deleting_an_organization_records_it(client: FlaskClient, auth: AuthHeaders) -> None:
    alice = auth("user", "alice")
    org = client.post("/api/v1/organizations", headers=alice, json={"name": "acme"}).get_json()
    assert client.delete(f"/api/v1/organizations/{org['id']}", headers=alice).status_code == 204
    entry = only_entry("organization.delete")
    assert (entry["actor_label"], entry["target_type"], entry["target_id"]) == ("alice", "organization",
                                                                               str(org["id"]))
    assert entry["details"] == {"name": "acme"}


def test_users_made_from_the_command_line_are_recorded(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["users", "create", "carol", "--password", "longenough1"])
    assert result.exit_code == 0, result.output
    entry = only_entry("user.create")
    assert (entry["actor_id"], entry["actor_label"], entry["remote_addr"]) == (None, "cli", None)
    assert entry["details"] == {"username": "carol", "role": "user"}


def test_the_first_admin_made_by_init_is_recorded_once_and_a_promotion_as_a_role_change(make_app: Any) -> None:
    app = make_app(ADMIN_USERNAME="root")
    runner = app.test_cli_runner()
    first = runner.invoke(args=["init"])
    password = re.search(r"password: (\S+)", first.output)
    assert first.exit_code == 0 and password is not None, first.output
    assert runner.invoke(args=["init"]).exit_code == 0  # the admin exists: nothing changes, nothing recorded
    entry = only_entry("user.create")
    assert (entry["actor_label"], entry["details"]) == ("cli", {"username": "root", "role": "admin"})
    assert password.group(1) not in repr(entries())

    promoted = make_app(ADMIN_USERNAME="carol")
    with db.connection_context():
        User.delete().where(User.username == "root").execute()
    create_user("carol", "viewer")
    assert promoted.test_cli_runner().invoke(args=["init"]).exit_code == 0
    change = only_entry("user.role_change")
    assert change["details"] == {"username": "carol", "role": "admin", "from_role": "viewer", "to_role": "admin"}
