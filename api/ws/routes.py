"""`WS /api/v1/ws/builds/{task_id}` and `/api/v1/ws/analyses/{analysis_id}`: a task's events, live.

The socket authenticates (close 4401), authorises (close 4404), sends `connected` with the row's
state, replays the stream after `last_event_id` (or from its start), then relays live events from
the process's stream hub, skipping any it already sent. It closes after the final event.
"""
from __future__ import annotations

import json
import queue
import select
import threading
import time
import uuid
from typing import Any

from flask import Blueprint, current_app, request
from flask_sock import Sock
from simple_websocket import Server

from api import task_views
from api.auth.guard import socket_user
from api.errors import ApiError
from api.services import services
from api.ws.hub import StreamHub, Subscription
from core import stream_events, streams
from core.timeutil import isoformat, utcnow
from models.db import db
from models.task import FINAL, Task

ws_blp = Blueprint("ws", __name__)


class DaemonThread(threading.Thread):
    """simple-websocket's reader thread may sleep up to its ping interval after a close; it must not
    hold the process open on shutdown."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, daemon=True, **kwargs)


SERVER_OPTIONS = {"ping_interval": 25, "max_message_size": 4096, "thread_class": DaemonThread}
sock = Sock()
UNAUTHORIZED, FORBIDDEN, NOT_FOUND, BAD_REQUEST = 4401, 4403, 4404, 4400
READ_PERMISSION = {"build": "build:read", "analysis": "analysis:read"}
# How often an idle socket looks for client messages (pings); events wake it at once.
IDLE_POLL_SECONDS = 0.5
FINISHED_GRACE_SECONDS = 2.0


def hub() -> StreamHub:
    return current_app.extensions["stream_hub"]


def _send(ws: Server, message: dict[str, Any]) -> None:
    ws.send(json.dumps(message, default=str))


def _position(stream_id: str) -> tuple[int, int]:
    millis, _, sequence = stream_id.partition("-")
    return int(millis), int(sequence or 0)


def _id_after(a: str, b: str) -> bool:
    """Stream ids compare as (milliseconds, sequence)."""
    return _position(a) > _position(b)


def _authorise(ws: Server, kind: str, task_id: str) -> Task | None:
    try:
        user = socket_user(READ_PERMISSION[kind])
    except ApiError as error:
        refuse(ws, error)
        return None
    try:
        uuid.UUID(task_id)
    except ValueError:
        ws.close(NOT_FOUND, "not found")
        return None
    task = task_views.visible(kind, user, task_id)
    if task is None:
        ws.close(NOT_FOUND, "not found")
    return task


def refuse(ws: Server, error: ApiError) -> None:
    """Close a socket whose handshake did not authenticate (4401) or lacks the permission (4403)."""
    if error.status == 403:
        ws.close(FORBIDDEN, "forbidden")
    else:
        ws.close(UNAUTHORIZED, "unauthorized")


def _client_message(ws: Server, raw: str | bytes, task_id: str) -> None:
    """Answer a ping; anything else gets the common error envelope (the socket stays open)."""
    try:
        message = json.loads(raw)
    except ValueError:
        message = None
    if isinstance(message, dict) and message.get("type") == "ping":
        _send(ws, stream_events.pong(task_id=task_id))
        return
    _send(ws, {"error": {"code": "BAD_REQUEST", "message": 'Expected {"type": "ping"}', "details": {}},
               "request_id": None, "timestamp": isoformat(utcnow())})


class Relay:
    """Sends each event once, in order, and knows when the last one has gone out. Also the hub's sink."""

    def __init__(self, ws: Server, task_id: str, seen: str) -> None:
        self.ws, self.task_id, self.seen, self.done = ws, task_id, seen, False

    def writable(self) -> bool:
        """Can the socket take data now? (The hub must never block on one slow client.)"""
        try:
            return bool(select.select([], [self.ws.sock], [], 0)[1])
        except (OSError, ValueError):
            return False

    def deliver(self, event: dict[str, Any], text: str) -> None:
        try:
            self.send(event, text)
        except Exception:  # the client went away; its own thread notices and cleans up
            self.done = True

    def send(self, event: dict[str, Any], text: str | None = None) -> None:
        if self.done or not _id_after(event["id"], self.seen):
            return
        self.ws.send(text or json.dumps(event, default=str))
        self.seen = event["id"]
        self.done = event["type"] in stream_events.FINAL_TYPES

    def replay(self) -> None:
        while not self.done:
            events = streams.read_after(services().redis, self.task_id, self.seen)
            if not events:
                return
            for event in events:
                self.send(event)

    def finish_from_row(self) -> None:
        """The stream is gone (expired) but the task is final: say how it ended from the row."""
        with db.connection_context():
            task = Task.get_by_id(self.task_id)
        _send(self.ws, stream_events.final_from_row(self.task_id, self.seen, task.status, task.results, task.error))
        self.done = True


def _relay(ws: Server, kind: str, task_id: str) -> None:
    with db.connection_context():
        task = _authorise(ws, kind, task_id)
    if task is None:
        return
    last_event_id = request.args.get("last_event_id") or "0-0"
    if not streams.valid_id(last_event_id):
        ws.close(BAD_REQUEST, "last_event_id is not a stream id")
        return
    subscription = hub().subscribe(task_id)
    try:
        _send(ws, stream_events.connected(task_id, last_event_id, task.status, task.progress))
        relay = Relay(ws, task_id, last_event_id)
        relay.replay()
        finished = task.status in FINAL
        if not relay.done and finished and not streams.read_after(services().redis, task_id, None, 1):
            relay.finish_from_row()
        # A finished task has nothing more to come, beyond a final event a moment behind its row; a client
        # that resumes after that final event gets `connected` and the close, and nothing twice.
        _live(ws, relay, subscription, FINISHED_GRACE_SECONDS if finished else None)
    finally:
        hub().unsubscribe(subscription)
    ws.close(1000, "done")


def _catch_up(relay: Relay, subscription: Subscription) -> None:
    """Send what the hub queued (re-reading the stream after an overflow), then let it send directly."""
    if subscription.overflowed.is_set():
        subscription.overflowed.clear()
        relay.replay()
    with subscription.lock:
        while not relay.done:
            try:
                relay.send(*subscription.events.get_nowait())
            except queue.Empty:
                break
        if not relay.done and not subscription.overflowed.is_set():
            subscription.sink = relay


def _live(ws: Server, relay: Relay, subscription: Subscription, limit: float | None) -> None:
    deadline = None if limit is None else time.monotonic() + limit
    while not relay.done and (deadline is None or time.monotonic() < deadline):
        if subscription.sink is None:
            _catch_up(relay, subscription)
        raw = ws.receive(timeout=IDLE_POLL_SECONDS)
        if raw is not None:
            with subscription.lock:
                _client_message(ws, raw, relay.task_id)


@sock.route("/api/v1/ws/builds/<task_id>", bp=ws_blp)
def build_progress(ws: Server, task_id: str) -> None:
    _relay(ws, "build", task_id)


@sock.route("/api/v1/ws/analyses/<task_id>", bp=ws_blp)
def analysis_progress(ws: Server, task_id: str) -> None:
    _relay(ws, "analysis", task_id)
