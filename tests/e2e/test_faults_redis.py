"""Fault injection: Redis stopped and started again under a burst of requests; the API keeps accepting, and
nothing accepted is lost. Also what a worker does with a delivery it takes just as Redis goes away.

Bounded; `CHAOS=full` (`make chaos`) runs a bigger version: a longer outage.
"""
from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import requests
from flask.testing import FlaskClient

from core.embedded_redis import ensure_embedded_redis, stop_embedded_redis
from tests.conftest import LOCAL_RECEIVERS, create_user, serving_api
from tests.domain.webhooks.test_delivery import endpoint
from tests.support.envelope import assert_envelope
from tests.support.faults import (
    FULL,
    HttpResponse,
    all_arrive,
    delivered_ids,
    epoch,
    http,
    http_endpoint,
    http_login,
    start_workers,
)
from tests.support.processes import BIN, running, wait_for
from tests.support.receiver import receiving

pytestmark = [pytest.mark.slow, pytest.mark.local_receivers]


@pytest.mark.usefixtures("make_app")
def test_redis_restarted_during_a_burst_keeps_accepting_and_loses_nothing(
        base_env: dict[str, str], tmp_path: Path, record_property: Any) -> None:
    var = tmp_path / "own-redis"
    server, _ = ensure_embedded_redis(var)  # this test's own Redis: the suite's is never stopped
    outage = 15.0 if FULL else 3.0
    # A quick sweeper, and a job that fires every 2 s to show the scheduler at work after the restart.
    env = {**base_env, **LOCAL_RECEIVERS, "REDIS_URL": server.url, "SCHEDULER_LOCK_TTL": "2",
           "SCHEDULER_INTERVALS": "sweep_outbox=3,poll_clusters=2",
           # The production default: rate limits on (their Redis outage is swallowed), high enough for a burst.
           "RATE_LIMITS_ENABLED": "true", "RATE_LIMIT_USER": "1000000/minute", "LOG_LEVEL": "INFO"}
    create_user("chaos-admin", "admin")
    results: list[tuple[float, int, HttpResponse]] = []  # (monotonic time sent, status, response)
    lock, stop = threading.Lock(), threading.Event()

    def send(base: str, headers: dict[str, str], webhook_id: int) -> None:
        with requests.Session() as session:
            while not stop.is_set():
                sent = time.monotonic()
                response = HttpResponse(session.post(f"{base}/api/v1/webhooks/{webhook_id}/test", headers=headers,
                                                     timeout=30))
                with lock:
                    results.append((sent, response.status_code, response))
                stop.wait(0.01)

    def slow_ok() -> int:
        time.sleep(0.2)  # the worker's threads are busy and its prefetched messages wait when Redis goes down
        return 200

    def answered(after: float, status: int) -> int:
        """How many requests sent since `after` got `status`; fails at once on any answer but a 202 or a 503."""
        with lock:
            codes = Counter(code for sent, code, _ in results if sent >= after)
        assert set(codes) <= {202, 503}, f"never a 500: {codes}"
        return codes[status]

    try:
        with (receiving([slow_ok]) as receiver,
              serving_api(env, (tmp_path / "api.log").open("w")) as base,
              start_workers(env, tmp_path / "worker.log") as worker,
              running([str(BIN / "python"), "-m", "scheduler"], env, (tmp_path / "scheduler.log").open("w"))
              as scheduler):
            admin = http_login(base, "chaos-admin")
            # The longest timeout: a message the worker took before Redis went down and handles while it is down
            # must not keep its row for the attempt's hold (61 s) but leave it to the next sweep.
            # The API accepts through the outage, so the full-size burst passes the default 1,000 deliveries an hour.
            hook = http_endpoint(base, admin, receiver.url, timeout_seconds=60, rate_limit_per_hour=1_000_000)
            senders = [threading.Thread(target=send, args=(base, admin, hook["id"])) for _ in range(4)]
            for thread in senders:
                thread.start()
            try:
                wait_for(lambda: answered(0, 202) >= 40, timeout=20, what="the burst to start")
                down_at = time.monotonic()
                assert stop_embedded_redis(var)
                # Authentication needs only the database, and a request's rows are its promise (the sweeper sends
                # what the broker could not take): the API keeps accepting while Redis is away.
                wait_for(lambda: time.monotonic() - down_at >= outage and answered(down_at, 202) >= 20,
                         timeout=outage + 20, what="requests accepted while Redis is down")
                again, started = ensure_embedded_redis(var)
                up_at, up_wall = time.monotonic(), time.time()
                assert started and again.port == server.port  # the same address and data directory
                wait_for(lambda: answered(up_at, 202) >= 40, timeout=30, what="requests accepted again")
            finally:
                stop.set()
                for thread in senders:
                    thread.join(timeout=40)

            with lock:
                outcome = Counter(code for _, code, _ in results)
                refused = [response for _, code, response in results if code == 503]
                accepted = [response.get_json()["delivery_id"] for _, code, response in results if code == 202]
                during = dict(Counter(code for sent, code, _ in results if down_at <= sent < up_at))
                last = [code for _, code, _ in sorted(results, key=lambda r: r[0])[-20:]]
            assert set(outcome) <= {202, 503}, outcome  # never a 500
            assert last == [202] * 20, outcome
            for response in refused:
                assert_envelope(response, 503, "SERVICE_UNAVAILABLE")

            # Everything accepted arrives, sent by the same worker (its consumer reconnected); deliveries whose
            # message could not be sent while Redis was down are the sweeper's, fired by the same scheduler.
            # A row held for its attempt (61 s) would miss 40 s; what was accepted during the outage drains on top, at
            # the receiver's pace (0.2 s a delivery on 8 worker threads: 40/s; 10/s allowed on a loaded machine).
            all_arrive(accepted, receiver, timeout=40 + during.get(202, 0) / 10)
            assert worker.poll() is None and scheduler.poll() is None

            def fired_since_restart() -> list[str]:
                """Jobs the scheduler sent after the restart, and a worker then ran."""
                response = http("GET", f"{base}/api/v1/admin/jobs?limit=100", admin)
                assert response.status_code == 200, response.text
                return [job["name"] for job in response.get_json()["items"] if job.get("last_trigger") == "schedule"
                        and up_wall < epoch(job["last_run_at"]) <= epoch(job["last_finished_at"])]

            jobs = wait_for(fired_since_restart, timeout=20, interval=0.5, what="a scheduled job after the restart")
    finally:
        stop_embedded_redis(var)

    summary = (f"{len(accepted)} accepted (all delivered, {len(delivered_ids(receiver))} distinct), "
               f"{during} answered during a {outage:.0f} s outage; scheduled after it: {', '.join(jobs)}")
    print(summary)
    record_property("redis_restart", summary)


def test_a_delivery_taken_while_redis_is_down_is_left_due_for_the_next_sweep(
        make_app: Any, client: FlaskClient, auth: Any) -> None:
    """What a worker thread that picks a message up just as Redis goes away does (the burst above hits this only
    now and then): no attempt, and the row is not held for the attempt's timeout but due again at once."""
    from domain.events import emit
    from models.db import db, utc_naive
    from models.delivery import Delivery
    from tests.support.processes import free_port
    from workers.webhooks import deliver_webhook

    user = auth("user")
    with receiving([200]) as receiver:
        hook = endpoint(client, user, receiver.url, timeout_seconds=60)
        owner_id = client.get("/api/v1/users/me", headers=user).get_json()["id"]
        with db.atomic():
            [delivery_id] = emit("deployment.completed", {"n": 1}, owner_id=owner_id).delivery_ids
        away = make_app(REDIS_URL=f"redis://127.0.0.1:{free_port()}", **LOCAL_RECEIVERS)  # this process's Redis
        deliver_webhook.fn(away.extensions["conveyor"].runtime, delivery_id)  # no rate limit check: no attempt
        assert receiver.count() == 0
    row = Delivery.get_by_id(delivery_id)
    assert (row.status, row.attempt_count) == ("pending", 0) and str(row.last_error).startswith("Redis unavailable")
    assert delivery_id in Delivery.due_ids(utc_naive()) and row.endpoint.id == hook["id"]
