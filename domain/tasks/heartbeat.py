"""Keep a running task's `heartbeat_at` fresh from a side thread, whatever the task is blocked on.

The reaper (`reap_tasks`) fails a task after TASK_STALE_SECONDS without a beat; we beat six times as often."""
from __future__ import annotations

import logging
import threading
from types import TracebackType

from models.db import db, utc_naive
from models.task import Task

log = logging.getLogger(__name__)


class TaskHeartbeat:
    def __init__(self, task_id: str, interval: float) -> None:
        self.task_id = task_id
        self.interval = interval
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"heartbeat-{task_id[:8]}", daemon=True)

    def _run(self) -> None:
        while not self.stop.wait(self.interval):
            try:
                with db.connection_context():
                    Task.update(heartbeat_at=utc_naive()).where(
                        (Task.id == self.task_id) & (Task.status == "running")).execute()
            except Exception:  # a missed beat is survivable; the reaper waits for several
                log.warning("task heartbeat failed", extra={"task_id": self.task_id}, exc_info=True)

    def __enter__(self) -> TaskHeartbeat:
        self.thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
