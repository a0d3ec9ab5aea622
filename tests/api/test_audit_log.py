"""`GET /api/v1/admin/audit`: admins only, newest first, paged, filtered by actor, action (or its prefix) and
time; bad filters answer 422 and nothing else."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from flask.testing import FlaskClient

from models.audit import AuditEntry
from models.db import db
from tests.support.audit import AUDIT
from tests.support.auth import AuthHeaders
from tests.support.envelope import assert_error

START = datetime(2026, 11, 1, 12, 0)
ROWS = [("alice", "auth.login"), ("alice", "user.create"), ("bob", "auth.login_failed"), ("bob", "auth.login"),
        ("carol", "project.delete"), ("alice", "authx.other")]


@pytest.fixture
def admin(client: FlaskClient, auth: AuthHeaders) -> dict[str, str]:
    """An admin's headers, then six entries an hour apart from START (the admin's own login is removed)."""
    headers = auth("admin")
    with db.connection_context():
        AuditEntry.delete().execute()
        for hour, (actor, action) in enumerate(ROWS):
            AuditEntry.create(at=START + timedelta(hours=hour), actor_label=actor, action=action,
                              details={"name": f"row-{hour}"})
    return headers


def names(client: FlaskClient, headers: dict[str, str], query: str = "") -> list[str]:
    response = client.get(f"{AUDIT}{query}", headers=headers)
    assert response.status_code == 200, response.get_json()
    return [item["details"]["name"] for item in response.get_json()["items"]]


def test_the_log_is_newest_first_in_the_list_envelope(client: FlaskClient, admin: dict[str, str]) -> None:
    body = client.get(AUDIT, headers=admin).get_json()
    assert (body["total"], body["limit"], body["offset"]) == (6, 20, 0)
    assert [item["details"]["name"] for item in body["items"]] == [f"row-{n}" for n in range(5, -1, -1)]
    first = body["items"][-1]
    assert first["at"] == "2026-11-01T12:00:00.000Z" and first["actor"] == "alice" and first["action"] == "auth.login"
    assert set(first) == {"id", "at", "actor_id", "actor", "action", "target_type", "target_id", "remote_addr",
                          "user_agent", "details"}


def test_the_log_pages(client: FlaskClient, admin: dict[str, str]) -> None:
    assert names(client, admin, "?limit=2&offset=1") == ["row-4", "row-3"]
    assert client.get(f"{AUDIT}?limit=2&offset=1", headers=admin).get_json()["total"] == 6


@pytest.mark.parametrize("query, expected", [
    ("?actor=bob", ["row-3", "row-2"]),
    ("?action=auth.login", ["row-3", "row-0"]),
    ("?action=auth.", ["row-3", "row-2", "row-0"]),
    ("?action=auth.*", ["row-3", "row-2", "row-0"]),
    ("?actor=alice&action=auth.", ["row-0"]),
    ("?since=2026-11-01T14:00:00Z", ["row-5", "row-4", "row-3", "row-2"]),
    ("?until=2026-11-01T14:00:00Z", ["row-1", "row-0"]),
    ("?since=2026-11-01T15:00:00%2B02:00&until=2026-11-01T16:00:00", ["row-3", "row-2", "row-1"]),
    ("?until=2026-11-01", ["row-5", "row-4", "row-3", "row-2", "row-1", "row-0"]),  # that whole day
    ("?until=2026-10-31", []),
    ("?actor=nobody", []),
])
def test_the_log_filters(client: FlaskClient, admin: dict[str, str], query: str, expected: list[str]) -> None:
    assert names(client, admin, query) == expected


@pytest.mark.parametrize("query, field", [
    ("?since=2026-11-02T00:00:00Z&until=2026-11-01T00:00:00Z", "since"),
    ("?since=yesterday", "since"), ("?until=2026-13-01", "until"), ("?action=Auth.Login", "action"),
    ("?action=auth.%25", "action"), ("?limit=0", "limit"), ("?actor=", "actor"),
    ("?since=0001-01-01T00:00:00%2B01:00", "since"),
])
def test_bad_filters_answer_422(client: FlaskClient, admin: dict[str, str], query: str, field: str) -> None:
    error = assert_error(client.get(f"{AUDIT}{query}", headers=admin), 422, "VALIDATION_ERROR")
    assert field in error["details"], error


@pytest.mark.parametrize("role", ["user", "viewer"])
def test_only_admins_read_the_log(client: FlaskClient, auth: AuthHeaders, admin: dict[str, str], role: str) -> None:
    assert_error(client.get(AUDIT, headers=auth(role)), 403, "FORBIDDEN")
    assert_error(client.get(AUDIT), 401, "UNAUTHORIZED")
