"""A batch of commits is written in as few statements as the engine allows (`models.bulk.upsert`: multi-row
statements on SQLite, COPY through a staging table on PostgreSQL). Whatever the path, every value comes back
exactly as it went in, a commit seen again is still one row that keeps what it knew, and two batches in one
transaction do not mix."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from domain.engineering.ingest import COMMIT_COLUMNS, _commit_conflict, ingest
from domain.engineering.records import Activity, CommitRecord, Person
from models import bulk
from models.activity import Commit
from models.db import db, utc_naive
from models.repository import Repository

AWKWARD = ["plain", "tab\there", "back\\slash", "\\N", "a \\t literal", "ünïcødé ✓", "quote\"'", "semi;colon",
           "trailing\\"]
FIELDS = [Commit._meta.fields[name] for name in COMMIT_COLUMNS]
PER_SQLITE_STATEMENT = bulk.SQLITE_VARIABLES // len(COMMIT_COLUMNS)
START = datetime(2026, 11, 1, 8, 30, 15, 250_000)


def record(n: int, *, counts: bool = True) -> CommitRecord:
    odd = AWKWARD[n % len(AWKWARD)]
    author = (Person("git", name=f"Dev {odd} {n % 7}", email=f"dev{n % 7}@example.com") if n % 5 else
              Person("git"))  # nobody to know them by: no identity, NULLs in three columns
    return CommitRecord(sha=f"{n:040x}", author=author, authored_at=START + timedelta(minutes=n),
                        committed_at=None if n % 3 == 0 else START + timedelta(minutes=n, seconds=7),
                        message=None if n % 11 == 0 else f"Commit {n}: {odd}",
                        additions=(n % 50 if counts else None), deletions=(n % 9 if counts else None))


def stored(repo: Repository) -> dict[str, tuple[Any, ...]]:
    with db.connection_context():
        rows = Commit.select().where(Commit.repository == repo.id)
        return {c.sha: (c.author_name, c.author_email, c.authored_at, c.committed_at, c.message, c.additions,
                        c.deletions, c.identity_id is None) for c in rows}


def expected(c: CommitRecord) -> tuple[Any, ...]:
    return (c.author.name, c.author.email or None, c.authored_at, c.committed_at, c.message, c.additions,
            c.deletions, c.author.provider == "git" and not c.author.email)


@pytest.mark.parametrize("count", [1, PER_SQLITE_STATEMENT, PER_SQLITE_STATEMENT + 1, 2 * PER_SQLITE_STATEMENT + 3])
def test_every_value_of_a_batch_comes_back_exactly(github_repo: Repository, count: int) -> None:
    records = [record(n) for n in range(count)]
    with db.connection_context():
        assert ingest(github_repo, Activity(commits=records))["commits"] == count
    assert stored(github_repo) == {c.sha: expected(c) for c in records}


def test_a_batch_read_again_without_line_counts_is_the_same_rows_keeping_them(github_repo: Repository) -> None:
    with db.connection_context():
        ingest(github_repo, Activity(commits=[record(n) for n in range(300)]))
        ingest(github_repo, Activity(commits=[record(n, counts=False) for n in range(250, 400)]))
    rows = stored(github_repo)
    assert len(rows) == 400
    assert rows[f"{260:040x}"][5:7] == (260 % 50, 260 % 9)  # kept: the second copy did not know them
    assert rows[f"{399:040x}"][5:7] == (None, None)


def test_two_batches_in_one_transaction_each_write_only_their_own_rows(github_repo: Repository) -> None:
    def row(sha: str, message: str) -> tuple[Any, ...]:
        return (github_repo.id, sha, None, None, "Dev", None, START, START, 1, 1, message, utc_naive())

    with db.connection_context(), db.atomic():
        bulk.upsert(FIELDS, [row("a" * 40, "first"), row("b" * 40, "first")], _commit_conflict())
        # The same key again in the same transaction: had the first batch's rows stayed in the staging table,
        # one statement would touch a row twice (an error) or write the first message back over the second.
        bulk.upsert(FIELDS, [row("a" * 40, "second")], _commit_conflict())
    rows = stored(github_repo)
    assert {sha: values[4] for sha, values in rows.items()} == {"a" * 40: "second", "b" * 40: "first"}


def test_a_failing_batch_stores_nothing_of_itself(github_repo: Repository) -> None:
    rows = [(github_repo.id, f"{n:040x}", None, None, "Dev", None, START, START, 1, 1, "m", utc_naive())
            for n in range(10)]
    rows.append((github_repo.id, "c" * 40, 2**31 - 1, None, "Dev", None, START, START, 1, 1, "m", utc_naive()))
    with db.connection_context():
        with pytest.raises(Exception), db.atomic():  # noqa: B017 - the engines name a missing identity differently
            bulk.upsert(FIELDS, rows, _commit_conflict())
        assert Commit.select().where(Commit.repository == github_repo.id).count() == 0
