"""API keys against the whole surface (OWASP API2, broken authentication): a key works on every route a token
does but those that need a signed-in session; a revocation holds on the next request of every API process
(two gunicorn servers); the WebSockets take a key in a header, never in the URL."""
from __future__ import annotations

import struct
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests
import websocket
from flask import Flask
from flask.testing import FlaskClient

from api.auth.permissions import PERMISSIONS
from tests.conftest import PASSWORD, create_user, serving_api
from tests.security.test_access import NOT_NEEDED, api_routes, needs
from tests.security.world import ROUTES, SOCKET, WRITES, build_world
from tests.support.api_keys import KEYS, make_key, with_key
from tests.support.auth import user_id


def session_only(app: Flask, rule: Any, method: str) -> bool:
    view = app.view_functions[rule.endpoint]
    handler = getattr(view.view_class, method.lower()) if hasattr(view, "view_class") else view
    return bool(getattr(handler, "session_only", False))


def test_a_key_is_taken_wherever_a_token_is_but_where_a_session_is_needed(
        app: Flask, client: FlaskClient, auth: Any) -> None:
    """An admin's key with every scope, on every method of every route: never 401; 403 exactly on the routes
    marked session-only (keys, logout, user management, one's profile and GitHub link); with the session's token
    those are allowed."""
    admin = auth("admin", "root")
    world = build_world(client, admin, user_id(client, admin), tag="root")
    key = with_key(make_key(client, admin, list(PERMISSIONS), name="everything")["key"])
    refused, served = [], 0
    for rule, method in api_routes(app):
        if needs(app, rule, method) is NOT_NEEDED:
            continue
        path = world.path(rule.rule) if rule.arguments else rule.rule
        response = client.open(path, method=method, headers=key, json=WRITES.get((method, rule.rule), {}))
        assert response.status_code != 401, (method, rule.rule, response.get_json())
        if session_only(app, rule, method):
            assert response.status_code == 403, (method, rule.rule)
            refused.append(f"{method} {rule.rule}")
        else:
            assert response.status_code != 403, (method, rule.rule, response.get_json())
            served += 1
    assert sorted(refused) == [
        "DELETE /api/v1/api-keys/<int:key_id>", "DELETE /api/v1/auth/github/link", "DELETE /api/v1/users/<int:user_id>",
        "DELETE /api/v1/users/<int:user_id>/github", "GET /api/v1/api-keys", "GET /api/v1/api-keys/<int:key_id>",
        "PATCH /api/v1/api-keys/<int:key_id>", "POST /api/v1/api-keys", "POST /api/v1/auth/github/link",
        "POST /api/v1/auth/logout", "POST /api/v1/users", "PUT /api/v1/users/<int:user_id>", "PUT /api/v1/users/me"]
    assert served >= 100


def test_a_key_in_the_query_string_is_not_taken_by_the_rest_api(client: FlaskClient, auth: Any) -> None:
    secret = make_key(client, auth("user"), ["build:read"])["key"]
    for query in ({"token": secret}, {"api_key": secret}, {"X-API-Key": secret}):
        assert client.get("/api/v1/builds", query_string=query).status_code == 401


def test_a_key_cannot_be_made_for_someone_else_nor_outlive_the_owners_deletion(
        client: FlaskClient, auth: Any) -> None:
    alice, admin = auth("user", "alice"), auth("admin")
    body = {"name": "x", "scopes": ["build:read"], "user_id": user_id(client, admin), "owner": "root"}
    assert client.post(KEYS, headers=alice, json=body).status_code == 422  # no field names another owner
    secret = make_key(client, alice, ["build:read"])["key"]
    client.delete(f"/api/v1/users/{user_id(client, alice)}", headers=admin)
    create_user("alice")  # the same name again: a new account inherits nothing
    assert client.get("/api/v1/builds", headers=with_key(secret)).status_code == 401


@pytest.mark.slow
def test_a_key_revoked_through_one_server_is_refused_by_another_at_once(
        base_env: dict[str, str], tmp_path: Path, app: Flask) -> None:
    create_user("alice")
    with (tmp_path / "one.log").open("w") as one_log, (tmp_path / "two.log").open("w") as two_log, \
            serving_api(base_env, one_log) as one, serving_api(base_env, two_log) as two:
        token = requests.post(f"{one}/api/v1/auth/login", json={"username": "alice", "password": PASSWORD},
                              timeout=10).json()["access_token"]
        session = {"Authorization": f"Bearer {token}"}
        made = requests.post(f"{one}{KEYS}", headers=session, json={"name": "ci", "scopes": ["build:read"]},
                             timeout=10).json()
        for _ in range(3):  # served, and seen, by the second server
            assert requests.get(f"{two}/api/v1/builds", headers=with_key(made["key"]), timeout=10).status_code == 200
        assert requests.delete(f"{one}{KEYS}/{made['id']}", headers=session, timeout=10).status_code == 204
        refused = requests.get(f"{two}/api/v1/builds", headers=with_key(made["key"]), timeout=10)
        assert refused.status_code == 401 and refused.json()["error"]["message"] == "Invalid API key"


def _close_code(ws: websocket.WebSocket) -> int:
    while True:
        opcode, data = ws.recv_data(control_frame=True)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            ws.close()
            return int(struct.unpack("!H", data[:2])[0])


@pytest.mark.slow
def test_the_websockets_take_a_key_in_a_header_within_its_scopes(api_server: str, app: Flask) -> None:
    create_user("alice")
    base = {"Authorization": "Bearer " + requests.post(
        f"{api_server}/api/v1/auth/login", json={"username": "alice", "password": PASSWORD}, timeout=10,
    ).json()["access_token"]}
    requests.post(f"{api_server}/api/v1/projects", headers=base, timeout=10, json={
        "name": "keyed", "repo_url": "/nonexistent", "build_steps": [{"name": "s", "run": "true"}]})
    task_id = requests.post(f"{api_server}/api/v1/builds", headers=base, json={"project_name": "keyed"},
                            timeout=10).json()["task_id"]
    reader, other = (requests.post(f"{api_server}{KEYS}", headers=base, json={"name": n, "scopes": [s]},
                                   timeout=10).json()["key"] for n, s in (("r", "build:read"), ("o", "analysis:read")))
    sockets = [rule.rule for rule in app.url_map.iter_rules() if ROUTES.get(rule.rule, (None,))[0] == SOCKET]
    assert "/api/v1/ws/builds/<task_id>" in sockets
    ws_base = api_server.replace("http://", "ws://")
    build = f"{ws_base}/api/v1/ws/builds/{task_id}"
    for header in (f"X-API-Key: {reader}", f"Authorization: Bearer {reader}"):
        ws = websocket.create_connection(build, timeout=10, header=[header])
        assert '"connected"' in ws.recv()
        ws.close()
    alerts = websocket.create_connection(f"{ws_base}/api/v1/ws/alerts", timeout=10, header=[f"X-API-Key: {other}"])
    assert '"system_status"' in alerts.recv()
    alerts.close()
    # a key without the read scope, a key in the URL, a wrong key
    assert _close_code(websocket.create_connection(build, timeout=10, header=[f"X-API-Key: {other}"])) == 4403
    assert _close_code(websocket.create_connection(f"{build}?token={reader}", timeout=10)) == 4401
    assert _close_code(websocket.create_connection(
        build, timeout=10, header=[f"X-API-Key: cvk_{uuid.uuid4().hex:0>43}"])) == 4401
