"""`WS /api/v1/ws/alerts`: new alerts, live, for the channels a client subscribes to, and the system's
status every few seconds to everyone.

New alerts are appended to one Redis stream (`domain.alerting`) and reach sockets through the same
one-reader-per-process hub as progress streams. Client messages: `{"type": "subscribe", "channels":
[...]}` and `{"type": "ping"}`; anything else gets the common error envelope and the socket stays open.
"""
from __future__ import annotations

import json
import queue
import threading
import time
from typing import Any

from flask import current_app
from simple_websocket import Server

from api import checks
from api.auth.guard import socket_user
from api.errors import ApiError
from api.services import services
from api.ws.routes import refuse, sock, ws_blp
from core import cache, stream_events
from core.timeutil import isoformat, utcnow
from domain import telemetry
from domain.alerting import ALERTS_STREAM
from models.db import db
from models.task import Task

CHANNELS = {"critical_alerts": {"CRITICAL"}, "performance_warnings": {"WARNING"},
            "all": {"INFO", "WARNING", "CRITICAL"}}
STATUS_SECONDS = 5.0
POLL_SECONDS = 0.2
_status_lock = threading.Lock()
_status_cache: dict[str, Any] = {"at": 0.0, "data": None}


def _send(ws: Server, message: dict[str, Any]) -> None:
    ws.send(json.dumps(message, default=str))


def _error(ws: Server, message: str) -> None:
    _send(ws, {"error": {"code": "BAD_REQUEST", "message": message, "details": {}}, "request_id": None,
               "timestamp": isoformat(utcnow())})


def system_status() -> dict[str, Any]:
    """What the status message carries, computed at most once per STATUS_SECONDS per process."""
    with _status_lock:
        if time.monotonic() - _status_cache["at"] >= STATUS_SECONDS or _status_cache["data"] is None:
            svc = services()
            with db.connection_context():
                hooks = checks.webhook_summary()
                queued = Task.select().where(Task.status == "queued").count()
            _status_cache["data"] = {"cache_hit_rate": cache.hit_rate(svc.redis), "active_webhooks": hooks["active"],
                                     "pending_deliveries": hooks["pending_deliveries"], "queued_tasks": queued,
                                     "workers": len(telemetry.live_workers(svc.redis))}
            _status_cache["at"] = time.monotonic()
        return dict(_status_cache["data"])


def _on_message(ws: Server, raw: str | bytes, severities: set[str]) -> None:
    try:
        message = json.loads(raw)
    except ValueError:
        message = None
    kind = message.get("type") if isinstance(message, dict) else None
    if kind == "ping":
        _send(ws, stream_events.pong())
    elif kind == "subscribe":
        channels = message.get("channels") if isinstance(message, dict) else None
        if not isinstance(channels, list) or not channels or not set(map(str, channels)) <= set(CHANNELS):
            _error(ws, f"channels must be a non-empty list of {', '.join(sorted(CHANNELS))}")
            return
        severities.clear()
        severities.update(*(CHANNELS[str(c)] for c in channels))
        _send(ws, stream_events.subscribed(sorted(set(map(str, channels)))))
    else:
        _error(ws, 'Expected {"type": "subscribe", "channels": [...]} or {"type": "ping"}')


@sock.route("/api/v1/ws/alerts", bp=ws_blp)
def alerts_channel(ws: Server) -> None:
    try:
        with db.connection_context():
            user = socket_user()
    except ApiError as error:
        refuse(ws, error)
        return
    hub = current_app.extensions["stream_hub"]
    subscription = hub.subscribe(ALERTS_STREAM)
    severities: set[str] = set()
    next_status = 0.0
    try:
        while ws.connected:
            if time.monotonic() >= next_status:
                _send(ws, stream_events.system_status(system_status()))
                next_status = time.monotonic() + STATUS_SECONDS
            _relay(ws, subscription, severities, None if user.role == "admin" else user.id)
            raw = ws.receive(timeout=POLL_SECONDS)
            if raw is not None:
                _on_message(ws, raw, severities)
    finally:
        hub.unsubscribe(subscription)


def _relay(ws: Server, subscription: Any, severities: set[str], viewer: int | None) -> None:
    """New alerts of the subscribed severities that this user may see (`viewer` None: an admin, all)."""
    while True:
        try:
            event, _ = subscription.events.get_nowait()
        except queue.Empty:
            return
        alert = event.get("data") or {}
        owner = alert.get("owner_id")
        if alert.get("severity") in severities and (viewer is None or owner is None or owner == viewer):
            _send(ws, stream_events.alert_relayed(event))
