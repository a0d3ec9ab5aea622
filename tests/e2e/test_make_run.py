"""`make run` end to end: it starts everything on embedded defaults, serves, and stops cleanly on Ctrl-C."""
from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest
import requests

from core.embedded_redis import _pid_alive
from tests.support.processes import free_port, running, stop_group, wait_for

pytestmark = pytest.mark.slow
ADMIN_PASSWORD = "make-run-admin-pw"


def _ready(base: str) -> bool:
    try:
        return requests.get(f"{base}/health/ready", timeout=1).status_code == 200
    except requests.RequestException:
        return False


def _started_pids(log_path: Path, service: str) -> list[int]:
    """Pids that the supervisor logged as started for `service` (its JSON log lines)."""
    pids = []
    for line in log_path.read_text().splitlines():
        if line.startswith("{") and '"message": "started"' in line:
            entry = json.loads(line)
            if entry.get("service") == service:
                pids.append(int(entry["pid"]))
    return pids


def _group_members(pgid: int) -> list[int]:
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members


def _start(var_dir: Path, port: int, log_path: Path) -> Any:
    env = {"VAR_DIR": str(var_dir), "PORT": str(port), "ADMIN_PASSWORD": ADMIN_PASSWORD,
           "WORKER_THREADS": "2", "SCHEDULER_LOCK_TTL": "3"}
    return running(["make", "--no-print-directory", "run"], env, log_path.open("w"))


def test_make_run_serves_works_and_stops_cleanly(tmp_path: Path) -> None:
    var_dir, port = tmp_path / "var", free_port()
    base = f"http://127.0.0.1:{port}"
    with _start(var_dir, port, tmp_path / "run1.log") as make:
        wait_for(lambda: _ready(base), timeout=120, interval=0.5, what="/health/ready")
        token = requests.post(f"{base}/api/v1/auth/login", timeout=5,
                              json={"username": "admin", "password": ADMIN_PASSWORD}).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        assert requests.get(f"{base}/docs", timeout=5).status_code == 200

        # The worker runs what the API enqueues, and the scheduler ticks.
        assert requests.post(f"{base}/api/v1/admin/jobs/sweep_outbox/run", headers=headers, timeout=5).ok

        def finished() -> bool:
            items = requests.get(f"{base}/api/v1/admin/jobs", headers=headers, timeout=5).json()["items"]
            return bool(items[0].get("last_finished_at"))

        wait_for(finished, timeout=30, what="the worker to run the job")
        deep = requests.get(f"{base}/health/deep", timeout=5).json()
        assert deep["scheduler"]["last_tick"] is not None
        assert deep["workers"]["count"] == 1
        redis_pid = json.loads((var_dir / "redis" / "server.json").read_text())["pid"]

        # A worker that dies is restarted by make run's supervisor.
        first_worker = _started_pids(tmp_path / "run1.log", "worker")[0]
        os.kill(first_worker, signal.SIGKILL)
        wait_for(lambda: len(_started_pids(tmp_path / "run1.log", "worker")) == 2, timeout=30,
                 what="the supervisor to restart the worker")
        wait_for(lambda: not _group_members(first_worker), timeout=10,
                 what="the dead worker's forked processes to be gone")
        wait_for(lambda: any(w["pid"] != first_worker for w in
                             requests.get(f"{base}/health/deep", timeout=5).json()["workers"]["items"]),
                 timeout=30, what="the new worker's heartbeat")

        # Ctrl-C reaches the whole foreground process group, as a terminal sends it.
        stop_group(make, signal.SIGINT, timeout=60)

    log = (tmp_path / "run1.log").read_text()
    assert "Conveyor is ready at" in log
    assert '"message": "stopped"' in log
    assert not _ready(base)
    assert not _pid_alive(redis_pid), "the embedded Redis must stop with make run"

    # A second start keeps the data: no new admin, the same login works, no migration re-applied.
    with _start(var_dir, port, tmp_path / "run2.log") as make:
        wait_for(lambda: _ready(base), timeout=120, interval=0.5, what="/health/ready after restart")
        assert requests.post(f"{base}/api/v1/auth/login", timeout=5,
                             json={"username": "admin", "password": ADMIN_PASSWORD}).status_code == 200
        stop_group(make, signal.SIGINT, timeout=60)
    second = (tmp_path / "run2.log").read_text()
    assert "migrations applied: none" in second and "created admin" not in second
