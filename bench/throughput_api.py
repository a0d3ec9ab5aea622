"""The end-to-end path of `bench/throughput.py`, Conveyor only: `POST /api/v1/admin/jobs/sweep_outbox/run`
on the real API from keep-alive client threads, with `make run`'s API and worker (both argv from
`core.supervisor.commands`), and the rate at which the worker completes the jobs they enqueue.

Completions are counted with the `conveyor:stats:messages` hash field `sweep_outbox|succeeded` (and
`|failed`), which the `Outcomes` middleware HINCRBYs once per message, after the actor has returned. It
cannot be fooled: a message prefetched but not yet run, or one merely removed from the queue, is not
counted, and nothing else runs `sweep_outbox` (no scheduler is started). The job-state hash that
`record_job_finished` writes is no counter (it keeps only the last run), so it is not used.
"""
from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import requests

from bench.common import answers
from core.redis import get_redis
from core.settings import Settings
from core.supervisor import commands
from domain import telemetry
from tests.support.processes import running, wait_for

JOB = "sweep_outbox"


def _completed(client: Any) -> tuple[int, int]:
    counts, _ = telemetry.message_outcomes(client)
    return counts.get((JOB, "succeeded"), 0), counts.get((JOB, "failed"), 0)



def _client(base: str, token: str, count: int, go: threading.Barrier, out: dict[str, Any]) -> None:
    statuses: dict[int, int] = {}
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {token}"
        go.wait()
        for _ in range(count):
            try:
                status = session.post(f"{base}/api/v1/admin/jobs/{JOB}/run", timeout=30).status_code
            except requests.RequestException:
                status = 0
            statuses[status] = statuses.get(status, 0) + 1
    out[threading.current_thread().name] = (statuses, time.monotonic())


def measure(settings: Settings, env: dict[str, str], var: Path, m: int, clients: int, wait: float,
            admin_password: str) -> dict[str, Any]:
    children = {child.name: child.argv for child in commands(settings)}
    base = f"http://{settings.host}:{settings.port}"
    client = get_redis(env["REDIS_URL"])
    with (var / "api.log").open("w") as api_log, (var / "worker-api.log").open("w") as worker_log, \
            running(children["api"], env, api_log), running(children["worker"], env, worker_log):
        wait_for(lambda: answers(f"{base}/health/ready"), timeout=60, what="the API")
        wait_for(lambda: telemetry.live_workers(client), timeout=60, what="the worker's first heartbeat")
        token = requests.post(f"{base}/api/v1/auth/login", timeout=10,
                              json={"username": "admin", "password": admin_password}).json()["access_token"]
        before = _completed(client)
        go = threading.Barrier(clients + 1)
        out: dict[str, Any] = {}
        shares = [m // clients + (1 if i < m % clients else 0) for i in range(clients)]
        threads = [threading.Thread(target=_client, args=(base, token, n, go, out), name=f"c{i}", daemon=True)
                   for i, n in enumerate(shares)]
        for thread in threads:
            thread.start()
        go.wait()
        started = time.monotonic()
        deadline = started + wait
        while True:  # every ~20 ms until the clients are done and every accepted job has completed
            now = time.monotonic()
            done = sum(_completed(client)) - sum(before)
            finished = not any(thread.is_alive() for thread in threads)
            accepted = sum(s.get(202, 0) for s, _ in out.values())
            if (finished and done >= accepted) or now > deadline:
                break
            time.sleep(0.02)
        for thread in threads:
            thread.join(timeout=30)
        succeeded, failed = (after - earlier for after, earlier in zip(_completed(client), before, strict=True))
        depth = telemetry.queue_depths(client, {"scheduled"})["scheduled"]
    statuses: dict[str, int] = {}
    for got, _ in out.values():
        for status, count in got.items():
            statuses[str(status)] = statuses.get(str(status), 0) + count
    api_seconds = max(end for _, end in out.values()) - started
    return {"requests": m, "clients": clients, "statuses": statuses, "accepted": accepted,
            "api_seconds": round(api_seconds, 2), "api_accepts_per_second": round(accepted / api_seconds, 1),
            "jobs_completed": done, "jobs_failed": failed, "jobs_seconds": round(now - started, 2),
            "jobs_completed_per_second": round(done / (now - started), 1),
            "complete": accepted == m and succeeded >= m, "jobs_succeeded": succeeded, "queue_left": depth["ready"]}
