"""Helpers of the fault-injection tests (tests/e2e/test_faults_*.py): workers started with quick redelivery,
events sent, deliveries counted as they reach a receiver, and plain HTTP to a served API.

`CHAOS=full` (`make chaos`) runs bigger versions of those tests: more events, more kill rounds, longer outages.
"""
from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

import requests
from flask.testing import FlaskClient

from tests.conftest import LOCAL_RECEIVERS, PASSWORD
from tests.support.processes import running, wait_for, worker_argv
from tests.support.receiver import Receiver

FULL = os.environ.get("CHAOS", "").lower() == "full"
# Quick redelivery: an attempt cut short holds its row for the endpoint's timeout plus one second.
WORKER_ENV = {**LOCAL_RECEIVERS, "WEBHOOK_ATTEMPT_GRACE_SECONDS": "1", "dramatiq_worker_timeout": "100"}


def start_workers(env: dict[str, str], log: Path, processes: int = 1, threads: int = 4) -> Any:
    return running(worker_argv(processes=processes, threads=threads), {**env, **WORKER_ENV}, log.open("a"))


def send_event(client: FlaskClient, headers: dict[str, str], event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/api/v1/events", headers=headers, json={"type": event_type, "data": data})
    assert response.status_code == 202, response.get_json()
    return response.get_json()


def deliveries(client: FlaskClient, headers: dict[str, str], webhook_id: int) -> list[dict[str, Any]]:
    response = client.get(f"/api/v1/webhooks/{webhook_id}/deliveries?limit=100", headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]


def delivered_ids(receiver: Receiver) -> Counter[str]:
    """How often each `webhook-id` (delivery id) reached the receiver."""
    with receiver.lock:
        return Counter(r.headers["webhook-id"] for r in receiver.requests)


def received(receiver: Receiver, count: float) -> Callable[[], bool]:
    return lambda: receiver.count() >= count


def all_arrive(ids: Iterable[str], receiver: Receiver, timeout: float) -> None:
    """Wait until every one of these deliveries has reached the receiver; else fail showing the rows of the
    first ones missing."""
    from models.db import db
    from models.delivery import Delivery

    wanted = set(ids)
    try:
        wait_for(lambda: wanted <= set(delivered_ids(receiver)), timeout=timeout, interval=0.2,
                 what="every delivery to arrive")
    except AssertionError as exc:
        missing = sorted(wanted - set(delivered_ids(receiver)))
        with db.connection_context():
            rows = [f"{d.id} {d.status} attempts={d.attempt_count} due={d.next_attempt_at} lease={d.lease_until} "
                    f"error={d.last_error!r}" for d in Delivery.select().where(Delivery.id << missing[:5])]
        raise AssertionError(f"{exc}: {len(missing)} missing, e.g. {rows}") from None


class HttpResponse:
    """What a `requests` response said, its connection closed: a test keeping responses must not keep their
    sockets open (the API's graceful stop waits for them). Read through the calls `assert_envelope` makes."""

    def __init__(self, response: requests.Response) -> None:
        self.status_code = response.status_code
        self.headers = response.headers
        self.text = response.text
        response.raw.close()

    def get_data(self, as_text: bool = False) -> str:
        return self.text

    def get_json(self) -> Any:
        return json.loads(self.text)


def epoch(timestamp: str | None) -> float:
    return datetime.fromisoformat(timestamp).timestamp() if timestamp else 0.0


def http(method: str, url: str, headers: dict[str, str] | None = None, body: Any = None) -> HttpResponse:
    return HttpResponse(requests.request(method, url, headers=headers, json=body, timeout=10))


def http_login(base: str, username: str) -> dict[str, str]:
    response = http("POST", f"{base}/api/v1/auth/login", body={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.get_json()['access_token']}"}


def http_endpoint(base: str, headers: dict[str, str], url: str, **fields: Any) -> dict[str, Any]:
    response = http("POST", f"{base}/api/v1/webhooks", headers, {"name": "hook", "url": url, **fields})
    assert response.status_code == 201, response.text
    return response.get_json()
