"""Fault injection: every worker process killed with SIGKILL while webhook events are in flight loses no event.

Bounded; `CHAOS=full` (`make chaos`) runs a bigger version: more events, more kill rounds.
"""
from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.domain.webhooks.test_delivery import endpoint
from tests.support.faults import FULL, all_arrive, delivered_ids, received, send_event, start_workers
from tests.support.processes import stop_group, wait_for
from tests.support.receiver import receiving

pytestmark = [pytest.mark.slow, pytest.mark.local_receivers]


def test_workers_killed_mid_burst_lose_no_webhook_event(
        client: FlaskClient, auth: Any, base_env: dict[str, str], tmp_path: Path,
        record_property: Any) -> None:
    from models.db import db
    from models.delivery import Delivery

    user = auth("user")
    endpoints, events = 10, (200 if FULL else 50)  # 500 deliveries (2,000 with CHAOS=full)
    total = endpoints * events
    kill_at = (0.2, 0.45, 0.7) if FULL else (0.2,)  # fractions delivered when every worker is killed
    log = tmp_path / "worker.log"

    def answer() -> int:
        time.sleep(0.02)  # a receiver that takes a moment: attempts are in progress when the workers die
        return 200

    def rows(status: str) -> int:
        with db.connection_context():
            return int(Delivery.select().where(Delivery.status == status).count())

    started = time.monotonic()
    with receiving([answer]) as receiver:
        for _ in range(endpoints):
            endpoint(client, user, receiver.url, events=["deployment.*"], timeout_seconds=2)
        for n in range(events):
            assert send_event(client, user, "deployment.completed", {"n": n})["deliveries"] == endpoints
        with db.connection_context():
            expected = {row.id for row in Delivery.select(Delivery.id)}
        assert len(expected) == total

        for fraction in kill_at:
            with start_workers(base_env, log, processes=2) as workers:
                wait_for(received(receiver, fraction * total), timeout=60, interval=0.01,
                         what=f"{fraction:.0%} of the deliveries")
                stop_group(workers, signal.SIGKILL)
            cut = rows("delivering")
            arrived = len(delivered_ids(receiver))
            print(f"killed every worker at {arrived}/{total} delivered, {cut} attempts cut short")
            assert arrived < total and cut > 0, "the workers must die with deliveries in flight"

        with start_workers(base_env, log, processes=2):
            # The dead workers' unacked messages come back after the broker's heartbeat timeout (15 s).
            all_arrive(expected, receiver, timeout=120 if FULL else 60)
            wait_for(lambda: rows("succeeded") == total, timeout=20, interval=0.2, what="every row to succeed")
        counts = delivered_ids(receiver)

    duplicates = sum(counts.values()) - len(counts)
    summary = f"delivered {len(counts)} distinct, {duplicates} duplicates"
    print(f"{summary} ({len(kill_at)} kill rounds, {time.monotonic() - started:.1f} s)")
    record_property("delivered", summary)
    assert set(counts) == expected
