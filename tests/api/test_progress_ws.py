"""Progress WebSockets through a real gunicorn server and a real worker."""
from __future__ import annotations

import json
import struct
import time
from pathlib import Path
from typing import Any

import pytest
import requests
import websocket

from tests.conftest import PASSWORD, create_user
from tests.support.processes import wait_for

pytestmark = pytest.mark.slow


def token_for(base: str, username: str, role: str = "user") -> str:
    create_user(username, role)
    response = requests.post(f"{base}/api/v1/auth/login", json={"username": username, "password": PASSWORD},
                             timeout=5)
    return str(response.json()["access_token"])


def start(base: str, token: str, repo: Path, steps: list[dict[str, Any]]) -> str:
    headers = {"Authorization": f"Bearer {token}"}
    created = requests.post(f"{base}/api/v1/projects", headers=headers, timeout=5,
                            json={"name": "ws-demo", "repo_url": str(repo), "build_steps": steps})
    assert created.status_code in (201, 409), created.text
    response = requests.post(f"{base}/api/v1/builds", headers=headers, json={"project_name": "ws-demo"}, timeout=5)
    assert response.status_code == 202, response.text
    return str(response.json()["task_id"])


def open_ws(base: str, task_id: str, token: str | None, **query: str) -> websocket.WebSocket:
    params = {**({"token": token} if token else {}), **query}
    suffix = "?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else ""
    url = base.replace("http://", "ws://") + f"/api/v1/ws/builds/{task_id}{suffix}"
    return websocket.create_connection(url, timeout=30)


def collect(ws: websocket.WebSocket, limit: float = 90) -> tuple[list[dict[str, Any]], int]:
    """Every message until the server closes; returns them and the close code. The server's pings keep
    the socket alive, so the socket timeout alone would never end a stream that never finishes."""
    messages: list[dict[str, Any]] = []
    deadline = time.monotonic() + limit
    while True:
        assert time.monotonic() < deadline, f"no close within {limit}s; got {[m.get('type') for m in messages]}"
        opcode, data = ws.recv_data(control_frame=True)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            ws.close()
            return messages, struct.unpack("!H", data[:2])[0] if len(data) >= 2 else 1005
        if opcode == websocket.ABNF.OPCODE_TEXT:
            messages.append(json.loads(data))


def positions(messages: list[dict[str, Any]]) -> list[tuple[int, int]]:
    return [tuple(int(p) for p in m["id"].split("-")) for m in messages]  # type: ignore[misc]


CHATTY = [{"name": "count", "run": "for i in 1 2 3 4 5; do echo line-$i; sleep 0.2; done"},
          {"name": "end", "run": "echo finished"}]


def test_a_watcher_gets_every_event_in_order_and_then_the_close(
        api_server: str, worker: Any, repo: Path) -> None:
    token = token_for(api_server, "watcher")
    task_id = start(api_server, token, repo, CHATTY)
    messages, code = collect(open_ws(api_server, task_id, token))

    assert code == 1000
    assert messages[0]["type"] == "connected" and messages[0]["task_id"] == task_id
    events = messages[1:]
    assert all(e["task_id"] == task_id and e["timestamp"].endswith("Z") for e in events)
    assert positions(events) == sorted(set(positions(events))), "ids strictly increase, no duplicates"
    assert {e["type"] for e in events} >= {"progress", "log", "completion"}
    assert events[-1]["type"] == "completion" and events[-1]["status"] == "completed"
    lines = [line for e in events if e["type"] == "log" for line in e["data"]["lines"]]
    assert lines == [f"line-{i}" for i in range(1, 6)] + ["finished"]
    steps = [e["data"]["current_step"] for e in events if e["type"] == "progress"]
    assert steps == ["checkout", "count", "end"]


def test_a_late_joiner_gets_the_history_and_a_resume_gets_exactly_the_rest(
        api_server: str, worker: Any, repo: Path) -> None:
    token = token_for(api_server, "late")
    task_id = start(api_server, token, repo, CHATTY)
    headers = {"Authorization": f"Bearer {token}"}
    wait_for(lambda: requests.get(f"{api_server}/api/v1/builds/{task_id}", headers=headers,
                                  timeout=5).json()["status"] == "completed", timeout=60, what="the build")

    everything, code = collect(open_ws(api_server, task_id, token))
    assert code == 1000 and everything[0]["status"] == "completed"
    history = everything[1:]
    assert history[-1]["type"] == "completion"

    resumed, _ = collect(open_ws(api_server, task_id, token, last_event_id=history[3]["id"]))
    assert resumed[0]["type"] == "connected"
    assert [m["id"] for m in resumed[1:]] == [m["id"] for m in history[4:]]

    # Resuming after the final event: nothing is sent twice, and the server still closes.
    after_end, code = collect(open_ws(api_server, task_id, token, last_event_id=history[-1]["id"]))
    assert [m["type"] for m in after_end] == ["connected"] and code == 1000


def test_auth_and_ownership_close_codes(api_server: str, worker: Any, repo: Path) -> None:
    owner = token_for(api_server, "owner")
    stranger = token_for(api_server, "stranger")
    task_id = start(api_server, owner, repo, CHATTY)

    assert collect(open_ws(api_server, task_id, None)) == ([], 4401)
    assert collect(open_ws(api_server, task_id, "not-a-jwt")) == ([], 4401)
    assert collect(open_ws(api_server, task_id, stranger)) == ([], 4404)
    assert collect(open_ws(api_server, "00000000-0000-0000-0000-000000000000", owner)) == ([], 4404)
    assert collect(open_ws(api_server, task_id, owner, last_event_id="yesterday")) == ([], 4400)
    # The Authorization header works as well as ?token=.
    url = api_server.replace("http://", "ws://") + f"/api/v1/ws/builds/{task_id}"
    messages, code = collect(websocket.create_connection(url, timeout=30, header=[f"Authorization: Bearer {owner}"]))
    assert code == 1000 and messages[0]["type"] == "connected"


def test_ping_pong_bad_messages_and_a_cancel_ends_the_stream(
        api_server: str, worker: Any, repo: Path) -> None:
    token = token_for(api_server, "pinger")
    task_id = start(api_server, token, repo, [{"name": "long", "run": "echo started; sleep 60"}])
    ws = open_ws(api_server, task_id, token)
    assert json.loads(ws.recv())["type"] == "connected"
    ws.send(json.dumps({"type": "ping"}))
    ws.send("not json")
    seen: list[dict[str, Any]] = []
    while not ({"pong"} <= {m.get("type") for m in seen} and any("error" in m and "type" not in m for m in seen)):
        seen.append(json.loads(ws.recv()))
    envelope = next(m for m in seen if "type" not in m)
    assert envelope["error"]["code"] == "BAD_REQUEST"

    wait_for(lambda: requests.get(f"{api_server}/api/v1/builds/{task_id}", timeout=5,
                                  headers={"Authorization": f"Bearer {token}"}).json()["status"] == "running",
             timeout=30, what="the build to run")
    cancelled = requests.delete(f"{api_server}/api/v1/builds/{task_id}", timeout=5,
                                headers={"Authorization": f"Bearer {token}"})
    assert cancelled.status_code == 200
    rest, code = collect(ws)
    assert code == 1000
    assert rest[-1]["type"] == "error" and rest[-1]["status"] == "cancelled"


@pytest.mark.timeout(120)  # without the hub's fall-back this deadlocks: bound it
def test_a_client_that_stops_reading_still_gets_every_event_and_stalls_no_one(
        api_server: str, worker: Any, repo: Path) -> None:
    import socket

    token = token_for(api_server, "slowpoke")
    # About 8 MB of log: far more than a small receive buffer and the kernel's send buffer hold.
    step = "python3 -c \"import sys\nfor i in range(2000): print(str(i).rjust(6) + 'x' * 4000)\""
    task_id = start(api_server, token, repo, [{"name": "flood", "run": step}])
    url = api_server.replace("http://", "ws://") + f"/api/v1/ws/builds/{task_id}?token={token}"
    slow = websocket.create_connection(url, timeout=60, sockopt=((socket.SOL_SOCKET, socket.SO_RCVBUF, 4096),))
    assert json.loads(slow.recv())["type"] == "connected"

    # A second watcher who reads promptly finishes while the first one reads nothing.
    prompt, code = collect(open_ws(api_server, task_id, token))
    assert code == 1000 and prompt[-1]["type"] == "completion"
    time.sleep(1)

    late, code = collect(slow)
    assert code == 1000
    assert [m["id"] for m in late] == [m["id"] for m in prompt[1:]]
    lines = [line for m in late if m["type"] == "log" for line in m["data"]["lines"]]
    assert [int(line[:6]) for line in lines] == list(range(2000))
