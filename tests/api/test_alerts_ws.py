"""The live alerts channel through a real gunicorn server: auth, subscribe filtering, ping, status."""
from __future__ import annotations

import json
import struct
import time
from typing import Any

import pytest
import requests
import websocket
from flask.testing import FlaskClient

from core.runtime import Runtime
from domain import alerting
from models.db import db
from tests.conftest import PASSWORD, create_user

pytestmark = pytest.mark.slow


def open_channel(base: str, token: str | None) -> websocket.WebSocket:
    suffix = f"?token={token}" if token else ""
    return websocket.create_connection(base.replace("http://", "ws://") + "/api/v1/ws/alerts" + suffix, timeout=10)


def token_for(base: str, username: str) -> str:
    create_user(username)
    response = requests.post(f"{base}/api/v1/auth/login", json={"username": username, "password": PASSWORD}, timeout=5)
    return str(response.json()["access_token"])


def next_of(ws: websocket.WebSocket, kind: str, limit: float = 8) -> dict[str, Any]:
    """The next message of a type, skipping others (status messages arrive on their own clock)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        message = json.loads(ws.recv())
        if message.get("type", "envelope" if "error" in message else None) == kind:
            return message  # type: ignore[no-any-return]
    raise AssertionError(f"no {kind} within {limit}s")


def test_without_a_token_the_channel_closes_4401(api_server: str) -> None:
    ws = open_channel(api_server, None)
    opcode, data = ws.recv_data(control_frame=True)
    assert opcode == websocket.ABNF.OPCODE_CLOSE and struct.unpack("!H", data[:2])[0] == 4401
    ws.close()


def test_status_ping_and_bad_messages(api_server: str) -> None:
    ws = open_channel(api_server, token_for(api_server, "watcher"))
    status = next_of(ws, "system_status")
    assert set(status["data"]) == {"cache_hit_rate", "active_webhooks", "pending_deliveries", "queued_tasks",
                                   "workers"}
    ws.send(json.dumps({"type": "ping"}))
    assert next_of(ws, "pong")["type"] == "pong"
    for bad in ("not json", json.dumps({"type": "subscribe", "channels": ["everything"]}),
                json.dumps({"type": "subscribe", "channels": []}), json.dumps({"type": "dance"})):
        ws.send(bad)
        assert next_of(ws, "envelope")["error"]["code"] == "BAD_REQUEST"
    started = time.monotonic()
    next_of(ws, "system_status", limit=8)  # the next one, on the 5 s clock
    assert time.monotonic() - started < 7
    ws.close()


def test_alerts_reach_the_subscribers_of_their_channel_within_a_second(runtime: Runtime,
        api_server: str, client: FlaskClient, auth: Any) -> None:
    user = auth("user")
    for name, severity in (("hot", "CRITICAL"), ("warm", "WARNING")):
        assert client.post("/api/v1/alert-rules", headers=user, json={
            "name": name, "metric": f"{name}.metric", "aggregation": "max", "comparison": "gt", "threshold": 1,
            "window_minutes": 5, "severity": severity}).status_code == 201
        assert client.post("/api/v1/metrics", headers=user,
                           json={"metrics": [{"name": f"{name}.metric", "value": 5}]}).status_code == 202
    token = token_for(api_server, "pager")
    critical, everything, idle = (open_channel(api_server, token) for _ in range(3))
    for ws, channels in ((critical, ["critical_alerts"]), (everything, ["all"])):
        ws.send(json.dumps({"type": "subscribe", "channels": channels}))
        assert next_of(ws, "subscribed")["channels"] == channels

    raised_at = time.monotonic()
    with db.connection_context():
        assert alerting.evaluate(runtime)["raised"] == 2
    first = next_of(critical, "alert", limit=3)
    assert time.monotonic() - raised_at < 1.5
    assert (first["data"]["rule"], first["data"]["severity"]) == ("hot", "CRITICAL")
    got = {next_of(everything, "alert", limit=3)["data"]["rule"] for _ in range(2)}
    assert got == {"hot", "warm"}
    critical.settimeout(1.5)
    with pytest.raises(websocket.WebSocketTimeoutException):
        while True:  # nothing but status messages: the WARNING alert is not for this channel
            assert json.loads(critical.recv())["type"] == "system_status"
    idle.settimeout(1.5)
    with pytest.raises(websocket.WebSocketTimeoutException):
        while True:
            assert json.loads(idle.recv())["type"] == "system_status"
    for ws in (critical, everything, idle):  # an open alerts socket holds its server thread until it closes
        ws.close()


def test_an_alert_about_a_users_cluster_reaches_only_them_and_admins(runtime: Runtime, api_server: str) -> None:
    from models.user import User

    owner, other = token_for(api_server, "cluster-owner"), token_for(api_server, "bystander")
    sockets = {name: open_channel(api_server, token) for name, token in (("owner", owner), ("other", other))}
    for ws in sockets.values():
        ws.send(json.dumps({"type": "subscribe", "channels": ["all"]}))
        next_of(ws, "subscribed")
    with db.connection_context():
        owner_id = User.get(User.username == "cluster-owner").id
        alerting.publish(runtime.broker, alerting.raise_alert(
            runtime.redis, "k8s|1|node_not_ready|n1", owner_id=owner_id, rule_name="kubernetes.node_not_ready",
            metric="kubernetes.node", severity="CRITICAL", tags={"node": "n1"}, message="n1 is NotReady",
            context={}))
    assert next_of(sockets["owner"], "alert", limit=3)["data"]["rule"] == "kubernetes.node_not_ready"
    sockets["other"].settimeout(1.5)
    with pytest.raises(websocket.WebSocketTimeoutException):
        while True:
            assert json.loads(sockets["other"].recv())["type"] == "system_status"
    for ws in sockets.values():
        ws.close()
