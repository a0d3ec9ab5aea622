"""Outbox rows: one sender wins a due row, leases hide rows in flight, failures back off then fail."""
from __future__ import annotations

from datetime import timedelta

import pytest

from domain.outbox import retry_delay
from models.db import db, utc_naive
from models.outbox import OutboxMessage


@pytest.fixture
def row(app: object) -> OutboxMessage:
    with db.connection_context():
        return OutboxMessage.create(actor_name="ping", args=["x"], max_attempts=2)


def test_only_one_claim_wins_a_due_row(row: OutboxMessage) -> None:
    with db.connection_context():
        assert OutboxMessage.claim(row.id, timedelta(minutes=1))
        assert not OutboxMessage.claim(row.id, timedelta(minutes=1))


def test_a_leased_row_is_not_due_until_the_lease_runs_out(row: OutboxMessage) -> None:
    with db.connection_context():
        now = utc_naive()
        assert OutboxMessage.due_ids(now) == [row.id]
        OutboxMessage.claim(row.id, timedelta(seconds=30), now=now)
        assert OutboxMessage.due_ids(now) == []
        assert OutboxMessage.due_ids(now + timedelta(seconds=31)) == [row.id]


def test_failures_back_off_and_then_fail_for_good(row: OutboxMessage) -> None:
    with db.connection_context():
        OutboxMessage.record_failure(row.id, "boom", retry_delay(0))
        first = OutboxMessage.get_by_id(row.id)
        assert (first.status, first.attempts, first.last_error) == ("pending", 1, "boom")
        assert first.available_at > utc_naive() + timedelta(seconds=1)
        OutboxMessage.record_failure(row.id, "boom again", retry_delay(1))
        final = OutboxMessage.get_by_id(row.id)
        assert (final.status, final.attempts) == ("failed", 2) and final.finished_at is not None
        assert OutboxMessage.due_ids(utc_naive() + timedelta(days=1)) == []


def test_done_is_final(row: OutboxMessage) -> None:
    with db.connection_context():
        OutboxMessage.mark_done(row.id)
        OutboxMessage.record_failure(row.id, "late failure", retry_delay(0))
        assert OutboxMessage.get_by_id(row.id).status == "done"


def test_retry_delay_grows_and_is_capped() -> None:
    delays = [retry_delay(n).total_seconds() for n in range(12)]
    assert delays[:3] == [2, 4, 8] and max(delays) == 600 and delays == sorted(delays)
