"""`User.by_id`, the compiled lookup every authenticated request makes, reads exactly what peewee reads,
on SQLite and on PostgreSQL (CI runs the suite on both)."""
from __future__ import annotations

from flask import Flask

from models.db import db
from models.user import User
from tests.conftest import create_user


def test_by_id_reads_the_same_user_as_peewee_and_saves_only_what_changed(app: Flask) -> None:
    made = create_user("lookup", "viewer")
    with db.connection_context():
        fetched = User.by_id(made.id)
        assert fetched is not None and fetched.__data__ == User.get_by_id(made.id).__data__
        assert fetched.is_active is True and fetched.created_at == User.get_by_id(made.id).created_at
        assert User.by_id(made.id + 1000) is None
        fetched.email = "lookup@example.com"
        assert fetched.dirty_fields == [User.email]
        fetched.save()
        assert User.get_by_id(made.id).email == "lookup@example.com"
