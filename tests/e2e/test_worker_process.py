"""A real `dramatiq` worker process handles messages sent through the API stack and the outbox."""
from __future__ import annotations

from typing import Any

import pytest
import redis
from flask.testing import FlaskClient

from domain import outbox
from models.db import db
from models.outbox import OutboxMessage
from tests.support.processes import wait_for
from workers.diagnostics import PING_KEY, ping

pytestmark = pytest.mark.slow


def _job(client: FlaskClient, headers: dict[str, str], name: str) -> dict[str, Any]:
    items = client.get("/api/v1/admin/jobs", headers=headers).get_json()["items"]
    return next(item for item in items if item["name"] == name)


def test_worker_runs_a_job_enqueued_through_the_api(client: FlaskClient, auth: Any, worker: Any) -> None:
    admin = auth("admin")
    response = client.post("/api/v1/admin/jobs/sweep_outbox/run", headers=admin)
    assert response.status_code == 202
    message_id = response.get_json()["message_id"]

    job = wait_for(lambda: (j := _job(client, admin, "sweep_outbox")).get("last_finished_at") and j,
                   timeout=30, what="the worker to finish sweep_outbox")
    assert job["last_message_id"] == message_id
    assert job["last_trigger"] == "manual"
    assert job["last_status"] == "succeeded" and job["last_error"] is None
    assert job["last_result"] == {"sent": 0, "skipped": 0, "deliveries_sent": 0, "deliveries_due": 0}
    deep = client.get("/health/deep").get_json()
    assert deep["workers"]["count"] >= 1 and deep["workers"]["items"][0]["threads"] == 4
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'conveyor_messages_total{actor="sweep_outbox",outcome="succeeded"} 1.0' in metrics


def test_unknown_job_is_404(client: FlaskClient, auth: Any) -> None:
    assert client.post("/api/v1/admin/jobs/nope/run", headers=auth("admin")).status_code == 404


def test_a_message_never_sent_is_recovered_by_the_sweeper(
        client: FlaskClient, auth: Any, worker: Any, redis_client: redis.Redis) -> None:
    # Given a row committed and then a "crash" before the message was sent:
    with db.connection_context(), db.atomic():
        row = outbox.add(ping, "lost-and-found")
    assert redis_client.get(f"{PING_KEY}:lost-and-found") is None

    # When the sweeper runs (here on demand, as the scheduler would every 15 s):
    assert client.post("/api/v1/admin/jobs/sweep_outbox/run", headers=auth("admin")).status_code == 202

    # Then the worker ran the message and the row is settled.
    wait_for(lambda: redis_client.get(f"{PING_KEY}:lost-and-found"), timeout=30, what="the ping to run")

    def settled() -> bool:
        with db.connection_context():
            return OutboxMessage.get_by_id(row.id).status == "done"

    wait_for(settled, timeout=10, what="the outbox row to be marked done")
