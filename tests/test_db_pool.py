"""The database binding's pool: a request's connection goes back to the pool and may next serve another
thread (gunicorn's gthread workers, Dramatiq's worker threads)."""
from __future__ import annotations

import threading

from models.db import db
from models.user import User


def test_a_connection_returned_by_one_thread_serves_another(schema: None) -> None:
    errors: list[BaseException] = []

    def use() -> None:
        try:
            with db.connection_context():
                User.select().count()
        except BaseException as exc:  # noqa: BLE001 (reported by the assertion below)
            errors.append(exc)

    for _ in range(3):  # each thread may take the connection the previous one gave back
        worker = threading.Thread(target=use)
        worker.start()
        worker.join()
    use()
    assert errors == []


def test_connections_are_pooled_not_reopened(schema: None) -> None:
    with db.connection_context():
        first = db.connection()
    with db.connection_context():
        assert db.connection() is first  # the same connection again: no connect, no pragmas
