"""Webhook delivery end to end: the API, a real `dramatiq` worker, and a real receiver on 127.0.0.1."""
from __future__ import annotations

import hashlib
import hmac
import json
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from standardwebhooks.webhooks import Webhook

from tests.conftest import LOCAL_RECEIVERS
from tests.support.processes import running, stop_group, wait_for, worker_argv
from tests.support.receiver import receiving

pytestmark = [pytest.mark.slow, pytest.mark.local_receivers]
WORKER_ENV = {**LOCAL_RECEIVERS, "WEBHOOK_ATTEMPT_GRACE_SECONDS": "1"}


def start_worker(base_env: dict[str, str], log: Path, **env: str) -> Any:
    settings = {**base_env, **WORKER_ENV, "dramatiq_worker_timeout": "100", "LOG_LEVEL": "INFO", **env}
    return running(worker_argv(threads=4), settings, log.open("a"))


@pytest.fixture
def worker_env() -> dict[str, str]:
    return WORKER_ENV


def endpoint(client: FlaskClient, headers: dict[str, str], url: str, **fields: Any) -> dict[str, Any]:
    response = client.post("/api/v1/webhooks", headers=headers, json={"name": "hook", "url": url, **fields})
    assert response.status_code == 201, response.get_json()
    return response.get_json()  # type: ignore[no-any-return]


def publish(client: FlaskClient, headers: dict[str, str], data: dict[str, Any] | None = None) -> dict[str, Any]:
    response = client.post("/api/v1/events", headers=headers, json={"type": "deployment.completed",
                                                                   "data": data or {"version": "1.2.3"}})
    assert response.status_code == 202, response.get_json()
    return response.get_json()  # type: ignore[no-any-return]


def deliveries(client: FlaskClient, headers: dict[str, str], webhook_id: int) -> list[dict[str, Any]]:
    response = client.get(f"/api/v1/webhooks/{webhook_id}/deliveries", headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]  # type: ignore[no-any-return]


def settle(client: FlaskClient, headers: dict[str, str], webhook_id: int, status: str,
           timeout: float = 30) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        items = deliveries(client, headers, webhook_id)
        return items[0] if items and items[0]["status"] == status else None
    return wait_for(done, timeout=timeout, interval=0.2, what=f"a {status} delivery")  # type: ignore[no-any-return]


def webhook(client: FlaskClient, headers: dict[str, str], webhook_id: int) -> dict[str, Any]:
    return client.get(f"/api/v1/webhooks/{webhook_id}", headers=headers).get_json()  # type: ignore[no-any-return]


def test_an_event_arrives_signed_both_ways_and_is_recorded(
        client: FlaskClient, auth: Any, worker: Any) -> None:
    user = auth("user")
    with receiving([200]) as receiver:
        hook = endpoint(client, user, receiver.url, events=["deployment.*"])
        published = publish(client, user, {"version": "1.2.3", "by": "ci"})
        assert published["deliveries"] == 1
        delivery = settle(client, user, hook["id"], "succeeded")

    [request] = receiver.requests
    verified = Webhook(hook["secret"]).verify(request.body, request.headers)
    assert verified == {"event": "deployment.completed", "event_id": published["event_id"],
                        "timestamp": verified["timestamp"], "data": {"version": "1.2.3", "by": "ci"}}
    assert verified["timestamp"].endswith("Z")
    expected = hmac.new(hook["secret"].encode(), request.body, hashlib.sha256).hexdigest()
    assert request.headers["x-webhook-signature"] == f"sha256={expected}"
    assert request.headers["webhook-id"] == delivery["id"] and request.headers["content-type"] == "application/json"
    [attempt] = delivery["attempts"]
    assert attempt["n"] == 1 and attempt["status_code"] == 200 and attempt["error"] is None
    assert attempt["response_excerpt"] == '{"ok": true}' and attempt["duration_ms"] >= 0
    assert delivery["next_attempt_at"] is None and delivery["delivered_at"] is not None
    assert webhook(client, user, hook["id"])["last_used_at"] is not None
    # Counted with the message's outcome, just after the row changed: wait for it.
    metrics = wait_for(lambda: (text := client.get("/metrics").get_data(True)) and
                       'conveyor_webhook_deliveries_total{outcome="succeeded"} 1.0' in text and text,
                       timeout=10, what="the delivery metrics")
    assert "conveyor_webhook_attempt_duration_seconds_count 1.0" in metrics
    deep = client.get("/health/deep").get_json()["webhooks"]
    assert deep == {"active": 1, "failing": 0, "disabled": 0, "pending_deliveries": 0, "dead_deliveries": 0}


def test_a_failing_receiver_is_retried_with_growing_gaps_and_the_same_id(
        client: FlaskClient, auth: Any, worker: Any) -> None:
    user = auth("user")
    with receiving([500, 503, 200]) as receiver:
        hook = endpoint(client, user, receiver.url, retry_policy={"backoff_base": 1.5, "max_retries": 3})
        publish(client, user)
        delivery = settle(client, user, hook["id"], "succeeded")

    assert [a["status_code"] for a in delivery["attempts"]] == [500, 503, 200]
    assert delivery["attempts"][0]["error"] is None and "nope" in delivery["attempts"][0]["response_excerpt"]
    assert len(delivery["attempts"][0]["response_excerpt"]) <= 2048
    assert {r.headers["webhook-id"] for r in receiver.requests} == {delivery["id"]}
    first_gap, second_gap = (b.at - a.at for a, b in zip(receiver.requests, receiver.requests[1:], strict=False))
    # backoff_base ** n plus up to 10% jitter: 1.5-1.65 s, then 2.25-2.5 s.
    assert 1.4 < first_gap < second_gap < 4.0, (first_gap, second_gap)
    assert webhook(client, user, hook["id"])["failure_count"] == 0


def test_a_dead_delivery_can_be_redelivered_and_a_redelivery_counts_once(
        client: FlaskClient, auth: Any, worker: Any) -> None:
    user = auth("user")
    status = {"now": 500}
    with receiving([lambda: status["now"]]) as receiver:
        hook = endpoint(client, user, receiver.url, retry_policy={"backoff_base": 1.0, "max_retries": 1})
        publish(client, user)
        dead = settle(client, user, hook["id"], "dead")
        assert len(dead["attempts"]) == 2 and dead["next_attempt_at"] is None
        assert webhook(client, user, hook["id"])["failure_count"] == 1

        status["now"] = 200
        assert client.post(f"/api/v1/deliveries/{dead['id']}/redeliver", headers=user).status_code == 202
        revived = settle(client, user, hook["id"], "succeeded")
        assert [a["n"] for a in revived["attempts"]] == [1, 2, 3] and revived["id"] == dead["id"]

        # Redelivering a success: the receiver sees the same webhook-id (and can drop it); nothing else changes.
        assert client.post(f"/api/v1/deliveries/{dead['id']}/redeliver", headers=user).status_code == 202
        wait_for(lambda: receiver.count() == 4, timeout=15, what="the redelivery")
        again = settle(client, user, hook["id"], "succeeded")

    assert len(deliveries(client, user, hook["id"])) == 1 and len(again["attempts"]) == 4
    assert {r.headers["webhook-id"] for r in receiver.requests} == {dead["id"]}
    assert webhook(client, user, hook["id"])["failure_count"] == 1


def test_410_gone_disables_the_endpoint(client: FlaskClient, auth: Any, worker: Any) -> None:
    user = auth("user")
    with receiving([410]) as receiver:
        hook = endpoint(client, user, receiver.url)
        publish(client, user)
        delivery = settle(client, user, hook["id"], "dead")
        assert publish(client, user)["deliveries"] == 0
    assert [a["status_code"] for a in delivery["attempts"]] == [410] and receiver.count() == 1
    assert webhook(client, user, hook["id"])["is_active"] is False
    assert client.post(f"/api/v1/webhooks/{hook['id']}/test", headers=user).status_code == 409


def test_a_timeout_is_recorded_as_an_attempt_and_retried(
        client: FlaskClient, auth: Any, worker: Any) -> None:
    user = auth("user")

    def slow() -> int:
        time.sleep(3)
        return 200

    with receiving([slow, 200]) as receiver:
        hook = endpoint(client, user, receiver.url, timeout_seconds=1, retry_policy={"backoff_base": 1.0})
        publish(client, user)
        delivery = settle(client, user, hook["id"], "succeeded")
    first, second = delivery["attempts"]
    assert first["status_code"] is None and first["error"] == "timed out after 1 s"
    assert 900 <= first["duration_ms"] < 3000 and second["status_code"] == 200


def test_delivery_refuses_a_private_target_when_the_worker_does_not_allow_it(
        client: FlaskClient, auth: Any, base_env: dict[str, str], tmp_path: Path) -> None:
    user = auth("user")
    with receiving([200]) as receiver, start_worker(base_env, tmp_path / "worker.log", WEBHOOK_ALLOW_PRIVATE="false"):
        hook = endpoint(client, user, receiver.url.replace("127.0.0.1", "localhost"),
                        retry_policy={"max_retries": 0})
        publish(client, user)
        delivery = settle(client, user, hook["id"], "dead")
    [attempt] = delivery["attempts"]
    assert attempt["status_code"] is None and attempt["error"].startswith("refused target: localhost resolves to")
    assert receiver.count() == 0


def test_the_hourly_rate_limit_delays_and_never_drops(client: FlaskClient, auth: Any, worker: Any) -> None:
    user = auth("user")
    with receiving([200]) as receiver:
        hook = endpoint(client, user, receiver.url, rate_limit_per_hour=2)
        for n in range(3):
            publish(client, user, {"n": n})
        wait_for(lambda: receiver.count() == 2, timeout=20, what="two deliveries")
        waiting = wait_for(lambda: [d for d in deliveries(client, user, hook["id"]) if d["status"] == "pending"
                                    and d["last_error"]], timeout=10, what="the third to wait")
        time.sleep(1)
        assert receiver.count() == 2
    [held] = waiting
    assert "rate limit" in held["last_error"] and held["attempts"] == [] and held["next_attempt_at"] is not None
    counted = 'conveyor_webhook_deliveries_total{outcome="rate_limited"}'
    wait_for(lambda: counted in client.get("/metrics").get_data(True), timeout=10, what="the rate-limited count")


def test_an_endpoint_failing_for_the_configured_period_is_disabled(
        client: FlaskClient, auth: Any, base_env: dict[str, str], tmp_path: Path) -> None:
    user = auth("user")
    with receiving([500]) as receiver, start_worker(base_env, tmp_path / "worker.log",
                                                    WEBHOOK_DISABLE_AFTER_SECONDS="1"):
        hook = endpoint(client, user, receiver.url, retry_policy={"backoff_base": 1.5, "max_retries": 10})
        publish(client, user)
        delivery = settle(client, user, hook["id"], "dead")
    assert len(delivery["attempts"]) == 2 and receiver.count() == 2
    shown = webhook(client, user, hook["id"])
    assert shown["is_active"] is False and shown["failure_count"] == 1


def test_a_lost_message_is_recovered_by_the_sweeper(client: FlaskClient, auth: Any, worker: Any) -> None:
    """Rows committed but never sent (a crash right after commit): the sweep job sends them."""
    from domain.events import emit
    from models.db import db

    user, admin = auth("user"), auth("admin")
    with receiving([200]) as receiver:
        hook = endpoint(client, user, receiver.url)
        owner_id = client.get("/api/v1/users/me", headers=user).get_json()["id"]
        with db.atomic():
            emitted = emit("deployment.completed", {"lost": True}, owner_id=owner_id)  # and no publish()
        time.sleep(1)
        assert receiver.count() == 0 and deliveries(client, user, hook["id"])[0]["status"] == "pending"
        assert client.post("/api/v1/admin/jobs/sweep_outbox/run", headers=admin).status_code == 202
        delivery = settle(client, user, hook["id"], "succeeded")
    assert delivery["id"] == emitted.delivery_ids[0] and json.loads(receiver.requests[0].body)["data"] == {"lost": True}


def test_a_worker_killed_mid_attempt_is_recovered_with_the_same_id(
        client: FlaskClient, auth: Any, base_env: dict[str, str], tmp_path: Path) -> None:
    user, admin = auth("user"), auth("admin")
    log = tmp_path / "worker.log"

    def hang() -> int:
        time.sleep(8)
        return 200

    with receiving([hang, 200]) as receiver:
        hook = endpoint(client, user, receiver.url, timeout_seconds=5)
        with start_worker(base_env, log) as first:
            publish(client, user)
            wait_for(lambda: receiver.count() == 1, timeout=20, what="the first attempt")
            stop_group(first, signal.SIGKILL)
        assert deliveries(client, user, hook["id"])[0]["status"] == "delivering"
        time.sleep(6.5)  # the attempt's hold: the endpoint's timeout plus WEBHOOK_ATTEMPT_GRACE_SECONDS
        with start_worker(base_env, log):
            assert client.post("/api/v1/admin/jobs/sweep_outbox/run", headers=admin).status_code == 202
            delivery = settle(client, user, hook["id"], "succeeded")
    assert receiver.count() == 2 and len({r.headers["webhook-id"] for r in receiver.requests}) == 1
    assert [a["status_code"] for a in delivery["attempts"]] == [200]


def test_redis_down_at_publish_leaves_the_deliveries_due_for_the_sweeper(
        make_app: Any, client: FlaskClient, auth: Any, worker: Any) -> None:
    from domain.events import emit, publish
    from domain.webhooks import dispatch
    from models.db import db
    from tests.support.processes import free_port

    user = auth("user")
    with receiving([200]) as receiver:
        hook = endpoint(client, user, receiver.url)
        owner_id = client.get("/api/v1/users/me", headers=user).get_json()["id"]
        away = make_app(REDIS_URL=f"redis://127.0.0.1:{free_port()}").extensions["conveyor"].runtime
        with db.atomic():
            emitted = emit("deployment.completed", {"while": "redis was down"}, owner_id=owner_id)
        assert publish(away.broker, emitted) == 0  # a broker that reaches no Redis
        assert deliveries(client, user, hook["id"])[0]["status"] == "pending"
        back = make_app(WEBHOOK_ALLOW_PRIVATE="true").extensions["conveyor"].runtime  # Redis is back
        assert dispatch.sweep(back.broker) == {"deliveries_sent": 1, "deliveries_due": 1}
        delivery = settle(client, user, hook["id"], "succeeded")
    assert delivery["id"] == emitted.delivery_ids[0] and receiver.count() == 1
