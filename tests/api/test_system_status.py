"""The system status: seed 001's `GET /health/status` (components and this process's figures, public) and seed
004's `services`, `cache` and `database.latency_ms` in the admin status, from every process's heartbeat."""
from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import psutil
import pytest
import redis
from apscheduler.schedulers.background import BackgroundScheduler
from flask.testing import FlaskClient

from scheduler.runner import SchedulerRunner
from tests.support.processes import wait_for
from workers.jobs import sweep_outbox
from workers.schedule import Job


@pytest.fixture
def scheduler(client: FlaskClient, redis_client: redis.Redis) -> Iterator[SchedulerRunner]:
    """A real scheduler (leader election, ticks, heartbeat) on the suite's Redis, in a thread of this process."""
    runner = SchedulerRunner(redis_client, [Job(sweep_outbox, 3600, "rarely")], 5,
                             scheduler_factory=BackgroundScheduler)
    runner.start()
    yield runner
    runner.stop()


def status(client: FlaskClient) -> dict[str, Any]:
    response = client.get("/health/status")  # public, like every /health route
    assert response.status_code == 200, response.get_json()
    return response.get_json()  # type: ignore[no-any-return]


def test_without_workers_or_a_scheduler_the_status_is_degraded_and_says_why(client: FlaskClient) -> None:
    first = status(client)
    assert first["status"] == "degraded"
    assert first["components"] == {"api": "healthy", "database": "healthy", "cache": "healthy",
                                   "workers": "unhealthy", "scheduler": "unhealthy"}
    metrics = first["metrics"]
    assert metrics["uptime_seconds"] >= 0 and metrics["requests_per_second"] >= 0
    assert 0 < metrics["memory_percent"] < 100 and metrics["cpu_percent"] >= 0
    client.get("/health")
    assert status(client)["metrics"]["requests_total"] == metrics["requests_total"] + 2  # /health, then the first


@pytest.mark.slow
def test_with_a_worker_and_a_scheduler_every_process_is_listed(
        client: FlaskClient, auth: Any, worker: Any, scheduler: SchedulerRunner) -> None:
    wait_for(lambda: status(client)["status"] == "operational", timeout=30, what="every component healthy")
    admin = client.get("/api/v1/admin/system/status", headers=auth("admin")).get_json()
    services = {entry["name"]: entry for entry in admin["services"]}
    assert set(services) == {"api", "worker", "scheduler"}
    beating = int(services["worker"]["id"].rsplit(":", 1)[1])
    assert psutil.Process(beating).ppid() == worker.pid  # dramatiq's worker process, a child of the one started
    for entry in services.values():
        assert entry["status"] == "running" and entry["uptime"] >= 0
        assert re.fullmatch(r"\d+MB", entry["memory_usage"]) and re.fullmatch(r"[\d.]+%", entry["cpu_usage"])
    assert admin["database"]["latency_ms"] == admin["database"]["response_ms"] >= 0
    assert admin["cache"]["status"] == "up" and 0 <= admin["cache"]["hit_rate"] <= 1
    assert set(admin["external_services"]) == {"github", "gitlab", "kubernetes"}


def test_the_status_is_public_but_the_admin_status_is_not(client: FlaskClient, auth: Any) -> None:
    assert client.get("/health/status").status_code == 200
    assert client.get("/api/v1/admin/system/status").status_code == 401
    assert client.get("/api/v1/admin/system/status", headers=auth("user")).status_code == 403
