"""The audit recorder: an entry shares the transaction of the change it records, takes only the allowed detail
keys and never a value shaped like a secret; the retention job deletes only what is past AUDIT_RETENTION_DAYS."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask

from core.runtime import Runtime
from domain.audit import Origin, record
from models.audit import AuditEntry
from models.db import db, utc_naive
from models.user import User
from tests.support.audit import entries
from workers.jobs import prune_audit


class Boom(Exception):
    pass


def test_an_entry_is_rolled_back_with_the_change_it_records(app: Flask) -> None:
    with db.connection_context():
        with pytest.raises(Boom), db.atomic():
            user = User.create(username="ghost", password_hash="x")
            record("user.create", target=("user", user.id), details={"username": "ghost"})
            raise Boom
        assert User.get_or_none(User.username == "ghost") is None
    assert entries() == []


def test_a_change_whose_entry_cannot_be_written_is_rolled_back(app: Flask) -> None:
    with db.connection_context():
        with pytest.raises(ValueError, match="password"), db.atomic():
            User.create(username="unrecorded", password_hash="x")
            record("user.create", details={"password": "hunter2-hunter2"})
        assert User.get_or_none(User.username == "unrecorded") is None
    assert entries() == []


def test_an_entry_is_kept_with_the_change_it_records(app: Flask) -> None:
    with db.connection_context(), db.atomic():
        user = User.create(username="kept", password_hash="x")
        record("user.create", actor_label="cli", target=("user", user.id), origin=Origin("10.0.0.1", "curl/8"),
               details={"username": "kept", "role": "user"})
    [entry] = entries()
    assert (entry["action"], entry["actor_id"], entry["actor_label"]) == ("user.create", None, "cli")
    assert (entry["target_type"], entry["target_id"]) == ("user", str(user.id))
    assert (entry["remote_addr"], entry["user_agent"]) == ("10.0.0.1", "curl/8")
    assert entry["details"] == {"username": "kept", "role": "user"}


@pytest.mark.parametrize("details", [
    {"password": "x"}, {"secret": "x"}, {"token": "x"}, {"refresh_token": "x"}, {"password_hash": "x"},
    {"name": "whsec_" + "A" * 43}, {"message": "key cvk_abcdef0123456789"}, {"prefix": "cvk_" + "a" * 43},
    {"message": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnbmF0dXJl"}, {"name": {"nested": "x"}},
])
def test_details_refuse_secrets_and_keys_not_on_the_allow_list(app: Flask, details: dict[str, Any]) -> None:
    with db.connection_context(), pytest.raises(ValueError):
        record("user.create", details=details)
    assert entries() == []


@pytest.mark.parametrize("action", ["login", "User.create", "user.", ".user", "user create", "a." + "b" * 70])
def test_actions_are_dotted_lower_case_names(app: Flask, action: str) -> None:
    with db.connection_context(), pytest.raises(ValueError):
        record(action)
    assert entries() == []


def test_long_labels_agents_and_texts_are_cut_to_their_columns(app: Flask) -> None:
    with db.connection_context():
        record("auth.login_failed", actor_label="u" * 500, origin=Origin("1.2.3.4", "A" * 5000),
               details={"message": "m" * 5000, "scopes": ["build:read", "build:create"]})
    [entry] = entries()
    assert len(entry["actor_label"]) == 64 and len(entry["user_agent"]) == 256
    assert len(entry["details"]["message"]) == 500
    assert entry["details"]["scopes"] == ["build:read", "build:create"]


def test_the_retention_job_deletes_only_entries_past_the_retention(make_app: Any) -> None:
    runtime: Runtime = make_app(AUDIT_RETENTION_DAYS="30").extensions["conveyor"].runtime
    now = utc_naive()
    with db.connection_context():
        for days in (400, 31, 29, 0):
            AuditEntry.create(action="auth.login", actor_label=f"{days}-days-ago", at=now - timedelta(days=days))
        assert prune_audit.fn(runtime) == {"deleted": 2}
    assert [entry["actor_label"] for entry in entries()] == ["29-days-ago", "0-days-ago"]
    assert prune_audit.fn(runtime) == {"deleted": 0}
