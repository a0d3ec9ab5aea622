"""The stream-event vocabulary: every message a progress stream, the alerts stream and their WebSockets carry is
built by one function here, so writers (reporter, settle, alerting) and readers (the WebSocket routes) agree on
each type's fields (the message types of the API contract's "Progress streams").

Events written to a stream get `task_id`, `timestamp` and, once stored, `id` from `core.streams.append`;
messages a WebSocket route sends itself are stamped here.
"""
from __future__ import annotations

from typing import Any

from core.timeutil import isoformat, utcnow

Event = dict[str, Any]
FINAL_TYPES = ("completion", "error")


def progress(percent: int, **data: Any) -> Event:
    return {"type": "progress", "status": "running", "progress": percent, "data": data}


def log(step: str | None, first_line: int, lines: list[str]) -> Event:
    return {"type": "log", "data": {"step": step, "first_line": first_line, "lines": lines}}


def completion(status: str, results: Any) -> Event:
    return {"type": "completion", "status": status, "progress": 100 if status == "completed" else None,
            "results": results}


def error(status: str, message: str, **extra: Any) -> Event:
    """How a run ended other than completed; `results` (what it got done) where the writer has them."""
    return {"type": "error", "status": status, "error": message, **extra}


def alert(data: dict[str, Any]) -> Event:
    return {"type": "alert", "data": data}


def stamped(event: Event, **fields: Any) -> Event:
    """A message a route sends itself (not read from a stream): with the time it is sent."""
    return {**event, **fields, "timestamp": isoformat(utcnow())}


def connected(task_id: str, last_event_id: str, status: str, percent: int) -> Event:
    return stamped({"type": "connected", "task_id": task_id, "id": last_event_id, "status": status,
                    "progress": percent})


def final_from_row(task_id: str, last_event_id: str, status: str, results: Any, message: str | None) -> Event:
    """How a task ended, from its row, once its stream has expired: a `completion` or an `error`."""
    kind = "completion" if status == "completed" else "error"
    return stamped({"type": kind, "task_id": task_id, "id": last_event_id, "status": status, "results": results,
                    "error": message})


def pong(**fields: Any) -> Event:
    return stamped({"type": "pong", **fields})


def subscribed(channels: list[str]) -> Event:
    return {"type": "subscribed", "channels": channels}


def system_status(data: dict[str, Any]) -> Event:
    return stamped({"type": "system_status", "data": data})


def alert_relayed(stored: Event) -> Event:
    """An alert read back from the alerts stream, as the alerts WebSocket sends it (its stream id for resuming)."""
    return {"type": "alert", "data": stored["data"], "id": stored["id"]}
