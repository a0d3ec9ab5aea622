"""Rate limits: anonymous and per-user limits answer 429 with the rate-limit headers; /health is never
limited; switched off, nothing is."""
from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import PASSWORD, create_user, login
from tests.support.auth import LOGIN, ME, bearer
from tests.support.envelope import assert_error


def limited_app(make_app: Callable[..., Flask], **limits: str) -> FlaskClient:
    return make_app(RATE_LIMITS_ENABLED="true", **limits).test_client()


def test_anonymous_rate_limit_answers_429_after_the_limit(make_app: Callable[..., Flask]) -> None:
    # given
    client = limited_app(make_app, RATE_LIMIT_ANONYMOUS="3/minute")
    create_user("alice")
    credentials = {"username": "alice", "password": PASSWORD}
    # when
    allowed = [client.post(LOGIN, json=credentials) for _ in range(3)]
    refused = client.post(LOGIN, json=credentials)
    # then
    assert [r.status_code for r in allowed] == [200, 200, 200]
    assert_error(refused, 429, "RATE_LIMIT_EXCEEDED")
    assert "access_token" not in refused.get_json()


def test_rate_limited_responses_carry_the_rate_limit_headers(make_app: Callable[..., Flask]) -> None:
    # given
    client = limited_app(make_app, RATE_LIMIT_ANONYMOUS="3/minute")
    credentials = {"username": "nobody", "password": PASSWORD}
    # when
    responses = [client.post(LOGIN, json=credentials) for _ in range(4)]
    # then
    for response in responses:
        assert response.headers.get("X-RateLimit-Limit") == "3", dict(response.headers)
        assert int(response.headers["X-RateLimit-Reset"]) > 0
    assert [r.headers.get("X-RateLimit-Remaining") for r in responses] == ["2", "1", "0", "0"]
    assert responses[-1].status_code == 429


def test_health_is_never_rate_limited(make_app: Callable[..., Flask]) -> None:
    # given
    client = limited_app(make_app, RATE_LIMIT_ANONYMOUS="3/minute")
    # when
    statuses = [client.get("/health").status_code for _ in range(10)]
    # then
    assert statuses == [200] * 10


def test_rate_limits_switched_off_never_answer_429(make_app: Callable[..., Flask]) -> None:
    # given
    client = make_app(RATE_LIMITS_ENABLED="false", RATE_LIMIT_ANONYMOUS="3/minute").test_client()
    # when
    statuses = [client.post(LOGIN, json={"username": "nobody", "password": PASSWORD}).status_code
                for _ in range(6)]
    # then
    assert statuses == [401] * 6


def test_per_user_rate_limit_applies_to_authenticated_requests(make_app: Callable[..., Flask]) -> None:
    # given
    client = limited_app(make_app, RATE_LIMIT_USER="2/minute")
    create_user("alice")
    headers = bearer(login(client, "alice")["access_token"])
    # when
    responses = [client.get(ME, headers=headers) for _ in range(3)]
    # then
    assert [r.status_code for r in responses[:2]] == [200, 200]
    assert_error(responses[2], 429, "RATE_LIMIT_EXCEEDED")
    assert responses[0].headers.get("X-RateLimit-Limit") == "2"


def test_per_user_rate_limit_is_counted_per_user_not_per_address(make_app: Callable[..., Flask]) -> None:
    # given: alice has used up her limit; bob calls from the same address
    client = limited_app(make_app, RATE_LIMIT_USER="2/minute")
    create_user("alice")
    create_user("bob")
    alice = bearer(login(client, "alice")["access_token"])
    bob = bearer(login(client, "bob")["access_token"])
    for _ in range(2):
        client.get(ME, headers=alice)
    assert client.get(ME, headers=alice).status_code == 429
    # when
    response = client.get(ME, headers=bob)
    # then
    assert response.status_code == 200


def test_the_users_list_has_its_own_tighter_limit(make_app: Callable[..., Flask]) -> None:
    """Seed 004: 10 a minute on `GET /users` by default (RATE_LIMIT_USERS_LIST), within the per-user limit; the
    user's other reads are not held back by it."""
    client = limited_app(make_app, RATE_LIMIT_USERS_LIST="3/minute", RATE_LIMIT_USER="100/minute")
    create_user("lister", role="admin")
    headers = bearer(login(client, "lister")["access_token"])
    statuses = [client.get("/api/v1/users", headers=headers).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert client.get(ME, headers=headers).status_code == 200
    assert client.post("/api/v1/users", headers=headers, json={
        "username": "made-anyway", "email": "made@example.com", "password": PASSWORD}).status_code == 201


def test_the_users_list_limit_defaults_to_ten_a_minute(make_app: Callable[..., Flask]) -> None:
    client = limited_app(make_app, RATE_LIMIT_USER="100/minute")
    create_user("counter", role="admin")
    headers = bearer(login(client, "counter")["access_token"])
    statuses = [client.get("/api/v1/users", headers=headers).status_code for _ in range(11)]
    assert statuses == [200] * 10 + [429]


def test_logging_in_has_its_own_limit_per_address_against_password_guessing(make_app: Callable[..., Flask]) -> None:
    """RATE_LIMIT_LOGIN (10 a minute by default) holds back logins from one address, right or wrong, well under
    the anonymous limit; the API's other routes are not held back by it."""
    client = limited_app(make_app, RATE_LIMIT_ANONYMOUS="100/minute")
    create_user("alice")
    guesses = [client.post(LOGIN, json={"username": "alice", "password": f"guess-{n}-password"}).status_code
               for n in range(10)]
    refused = client.post(LOGIN, json={"username": "alice", "password": PASSWORD})
    assert guesses == [401] * 10
    assert_error(refused, 429, "RATE_LIMIT_EXCEEDED")
    assert client.get("/api/v1/builds").status_code == 401  # another route: not held back


def test_creating_builds_and_analyses_has_its_own_limit_reads_do_not(make_app: Callable[..., Flask]) -> None:
    """RATE_LIMIT_BUILDS and RATE_LIMIT_ANALYSES hold back POSTs only (they once held back nothing: the limited
    view was not the one the app called)."""
    client = limited_app(make_app, RATE_LIMIT_BUILDS="2/minute", RATE_LIMIT_ANALYSES="1/minute",
                         RATE_LIMIT_USER="100/minute")
    create_user("builder")
    headers = bearer(login(client, "builder")["access_token"])
    builds = [client.post("/api/v1/builds", headers=headers, json={"project_name": "absent"}).status_code
              for _ in range(3)]
    assert builds == [404, 404, 429]
    analyses = [client.post("/api/v1/analyses", headers=headers,
                            json={"project_name": "absent", "analysis_types": ["quality"]}).status_code
                for _ in range(2)]
    assert analyses == [404, 429]
    assert [client.get("/api/v1/builds", headers=headers).status_code for _ in range(4)] == [200] * 4
    assert client.get("/api/v1/builds", headers=headers).headers["X-RateLimit-Limit"] == "100"  # the default


def test_hooks_are_limited_per_repository_not_per_address(make_app: Callable[..., Flask]) -> None:
    """GitHub sends every customer's deliveries from a few shared addresses: the hooks have a limit per
    repository (RATE_LIMIT_HOOKS), and the per-address limit of anonymous requests does not hold them back."""
    client = limited_app(make_app, RATE_LIMIT_ANONYMOUS="3/minute", RATE_LIMIT_HOOKS="3/minute",
                         RATE_LIMIT_USER="100/minute")
    create_user("owner")
    owner = bearer(login(client, "owner")["access_token"])
    org = client.post("/api/v1/organizations", headers=owner, json={"name": "Acme"}).get_json()
    repos = [client.post("/api/v1/repositories", headers=owner, json={
        "organization_id": org["id"], "provider": "github", "url": f"https://github.com/acme/{name}",
        "api_url": "https://93.184.216.34"}).get_json() for name in ("one", "two")]

    def deliver(repo: dict[str, object], n: int) -> int:
        body = json.dumps({"zen": "Keep it logically awesome.", "hook_id": n}).encode()
        signature = "sha256=" + hmac.new(str(repo["hook_secret"]).encode(), body, hashlib.sha256).hexdigest()
        return client.post(f"/api/v1/repositories/{repo['id']}/hooks/github", data=body, headers={
            "Content-Type": "application/json", "X-GitHub-Event": "ping", "X-GitHub-Delivery": f"d-{n}",
            "X-Hub-Signature-256": signature}).status_code

    first = [deliver(repos[0], n) for n in range(4)]
    second = [deliver(repos[1], n) for n in range(3)]
    assert first == [200, 200, 200, 429] and second == [200, 200, 200]  # 6 answered from one address, not 3
    anonymous = [client.post(LOGIN, json={"username": "nobody", "password": PASSWORD}).status_code for _ in range(3)]
    assert anonymous == [401, 401, 429]  # the rest keep the per-address limit (the owner's login was the 1st)
