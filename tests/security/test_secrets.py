"""Secrets stay secret (OWASP API3 and API8), with the real processes: the API under gunicorn and a worker,
both at LOG_LEVEL=DEBUG. Users with passwords log in, refresh and log out; webhook endpoints with secrets
get deliveries, and one a new secret; a CI source and a Kubernetes cluster with tokens are polled; an API key is
made and used (and a wrong one tried); a socket authenticates with `?token=`. Then every captured log line, every
later response and the audit log (read by the API and straight from its table) is searched for every secret.

Also here: what a build step can read of the worker that runs it, and another user's task socket."""
from __future__ import annotations

import base64
import hashlib
import os
import pwd
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import websocket
from flask import Flask

from tests.conftest import LOCAL_RECEIVERS, PASSWORD, TEST_SECRET, create_user, serving_api
from tests.security.test_access import api_routes
from tests.support.audit import entries
from tests.support.fake_ci import FakeGitHub, github_run
from tests.support.fake_kubernetes import FakeKubernetes, node
from tests.support.processes import wait_for
from tests.support.receiver import receiving

pytestmark = [pytest.mark.slow, pytest.mark.local_receivers]
ALICE_PASSWORD = "alice-Unique-Pa55phrase-3141"
NEW_PASSWORD = "alice-Changed-Pa55phrase-2718"
WRONG_PASSWORD = "a-Wrong-Guess-Pa55word-1618"
WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"a webhook secret of 32 bytes ...").decode()
CI_TOKEN = "ghp_UniqueCiTokenValue0123456789abcdef"
KUBE_TOKEN = "kube-UniqueBearerTokenValue-0123456789"


@pytest.fixture
def worker_env(request: pytest.FixtureRequest) -> dict[str, str]:
    return {**LOCAL_RECEIVERS, "LOG_LEVEL": "DEBUG"}


@pytest.fixture
def debug_api(base_env: dict[str, str], tmp_path: Path, app: Flask) -> Iterator[str]:
    """The API under gunicorn, logging at DEBUG into api.log."""
    with (tmp_path / "api.log").open("w") as log, serving_api({**base_env, **LOCAL_RECEIVERS,
                                                               "LOG_LEVEL": "DEBUG"}, log) as base:
        yield base


class Session:
    def __init__(self, base: str, token: str = "") -> None:
        self.base, self.token = base, token

    def call(self, method: str, path: str, status: int | None = None, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        response = requests.request(method, self.base + path, headers=headers, timeout=30, **kwargs)
        assert status is None or response.status_code == status, (method, path, response.text)
        return response


def log_in(base: str, username: str, password: str) -> dict[str, Any]:
    response = requests.post(f"{base}/api/v1/auth/login", json={"username": username, "password": password},
                             timeout=30)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def variants(secret: str) -> list[str]:
    """The secret, and the parts of it that identify it on their own."""
    found = [secret]
    if secret.count(".") == 2:  # a JWT: its payload and its signature
        found += secret.split(".")[1:]
    if secret.startswith("whsec_"):
        found.append(secret[len("whsec_"):])
    if secret.startswith("cvk_"):  # an API key: all but the prefix that is shown (cvk_ and 8 characters)
        found.append(secret[12:])
    return found


def test_no_secret_reaches_a_log_or_a_later_response(
        debug_api: str, worker: Any, app: Flask, tmp_path: Path) -> None:
    create_user("root", "admin")
    admin = Session(debug_api, log_in(debug_api, "root", PASSWORD)["access_token"])
    admin.call("POST", "/api/v1/users", 201, json={"username": "alice", "password": ALICE_PASSWORD})
    tokens = log_in(debug_api, "alice", ALICE_PASSWORD)
    alice = Session(debug_api, tokens["access_token"])
    refreshed = Session(debug_api).call("POST", "/api/v1/auth/refresh", 200,
                                        json={"refresh_token": tokens["refresh_token"]}).json()["access_token"]
    Session(debug_api).call("POST", "/api/v1/auth/login", 401, json={"username": "alice", "password": WRONG_PASSWORD})
    Session(debug_api, "not.a.jwt").call("GET", "/api/v1/users/me", 401)
    api_key = alice.call("POST", "/api/v1/api-keys", 201, json={"name": "ci", "scopes": ["build:read"]}).json()
    Session(debug_api, api_key["key"]).call("GET", "/api/v1/builds", 200)
    requests.get(f"{debug_api}/api/v1/builds", headers={"X-API-Key": api_key["key"]}, timeout=30).raise_for_status()
    wrong_key = "cvk_" + api_key["key"][4:][::-1]
    Session(debug_api, wrong_key).call("GET", "/api/v1/builds", 401)

    with receiving([200]) as receiver, FakeGitHub(token=CI_TOKEN) as github, \
            FakeKubernetes(token=KUBE_TOKEN) as kube:
        github.runs["alice/app"] = [github_run(1)]
        kube.nodes = [node("node-1")]
        given = alice.call("POST", "/api/v1/webhooks", 201, json={
            "name": "given", "url": receiver.url, "secret": WEBHOOK_SECRET}).json()
        generated = alice.call("POST", "/api/v1/webhooks", 201, json={"name": "generated", "url": receiver.url}).json()
        for hook in (given, generated):
            alice.call("POST", f"/api/v1/webhooks/{hook['id']}/test", 202)
        rotated = alice.call("POST", f"/api/v1/webhooks/{generated['id']}/rotate-secret", 200).json()["secret"]
        source = alice.call("POST", "/api/v1/ci/sources", 201, json={
            "provider": "github", "repository": "alice/app", "api_url": github.url, "token": CI_TOKEN}).json()
        alice.call("POST", "/api/v1/kubernetes/clusters", 201, json={
            "name": "prod", "api_url": kube.url, "token": KUBE_TOKEN})
        alice.call("POST", f"/api/v1/ci/sources/{source['id']}/poll", 202)
        alice.call("POST", "/api/v1/kubernetes/clusters/prod/poll", 202)
        wait_for(lambda: receiver.count() >= 2, timeout=30, what="both test deliveries")
        wait_for(lambda: alice.call("GET", "/api/v1/kubernetes/clusters/prod").json()["status"] != "unknown"
                 and alice.call("GET", f"/api/v1/ci/sources/{source['id']}").json()["status"] != "unknown",
                 timeout=30, what="both polls")
        assert {r.headers.get("authorization") for r in github.requests} == {f"Bearer {CI_TOKEN}"}
    socket_url = debug_api.replace("http://", "ws://") + f"/api/v1/ws/alerts?token={refreshed}"
    websocket.create_connection(socket_url, timeout=10).close()
    me = alice.call("GET", "/api/v1/users/me", 200).json()
    admin.call("PUT", f"/api/v1/users/{me['id']}", 200, json={"password": NEW_PASSWORD})
    admin.call("POST", "/api/v1/auth/logout", 204)

    secrets = {"SECRET_KEY": TEST_SECRET, "admin password": PASSWORD, "alice's password": ALICE_PASSWORD,
               "alice's new password": NEW_PASSWORD, "a wrong password": WRONG_PASSWORD,
               "the given webhook secret": WEBHOOK_SECRET, "the generated webhook secret": generated["secret"],
               "the rotated webhook secret": rotated,
               "the CI token": CI_TOKEN, "the cluster token": KUBE_TOKEN,
               "alice's access token": tokens["access_token"],
               "alice's refresh token": tokens["refresh_token"], "the refreshed token": refreshed,
               "the admin's token": admin.token, "alice's API key": api_key["key"], "a wrong API key": wrong_key,
               "the API key's digest": hashlib.sha256(api_key["key"].encode()).hexdigest()}
    # Every later read: each list and item the owner and an admin can GET.
    fresh = Session(debug_api, log_in(debug_api, "root", PASSWORD)["access_token"])
    alice = Session(debug_api, log_in(debug_api, "alice", NEW_PASSWORD)["access_token"])
    reads = [f"/api/v1/webhooks/{given['id']}", f"/api/v1/webhooks/{given['id']}/deliveries",
             f"/api/v1/ci/sources/{source['id']}", "/api/v1/kubernetes/clusters/prod", f"/api/v1/users/{me['id']}",
             "/health/deep", "/metrics", "/api/v1/admin/audit?limit=100", f"/api/v1/api-keys/{api_key['id']}"]
    reads += [rule.rule for rule, method in api_routes(app) if method == "GET" and not rule.arguments
              and not rule.rule.startswith("/api/v1/analytics/dora")]
    answers = " ".join(who.call("GET", path).text for path in reads for who in (alice, fresh))
    logs = {name: (tmp_path / name).read_text(errors="replace") for name in ("api.log", "worker.log")}
    audit_rows = entries()
    assert {"auth.login", "auth.login_failed", "user.create", "webhook.secret_rotate"} <= {
        row["action"] for row in audit_rows}  # there was something to search

    for text in logs.values():  # both really logged at DEBUG: there was something to search
        assert '"level": "DEBUG"' in text, text[-2000:]
    searched = {**logs, "a response": answers, "the audit table": repr(audit_rows)}
    leaks = [f"{what} in {where}" for what, secret in secrets.items() for part in variants(secret)
             for where, text in searched.items() if part in text]
    assert leaks == []


def run_step(client: Any, user: dict[str, str], repo: Path, name: str, command: str) -> str:
    """Run one build step with a real worker; its log."""
    assert client.post("/api/v1/projects", headers=user, json={
        "name": name, "repo_url": str(repo), "build_steps": [{"name": "look", "run": command}]}).status_code == 201
    task_id = client.post("/api/v1/builds", headers=user, json={"project_name": name}).get_json()["task_id"]
    wait_for(lambda: client.get(f"/api/v1/builds/{task_id}", headers=user).get_json()["status"] in (
        "completed", "failed"), timeout=60, what="the build")
    lines = client.get(f"/api/v1/builds/{task_id}/logs", headers=user).get_json()["lines"]
    return "\n".join(line["text"] for line in lines)


def worker_secrets(text: str) -> list[str]:
    return [name for name in ("SECRET_KEY=", "DATABASE_URL=", "REDIS_URL=", TEST_SECRET) if name in text]


def test_a_build_step_sees_none_of_the_workers_secrets_in_its_own_environment(
        client: Any, auth: Any, worker: Any, repo: Path) -> None:
    text = run_step(client, auth("user"), repo, "own-env",
                    "env; tr '\\0' '\\n' < /proc/self/environ; echo done-looking")
    assert "done-looking" in text and "CONVEYOR_PROJECT=own-env" in text, text
    assert worker_secrets(text) == []


def test_a_build_step_cannot_read_its_parent_workers_environment_or_memory(
        client: Any, auth: Any, worker: Any, repo: Path) -> None:
    """The worker is non-dumpable, and (run as root, as here in CI) its steps run as `nobody`."""
    text = run_step(client, auth("user"), repo, "parent-env",
                    "tr '\\0' '\\n' < /proc/$PPID/environ; head -c 64 /proc/$PPID/mem; "
                    "ls /proc/$PPID/fd; echo uid=$(id -u) done-looking")
    assert "done-looking" in text, text
    assert worker_secrets(text) == []
    assert text.count("Permission denied") == 3, text
    if os.geteuid() == 0:
        assert f"uid={pwd.getpwnam('nobody').pw_uid} done-looking" in text, text


def test_another_users_task_socket_closes_4404(
        api_server: str, app: Flask) -> None:
    """Every task WebSocket route of the url_map: the owner is let in, anyone else closed with 4404."""
    import struct

    create_user("alice")
    create_user("bob")
    alice = Session(api_server, log_in(api_server, "alice", PASSWORD)["access_token"])
    bob = log_in(api_server, "bob", PASSWORD)["access_token"]
    alice.call("POST", "/api/v1/projects", 201, json={"name": "ws-owned", "repo_url": "/nonexistent",
                                                      "build_steps": [{"name": "s", "run": "true"}]})
    ids = {"build": alice.call("POST", "/api/v1/builds", 202, json={"project_name": "ws-owned"}).json()["task_id"],
           "analysis": alice.call("POST", "/api/v1/analyses", 202,
                                  json={"project_name": "ws-owned"}).json()["analysis_id"]}
    from tests.security.world import ROUTES, SOCKET

    sockets = [rule.rule for rule in app.url_map.iter_rules() if ROUTES.get(rule.rule, (None,))[0] == SOCKET]
    assert len(sockets) == 2
    for rule in sockets:
        path = rule.replace("<task_id>", ids[ROUTES[rule][1] or ""])
        url = api_server.replace("http://", "ws://") + path
        owner = websocket.create_connection(f"{url}?token={alice.token}", timeout=10)
        assert '"connected"' in owner.recv()
        owner.close()
        stranger = websocket.create_connection(f"{url}?token={bob}", timeout=10)
        opcode, data = stranger.recv_data(control_frame=True)
        stranger.close()
        assert opcode == websocket.ABNF.OPCODE_CLOSE and struct.unpack("!H", data[:2])[0] == 4404, rule


def test_no_github_sign_in_secret_reaches_a_log_or_a_response(
        base_env: dict[str, str], app: Flask, tmp_path: Path) -> None:
    """GitHub's client secret, the access tokens GitHub issues, the PKCE verifiers and the codes: sign-ins,
    a link, a refused code and a failing GitHub, with the API under gunicorn at DEBUG; then every read."""
    from tests.support.fake_github_oauth import CLIENT_SECRET, FakeGitHubOAuth
    from tests.support.github_sign_in import APP_REDIRECT, CALLBACK, LINK, REDIRECT, START, approve, github_settings

    create_user("root", "admin")
    create_user("alice", password=ALICE_PASSWORD)
    with FakeGitHubOAuth([REDIRECT, APP_REDIRECT]) as github, (tmp_path / "api.log").open("w") as log, \
            serving_api({**base_env, "LOG_LEVEL": "DEBUG", **github_settings(github)}, log) as base:
        github.add_account("octocat", 583231, "The Octocat", "octocat@example.com")
        github.add_account("alice-gh", 583232, "Alice", "alice@github.example")

        def came_back(login: str, session: Session, path: str = START) -> dict[str, str]:
            github.approving = login
            started = session.call("POST" if path == LINK else "GET", path, 200, params={"redirect_uri": REDIRECT},
                                   json={"redirect_uri": REDIRECT} if path == LINK else None)
            return approve(started.json()["auth_url"])

        codes = [came_back("octocat", Session(base)) for _ in range(2)]
        signed = Session(base).call("GET", CALLBACK, 200, params=codes[0]).json()
        Session(base).call("GET", CALLBACK, 401, params={**codes[1], "code": "a-wrong-code"})
        alice = Session(base, log_in(base, "alice", ALICE_PASSWORD)["access_token"])
        codes.append(came_back("alice-gh", alice, LINK))
        alice.call("GET", CALLBACK, 200, params=codes[-1])
        github.token_status = 500
        codes.append(came_back("octocat", Session(base)))
        Session(base).call("GET", CALLBACK, 502, params=codes[-1])
        verifiers = [r.form["code_verifier"] for r in github.requests if r.path == "/login/oauth/access_token"]
        secrets = {"the client secret": CLIENT_SECRET, "octocat's refresh token": signed["refresh_token"],
                   **{f"GitHub's token {n}": token for n, token in enumerate(github.issued_tokens())},
                   **{f"PKCE verifier {n}": verifier for n, verifier in enumerate(verifiers)},
                   **{f"code {n}": came["code"] for n, came in enumerate(codes)}}
        assert len(github.issued_tokens()) == 2 and len(verifiers) == 4
        admin = Session(base, log_in(base, "root", PASSWORD)["access_token"])
        reads = [rule.rule for rule, method in api_routes(app) if method == "GET" and not rule.arguments
                 and not rule.rule.startswith("/api/v1/analytics/dora")]
        answers = " ".join(who.call("GET", path).text for path in reads for who in (alice, admin))
    text = (tmp_path / "api.log").read_text(errors="replace")
    assert '"level": "DEBUG"' in text, text[-2000:]
    leaks = [f"{what} in {where}" for what, secret in secrets.items() for part in variants(secret)
             for where, found in {"api.log": text, "a response": answers}.items() if part in found]
    assert leaks == []
