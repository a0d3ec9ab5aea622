"""What a running task tells the world: progress and log lines to its Redis stream and its row."""
from __future__ import annotations

import time
from typing import Any

import redis

from core import stream_events, streams
from models.db import utc_naive
from models.task import Task, TaskLog

CANCEL_PREFIX = "conveyor:cancel:"
MAX_LOG_LINES = 50_000
CANCEL_POLL_SECONDS = 0.5


def request_cancel(client: redis.Redis, task_id: str) -> None:
    """Tell the worker running `task_id` to stop (the row says cancelled already)."""
    client.set(f"{CANCEL_PREFIX}{task_id}", "1", ex=24 * 3600)


class Reporter:
    def __init__(self, client: redis.Redis, task_id: str) -> None:
        self.client = client
        self.task_id = task_id
        self.lines_written = 0
        self.step: str | None = None
        self._cancel_checked = 0.0
        self._cancelled = False

    def progress(self, progress: int, **data: Any) -> None:
        Task.record_progress(self.task_id, progress)
        streams.append(self.client, self.task_id, stream_events.progress(progress, **data))

    def log(self, lines: list[str]) -> None:
        """Store and stream a batch of lines; past the cap, one notice and then nothing more is kept."""
        room = MAX_LOG_LINES - self.lines_written
        if room <= 0:
            return
        if len(lines) >= room:
            lines = [*lines[:room - 1], f"[log truncated at {MAX_LOG_LINES} lines]"]
        now = utc_naive()
        first = self.lines_written
        TaskLog.insert_many([
            {"task": self.task_id, "n": first + i, "step": self.step, "text": text, "timestamp": now}
            for i, text in enumerate(lines)]).execute()
        self.lines_written += len(lines)
        streams.append(self.client, self.task_id, stream_events.log(self.step, first, lines))

    def cancelled(self) -> bool:
        """Polled from the output loop; one Redis GET per half second at most."""
        now = time.monotonic()
        if not self._cancelled and now - self._cancel_checked >= CANCEL_POLL_SECONDS:
            self._cancel_checked = now
            self._cancelled = bool(self.client.exists(f"{CANCEL_PREFIX}{self.task_id}"))
        return self._cancelled

    def completion(self, status: str, results: Any) -> None:
        streams.append(self.client, self.task_id, stream_events.completion(status, results))

    def error(self, status: str, error: str, results: Any = None) -> None:
        streams.append(self.client, self.task_id, stream_events.error(status, error, results=results))
