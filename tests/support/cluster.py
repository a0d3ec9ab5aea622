"""A Conveyor deployment as real processes on 127.0.0.1: gunicorn API servers, `dramatiq` workers and
`python -m scheduler` replicas, each in its own process group, all on one Redis and one database."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from contextlib import ExitStack
from functools import partial
from pathlib import Path
from typing import Any

import redis

from domain.telemetry import live_workers
from scheduler.runner import LOCK_KEY
from tests.conftest import serving_api
from tests.support.processes import running, stop_group, wait_for, worker_argv


def scheduler_argv() -> list[str]:
    return [sys.executable, "-m", "scheduler"]


def holder_pid(holder: str | None) -> int | None:
    """The pid in a scheduler's lock holder name (`host:pid:random`)."""
    return int(holder.split(":")[1]) if holder else None


def group_of(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


class Cluster:
    """APIs, workers and schedulers started together; `close()` stops every process group it started."""

    def __init__(self, env: dict[str, str], logs: Path, redis_client: redis.Redis) -> None:
        self.env = env
        self.logs = logs
        self.redis = redis_client
        self.stack = ExitStack()
        self.apis: list[str] = []
        self.workers: list[subprocess.Popen[Any]] = []
        self.schedulers: list[subprocess.Popen[Any]] = []

    def _log(self, name: str) -> Any:
        return self.stack.enter_context((self.logs / f"{name}.log").open("w"))

    def start(self, apis: int, workers: int, schedulers: int, worker_threads: int) -> None:
        """Start the workers and schedulers, then the APIs one by one (each `serving_api` waits until it
        serves, while the others boot); then wait until the workers beat and a scheduler leads."""
        for n in range(1, workers + 1):
            argv = worker_argv(threads=worker_threads)
            self.workers.append(self.stack.enter_context(running(argv, self.env, self._log(f"worker{n}"))))
        for _ in range(schedulers):
            self.start_scheduler()
        for n in range(1, apis + 1):
            self.apis.append(self.stack.enter_context(serving_api(self.env, self._log(f"api{n}"))))
        wait_for(lambda: self.worker_groups() == {w.pid for w in self.workers}, timeout=60,
                 what="every worker process to beat")
        wait_for(self.leader, timeout=60, what="a scheduler to lead")
        for process in self.schedulers:
            wait_for(partial(self.scheduler_started, process), timeout=60, what=f"scheduler {process.pid} to start")

    def start_scheduler(self) -> subprocess.Popen[Any]:
        name = f"scheduler{len(self.schedulers) + 1}"
        process = self.stack.enter_context(running(scheduler_argv(), self.env, self._log(name)))
        self.schedulers.append(process)
        return process

    def scheduler_started(self, process: subprocess.Popen[Any]) -> bool:
        log = self.logs / f"scheduler{self.schedulers.index(process) + 1}.log"
        return '"message": "scheduler starting"' in log.read_text()

    def worker_groups(self) -> set[int | None]:
        """The worker processes (by process group: the `dramatiq` command we started) that beat in Redis."""
        return {group_of(int(w["pid"])) for w in live_workers(self.redis)}

    def leader(self) -> subprocess.Popen[Any] | None:
        """Our scheduler process that holds the leader lock, if one does."""
        pid = holder_pid(self.redis.get(LOCK_KEY))  # type: ignore[arg-type]
        return next((p for p in self.schedulers if p.pid == pid and p.poll() is None), None)

    def leads(self, process: subprocess.Popen[Any]) -> bool:
        return self.leader() is process

    def kill(self, process: subprocess.Popen[Any]) -> None:
        """SIGKILL the whole process group: no shutdown hook runs, the lock is not released."""
        stop_group(process, signal.SIGKILL, timeout=10)

    def close(self) -> None:
        """SIGTERM the workers and schedulers first, so that they stop together rather than one by one."""
        for process in [*self.schedulers, *self.workers]:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        self.stack.close()
