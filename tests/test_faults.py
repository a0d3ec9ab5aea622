"""Fault injection against real processes: workers killed with SIGKILL mid-burst, Redis and PostgreSQL
stopped and started again under load, a webhook receiver that never answers.

Each test is bounded; `CHAOS=full` (`make chaos`) runs bigger versions: more events, more kill rounds,
longer outages.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from flask.testing import FlaskClient

from core.embedded_redis import ensure_embedded_redis, stop_embedded_redis
from tests.conftest import LOCAL_RECEIVERS, PASSWORD, ROOT, create_user, serving_api
from tests.envelope import assert_envelope
from tests.postgres import postgres_bin, throwaway_postgres
from tests.processes import BIN, running, stop_group, wait_for, worker_argv
from tests.receiver import Receiver, receiving
from tests.test_webhook_delivery import endpoint

pytestmark = [pytest.mark.slow, pytest.mark.local_receivers]
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


# 1. Every worker killed with SIGKILL while webhook events are in flight ------------------------------------

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


# 2. Redis stopped and started again during a burst of requests ----------------------------------------------

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
    from tests.processes import free_port
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


# 3. PostgreSQL stopped for a while -------------------------------------------------------------------------

@pytest.mark.skipif(postgres_bin() is None, reason="no PostgreSQL binaries under /usr/lib/postgresql")
@pytest.mark.usefixtures("redis_client")  # the suite's Redis, emptied: no message from another test's database
def test_postgres_down_turns_ready_503_and_the_service_recovers_by_itself(
        base_env: dict[str, str], tmp_path: Path, record_property: Any) -> None:
    outage = 30.0 if FULL else 10.0
    with throwaway_postgres(tmp_path / "postgres.log") as database:
        env = {**base_env, **LOCAL_RECEIVERS, "DATABASE_URL": database.url, "ADMIN_USERNAME": "chaos-admin",
               "ADMIN_PASSWORD": PASSWORD}
        subprocess.run([str(BIN / "flask"), "--app", "api", "init"], cwd=ROOT, check=True, timeout=60,
                       env={"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), **env},
                       capture_output=True)
        with (receiving([200]) as receiver, serving_api(env, (tmp_path / "api.log").open("w")) as base,
              start_workers(env, tmp_path / "worker.log") as worker):
            admin = http_login(base, "chaos-admin")
            hook = http_endpoint(base, admin, receiver.url)

            def get(path: str) -> HttpResponse:
                return http("GET", f"{base}{path}", admin)

            def send_test_event() -> HttpResponse:
                return http("POST", f"{base}/api/v1/webhooks/{hook['id']}/test", admin)

            def delivered(response: HttpResponse) -> None:
                assert response.status_code == 202, response.text
                wait_for(lambda: response.get_json()["delivery_id"] in delivered_ids(receiver), timeout=15,
                         what="the worker to deliver a test event")

            def burst(path: str) -> Counter[int]:
                """Concurrent requests: the API's pool holds (and after the outage, checks) as many connections."""
                with ThreadPoolExecutor(16) as pool:
                    return Counter(pool.map(lambda _: get(path).status_code, range(32)))

            # Before: every API thread's pooled connection and the worker's are open, to go stale in the outage.
            assert burst("/api/v1/users/me") == {200: 32}
            delivered(send_test_event())
            database.stop()
            down_at = time.monotonic()
            ready = get("/health/ready")
            assert_envelope(ready, 503, "SERVICE_UNAVAILABLE")
            checks = ready.get_json()["error"]["details"]
            assert (checks["database"]["status"], checks["redis"]["status"]) == ("down", "up")
            probes: Counter[int] = Counter()
            while time.monotonic() - down_at < outage:
                for response in (get("/health/ready"), get("/api/v1/users/me"), send_test_event()):
                    probes[response.status_code] += 1
                    assert_envelope(response, 503, "SERVICE_UNAVAILABLE")
                time.sleep(0.5)  # pacing the probes through the outage, not waiting for an outcome

            database.start()
            up_at = time.monotonic()
            wait_for(lambda: get("/health/ready").status_code == 200, timeout=15, interval=0.2,
                     what="/health/ready to answer 200 again")
            recovered = time.monotonic() - up_at
            assert burst("/api/v1/users/me") == {200: 32}  # no stale connection is handed out
            delivered(send_test_event())  # by the worker that ran through the outage
            assert worker.poll() is None

    summary = (f"{sum(probes.values())} requests during a {outage:.0f} s outage all 503; "
               f"ready again {recovered:.1f} s after PostgreSQL was back")
    print(summary)
    record_property("postgres_outage", summary)


# 4. A receiver that accepts and never answers --------------------------------------------------------------

def test_a_hanging_receiver_times_out_and_does_not_starve_other_endpoints(
        client: FlaskClient, auth: Any, worker: Any, record_property: Any) -> None:
    user = auth("user")
    threads, pending = 4, (60 if FULL else 12)  # the `worker` fixture's threads; three times as many hang
    release = threading.Event()

    def hang() -> int:
        release.wait(120)  # reads the request, then never answers (until the test ends)
        return 200

    with receiving([hang]) as hanging, receiving([200]) as healthy:
        try:
            stuck = endpoint(client, user, hanging.url, events=["deployment.*"], timeout_seconds=2,
                             retry_policy={"backoff_base": 1.5, "max_retries": 10})
            endpoint(client, user, healthy.url, events=["pipeline.*"])
            send_event(client, user, "deployment.completed", {"n": 0})

            # The timeout holds: the attempt is recorded as one, and the delivery is retried.
            [first] = wait_for(lambda: [d for d in deliveries(client, user, stuck["id"]) if len(d["attempts"]) >= 2],
                               timeout=20, interval=0.2, what="a timed-out attempt, and its retry")
            for attempt in first["attempts"]:
                assert attempt["status_code"] is None and attempt["error"] == "timed out after 2 s"
                assert 1900 <= attempt["duration_ms"] < 4000

            # Many more deliveries to the hanging endpoint; a healthy one's still arrive at once.
            for n in range(pending):
                send_event(client, user, "deployment.completed", {"n": n + 1})
            latencies = []
            for n in range(8):
                sent = time.monotonic()
                send_event(client, user, "pipeline.completed", {"n": n})
                wait_for(received(healthy, n + 1), timeout=10, interval=0.01, what="a healthy delivery")
                latencies.append(time.monotonic() - sent)
                # Were threads held by the hanging attempts, it would wait for one: 2 s.
                assert latencies[-1] < 1.5, f"a healthy delivery took {latencies[-1]:.2f} s"
                time.sleep(0.25)  # spread the probes over the hanging attempts
            waiting = [d for d in deliveries(client, user, stuck["id"]) if d["status"] != "dead"]
            assert len(waiting) >= pending, "the hanging endpoint's deliveries are still pending"
        finally:
            release.set()

    summary = (f"healthy deliveries within {max(latencies) * 1000:.0f} ms (median "
               f"{sorted(latencies)[len(latencies) // 2] * 1000:.0f} ms) while {len(waiting)} to a hanging "
               f"receiver were pending ({threads} worker threads)")
    print(summary)
    record_property("hanging_receiver", summary)
