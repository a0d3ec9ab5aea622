"""`User.for_session`, the compiled lookup every authenticated request makes, reads exactly what peewee reads
and whether the token's session was ended, on SQLite and on PostgreSQL (CI runs the suite on both)."""
from __future__ import annotations

from datetime import timedelta

from flask import Flask

from models.db import db, utc_naive
from models.session import RevokedSession, revoke
from models.user import User
from tests.conftest import create_user


def test_for_session_reads_the_same_user_as_peewee_and_saves_only_what_changed(app: Flask) -> None:
    made = create_user("lookup", "viewer")
    with db.connection_context():
        fetched, revoked = User.for_session(made.id, "a-session")
        assert fetched is not None and revoked is False
        assert fetched.__data__ == User.get_by_id(made.id).__data__
        assert fetched.is_active is True and fetched.created_at == User.get_by_id(made.id).created_at
        assert User.for_session(made.id + 1000, "a-session") == (None, False)
        fetched.email = "lookup@example.com"
        assert fetched.dirty_fields == [User.email]
        fetched.save()
        assert User.get_by_id(made.id).email == "lookup@example.com"


def test_a_revoked_session_is_reported_for_that_session_only(app: Flask) -> None:
    made = create_user("lookup", "viewer")
    with db.connection_context():
        revoke("ended", 60)
        revoke("ended", 60)  # a second logout of the same session is not an error
        assert User.for_session(made.id, "ended")[1] is True
        assert User.for_session(made.id, "other")[1] is False


def test_revoking_purges_the_rows_whose_time_has_passed(app: Flask) -> None:
    with db.connection_context():
        RevokedSession.create(sid="old", expires_at=utc_naive() - timedelta(seconds=1))
        RevokedSession.create(sid="live", expires_at=utc_naive() + timedelta(hours=1))
        revoke("new", 60)
        assert sorted(s.sid for s in RevokedSession.select()) == ["live", "new"]
