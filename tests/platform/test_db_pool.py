"""The database binding's pool: a request's connection goes back to the pool and may next serve another
thread (gunicorn's gthread workers, Dramatiq's worker threads)."""
from __future__ import annotations

import threading

import pytest

from models.db import db, is_postgres, page_cache
from models.user import User


def test_a_connection_returned_by_one_thread_serves_another(schema: None) -> None:
    errors: list[BaseException] = []

    def use() -> None:
        try:
            with db.connection_context():
                User.select().count()
        except BaseException as exc:
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


def test_a_transaction_that_reads_then_writes_waits_for_another_writer_instead_of_failing(schema: None) -> None:
    """SQLite only (PostgreSQL's row locks make this moot): with deferred transactions the first thread's
    write, after the second thread committed, fails at once with 'database is locked'."""
    if is_postgres():
        pytest.skip("SQLite's locking")
    read, wrote = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def first() -> None:
        try:
            with db.connection_context(), db.atomic():
                User.select().count()  # a read inside the transaction
                read.set()
                wrote.wait(0.5)  # the other writer commits here when it can (deferred), or waits for us
                User.create(username="first", password_hash="!")
        except BaseException as exc:
            errors.append(exc)

    def second() -> None:
        read.wait(5)
        try:
            with db.connection_context(), db.atomic():
                User.create(username="second", password_hash="!")
        except BaseException as exc:
            errors.append(exc)
        wrote.set()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert errors == []
    with db.connection_context():
        assert {u.username for u in User.select()} >= {"first", "second"}


def test_a_larger_page_cache_is_lent_to_a_block_and_given_back(schema: None) -> None:
    """`page_cache`: a backfill's connection caches more pages while it runs; the pooled connection goes back to
    the pool with SQLite's default, and an error inside the block gives it back too."""
    if is_postgres():
        pytest.skip("SQLite's page cache is per connection; PostgreSQL's is the server's")

    def size() -> int:
        return int(db.execute_sql("PRAGMA cache_size").fetchone()[0])

    with db.connection_context():
        before = size()
        with page_cache(16_000):
            assert size() == -16_000
        assert size() == before
        with pytest.raises(RuntimeError), page_cache(8_000):
            assert size() == -8_000
            raise RuntimeError("the poll failed")
        assert size() == before
