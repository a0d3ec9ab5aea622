"""Per-task progress streams in Redis: workers append events, WebSocket routes relay them.

A stream id (`1700000000000-0`) is the event's `id`, so a client that reconnects with
`last_event_id` resumes exactly after the last event it saw.
"""
from __future__ import annotations

import json
from typing import Any

import redis

from core.stream_events import FINAL_TYPES, Event
from core.timeutil import isoformat, utcnow

STREAM_PREFIX = "conveyor:stream:"
MAX_EVENTS = 5_000
# A finished task's stream stays for late joiners this long; its full log is in the database.
FINISHED_TTL_SECONDS = 24 * 3600


def stream_key(task_id: str) -> str:
    return f"{STREAM_PREFIX}{task_id}"


def append(client: redis.Redis, task_id: str, event: Event) -> str:
    """Add one event (built by `core.stream_events`); the stream is capped, and expires a day after its final
    event."""
    body = {"type": event["type"], "task_id": task_id, "timestamp": isoformat(utcnow()),
            **{k: v for k, v in event.items() if k != "type"}}
    key = stream_key(task_id)
    pipe = client.pipeline(transaction=False)
    pipe.xadd(key, {"event": json.dumps(body, default=str)}, maxlen=MAX_EVENTS, approximate=True)
    if event["type"] in FINAL_TYPES:
        pipe.expire(key, FINISHED_TTL_SECONDS)
    event_id = pipe.execute()[0]
    return event_id.decode() if isinstance(event_id, bytes) else str(event_id)


def decode(entry_id: Any, fields: dict[Any, Any]) -> dict[str, Any]:
    raw: Any = fields.get("event", fields.get(b"event"))
    event: dict[str, Any] = json.loads(raw)
    event["id"] = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
    return event


def read_after(client: redis.Redis, task_id: str, after: str | None, count: int = 1000) -> list[dict[str, Any]]:
    """Events after `after` (exclusive), or from the start."""
    start = f"({after}" if after else "-"
    entries: Any = client.xrange(stream_key(task_id), min=start, max="+", count=count)
    return [decode(entry_id, fields) for entry_id, fields in entries]


def last_id(client: redis.Redis, task_id: str) -> str:
    entries: Any = client.xrevrange(stream_key(task_id), count=1)
    if not entries:
        return "0-0"
    entry_id = entries[0][0]
    return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)


def valid_id(value: str) -> bool:
    left, _, right = value.partition("-")
    return left.isdigit() and (right == "" or right.isdigit()) and len(value) <= 41
