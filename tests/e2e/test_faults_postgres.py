"""Fault injection: PostgreSQL stopped for a while; readiness turns 503, every request meanwhile is a 503
envelope, and the service recovers by itself.

Bounded; `CHAOS=full` (`make chaos`) runs a bigger version: a longer outage.
"""
from __future__ import annotations

import os
import subprocess
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import LOCAL_RECEIVERS, PASSWORD, ROOT, serving_api
from tests.support.envelope import assert_envelope
from tests.support.faults import FULL, HttpResponse, delivered_ids, http, http_endpoint, http_login, start_workers
from tests.support.postgres import postgres_bin, throwaway_postgres
from tests.support.processes import BIN, wait_for
from tests.support.receiver import receiving

pytestmark = [pytest.mark.slow, pytest.mark.local_receivers]


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
