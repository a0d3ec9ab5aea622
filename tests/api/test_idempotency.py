"""`Idempotency-Key` on POSTs (docs/idempotency.md), with the real Redis and database: a retry answers the stored
response without doing the work again, across API processes; another request under the key, a duplicate in
flight and a malformed key are refused; errors are not stored; keys are per principal and expire."""
from __future__ import annotations

import base64
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
from flask import Flask, Response, jsonify, request
from flask.testing import FlaskClient

from api.auth.guard import auth_required
from api.errors import ApiError
from core.settings import ConfigError, load_settings
from tests.conftest import serving_api
from tests.support.api_keys import make_key, with_key
from tests.support.envelope import assert_envelope, assert_error
from tests.support.tasks import make_project, outbox_rows, task_rows

KEY = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
BUILD = {"project_name": "demo", "ref": "main"}


def keyed(headers: dict[str, str], key: str = "build-0001") -> dict[str, str]:
    return {**headers, KEY: key}


class Probe:
    """A guarded POST route added to the test's app (`/api/v1/probe`): it counts its calls, answers 201 with a
    Location, and fails (`failures`, one per call: an exception raised, or a status answered) or waits for
    `release` as a test tells it."""

    def __init__(self) -> None:
        self.calls = 0
        self.failures: list[Exception | int] = []
        self.entered, self.release = threading.Event(), threading.Event()
        self.release.set()

    def view(self) -> Response:
        self.calls += 1
        self.entered.set()
        assert self.release.wait(10), "the test never released the probe"
        failure = self.failures.pop(0) if self.failures else None
        if isinstance(failure, Exception):
            raise failure
        response = jsonify(call=self.calls, sent=request.get_json())
        response.status_code = failure or 201
        response.headers["Location"] = f"/api/v1/probe/{self.calls}"
        return response


@pytest.fixture
def probe(app: Flask) -> Probe:
    made = Probe()
    app.add_url_rule("/api/v1/probe", "probe", auth_required()(made.view), methods=["POST"])
    return made


def idempotency_records(client: redis.Redis) -> list[str]:
    return list(client.scan_iter("conveyor:idempotency:*"))


def test_a_retried_build_answers_the_stored_response_and_queues_no_second_build(
        client: FlaskClient, auth: Any, redis_client: redis.Redis) -> None:
    user = auth("user")
    make_project(client, user)
    first = client.post("/api/v1/builds", headers=keyed(user), json=BUILD)
    assert first.status_code == 202 and REPLAYED not in first.headers
    again = client.post("/api/v1/builds", headers=keyed(user), json=BUILD)
    assert again.status_code == 202
    assert again.get_data() == first.get_data()
    assert again.headers["Content-Type"] == first.headers["Content-Type"]
    assert again.headers[REPLAYED] == "true"
    assert again.headers["X-Request-ID"] != first.headers["X-Request-ID"]  # the request's own, not the stored one
    assert (task_rows(), outbox_rows()) == (1, 1)
    # Stored for 24 h by default.
    [record] = idempotency_records(redis_client)
    assert 86_000 < redis_client.ttl(record) <= 86_400


def test_the_stored_response_keeps_its_status_and_headers_and_the_route_runs_once(
        probe: Probe, client: FlaskClient, auth: Any) -> None:
    user = auth("user")
    first = client.post("/api/v1/probe", headers=keyed(user), json={"n": 1})
    again = client.post("/api/v1/probe", headers=keyed(user), json={"n": 1})
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.get_json() == first.get_json() == {"call": 1, "sent": {"n": 1}}
    assert again.headers["Location"] == first.headers["Location"] == "/api/v1/probe/1"
    assert probe.calls == 1


def test_the_key_with_another_body_path_or_query_is_a_mismatch_and_changes_nothing(
        client: FlaskClient, auth: Any) -> None:
    user = auth("user")
    make_project(client, user)
    assert client.post("/api/v1/builds", headers=keyed(user), json=BUILD).status_code == 202
    for path, body in (("/api/v1/builds", {**BUILD, "ref": "other"}), ("/api/v1/builds?x=1", BUILD),
                       ("/api/v1/analyses", {"project_name": "demo", "analysis_types": ["quality"]})):
        response = client.post(path, headers=keyed(user), json=body)
        assert_error(response, 422, "IDEMPOTENCY_MISMATCH")
    assert (task_rows(), outbox_rows()) == (1, 1)


def test_a_duplicate_while_the_first_is_in_flight_is_409_with_retry_after(
        probe: Probe, app: Flask, client: FlaskClient, auth: Any) -> None:
    user = auth("user")
    probe.release.clear()
    answers: list[Any] = []
    first = threading.Thread(target=lambda: answers.append(
        app.test_client().post("/api/v1/probe", headers=keyed(user), json={"n": 1})))
    first.start()
    try:
        assert probe.entered.wait(10)
        duplicate = client.post("/api/v1/probe", headers=keyed(user), json={"n": 1})
        assert_error(duplicate, 409, "IDEMPOTENCY_IN_FLIGHT")
        assert duplicate.headers["Retry-After"] == "1"
        # Another request under the key is refused as such even while the first runs.
        assert_error(client.post("/api/v1/probe", headers=keyed(user), json={"n": 2}), 422, "IDEMPOTENCY_MISMATCH")
    finally:
        probe.release.set()
        first.join(10)
    assert answers[0].status_code == 201
    retried = client.post("/api/v1/probe", headers=keyed(user), json={"n": 1})
    assert retried.headers[REPLAYED] == "true" and retried.get_json() == answers[0].get_json()
    assert probe.calls == 1


def test_principals_with_the_same_key_never_share_a_response(client: FlaskClient, auth: Any) -> None:
    alice, bob = auth("user", "alice"), auth("user", "bob")
    make_project(client, alice)
    alices_key = with_key(make_key(client, alice, ["build:create"])["key"])
    answers = [client.post("/api/v1/builds", headers=keyed(headers), json=BUILD)
               for headers in (alice, bob, alices_key)]
    assert [a.status_code for a in answers] == [202, 202, 202]
    assert len({a.get_json()["task_id"] for a in answers}) == 3
    assert not any(REPLAYED in a.headers for a in answers)
    assert task_rows() == 3
    # Each principal's own retry is its own answer.
    for headers, answer in zip((alice, bob, alices_key), answers, strict=True):
        retried = client.post("/api/v1/builds", headers=keyed(headers), json=BUILD)
        assert retried.get_json() == answer.get_json() and retried.headers[REPLAYED] == "true"
    assert task_rows() == 3


def test_a_retry_is_authorised_afresh_before_any_replay(client: FlaskClient, auth: Any) -> None:
    user = auth("user")
    make_project(client, user)
    assert client.post("/api/v1/builds", headers=keyed(user), json=BUILD).status_code == 202
    me = client.get("/api/v1/users/me", headers=user).get_json()
    demoted = client.put(f"/api/v1/users/{me['id']}", headers=auth("admin"), json={"role": "viewer"})
    assert demoted.status_code == 200, demoted.get_json()
    assert_error(client.post("/api/v1/builds", headers=keyed(user), json=BUILD), 403, "FORBIDDEN")
    assert_error(client.post("/api/v1/builds", headers={KEY: "build-0001"}, json=BUILD), 401, "UNAUTHORIZED")


def test_a_replay_holds_across_two_api_processes(make_app: Any, auth: Any) -> None:
    one, other = make_app().test_client(), make_app().test_client()
    user = auth("user")  # logged in through the `client` fixture's app: the same secret, Redis and database
    make_project(one, user)
    first = one.post("/api/v1/builds", headers=keyed(user), json=BUILD)
    again = other.post("/api/v1/builds", headers=keyed(user), json=BUILD)
    assert (first.status_code, again.status_code) == (202, 202)
    assert again.get_json() == first.get_json() and again.headers[REPLAYED] == "true"
    assert task_rows() == 1


@pytest.mark.slow
def test_a_replay_outlives_the_api_process_that_stored_it(
        base_env: dict[str, str], tmp_path: Path, client: FlaskClient, auth: Any) -> None:
    user = auth("user")  # signed in through the `client` fixture's app: its schema, Redis and secret
    make_project(client, user)
    answers = []
    for name in ("first", "restarted"):  # gunicorn stopped (SIGTERM) between the two
        with (tmp_path / f"{name}.log").open("w") as log, serving_api(base_env, log) as base:
            answers.append(requests.post(f"{base}/api/v1/builds", headers=keyed(user), json=BUILD, timeout=10))
    assert [a.status_code for a in answers] == [202, 202]
    assert answers[1].json() == answers[0].json()
    assert REPLAYED not in answers[0].headers and answers[1].headers[REPLAYED] == "true"
    assert task_rows() == 1


def test_a_server_error_is_not_stored_and_the_retry_runs(probe: Probe, client: FlaskClient, auth: Any) -> None:
    user = auth("user")
    probe.failures = [RuntimeError("crash"), ApiError(503, "The task queue is unavailable")]
    assert_envelope(client.post("/api/v1/probe", headers=keyed(user), json={"n": 1}), 500, "INTERNAL_ERROR")
    assert_envelope(client.post("/api/v1/probe", headers=keyed(user), json={"n": 1}), 503, "SERVICE_UNAVAILABLE")
    done = client.post("/api/v1/probe", headers=keyed(user), json={"n": 1})
    assert done.status_code == 201 and REPLAYED not in done.headers
    assert client.post("/api/v1/probe", headers=keyed(user), json={"n": 1}).get_json() == done.get_json()
    assert probe.calls == 3


def test_a_client_error_is_not_stored_so_the_same_request_can_succeed_later(
        client: FlaskClient, auth: Any) -> None:
    user = auth("user")
    assert_envelope(client.post("/api/v1/builds", headers=keyed(user), json=BUILD), 404, "NOT_FOUND")
    make_project(client, user)
    accepted = client.post("/api/v1/builds", headers=keyed(user), json=BUILD)
    assert accepted.status_code == 202 and REPLAYED not in accepted.headers
    assert task_rows() == 1


def test_an_error_a_view_answers_rather_than_raises_is_not_stored_either(
        probe: Probe, client: FlaskClient, auth: Any) -> None:
    user = auth("user")
    probe.failures = [409]
    assert client.post("/api/v1/probe", headers=keyed(user), json={"n": 1}).status_code == 409
    done = client.post("/api/v1/probe", headers=keyed(user), json={"n": 1})
    assert done.status_code == 201 and REPLAYED not in done.headers
    assert probe.calls == 2


@pytest.mark.parametrize("key", ["", " ", "x" * 256, " padded", "padded ", "tab\there", "caf\u00e9"])
def test_a_malformed_key_is_422_and_nothing_is_done(client: FlaskClient, auth: Any, key: str) -> None:
    user = auth("user")
    make_project(client, user)
    error = assert_error(client.post("/api/v1/builds", headers=keyed(user, key), json=BUILD),
                         422, "VALIDATION_ERROR")
    assert KEY in error["details"]
    assert task_rows() == 0


def test_a_key_of_255_printable_characters_with_inner_spaces_is_accepted(client: FlaskClient, auth: Any) -> None:
    user = auth("user")
    make_project(client, user)
    key = "a b~" + "z" * 251
    assert client.post("/api/v1/builds", headers=keyed(user, key), json=BUILD).status_code == 202
    assert client.post("/api/v1/builds", headers=keyed(user, key), json=BUILD).headers[REPLAYED] == "true"
    assert task_rows() == 1


def test_a_stored_response_expires_after_the_ttl(make_app: Any, auth: Any) -> None:
    client = make_app(IDEMPOTENCY_TTL_SECONDS="1").test_client()
    user = auth("user")
    make_project(client, user)
    first = client.post("/api/v1/builds", headers=keyed(user), json=BUILD)
    assert client.post("/api/v1/builds", headers=keyed(user), json=BUILD).headers[REPLAYED] == "true"
    time.sleep(1.5)
    later = client.post("/api/v1/builds", headers=keyed(user), json=BUILD)
    assert later.status_code == 202 and REPLAYED not in later.headers
    assert later.get_json()["task_id"] != first.get_json()["task_id"]
    assert task_rows() == 2


@pytest.mark.parametrize("name, raw", [("IDEMPOTENCY_TTL_SECONDS", "0"), ("IDEMPOTENCY_TTL_SECONDS", "1d"),
                                       ("IDEMPOTENCY_TTL_SECONDS", "604801"), ("IDEMPOTENCY_LOCK_SECONDS", "0")])
def test_the_ttl_settings_are_checked(tmp_path: Path, name: str, raw: str) -> None:
    with pytest.raises(ConfigError, match=name):
        load_settings({"VAR_DIR": str(tmp_path), name: raw}, env_file=None)
    settings = load_settings({"VAR_DIR": str(tmp_path)}, env_file=None)
    assert (settings.idempotency_ttl, settings.idempotency_lock_ttl) == (86_400, 60)


def test_a_new_api_key_is_replayed_once_made_and_never_kept_in_the_clear(
        client: FlaskClient, auth: Any, redis_client: redis.Redis) -> None:
    user = auth("user")
    body = {"name": "ci", "scopes": ["build:read"]}
    made = client.post("/api/v1/api-keys", headers=keyed(user), json=body)
    again = client.post("/api/v1/api-keys", headers=keyed(user), json=body)
    assert made.status_code == 201 and again.get_json() == made.get_json()
    assert len(client.get("/api/v1/api-keys", headers=user).get_json()["items"]) == 1
    readable = (made.get_json()["key"], base64.b64encode(made.get_data()).decode())  # as sent, or encoded
    [record] = idempotency_records(redis_client)
    stored = str(redis_client.get(record))
    assert not any(form in stored for form in readable), stored


def test_an_answer_stored_under_another_secret_key_is_refused_not_done_again(
        make_app: Any, client: FlaskClient, auth: Any) -> None:
    user = auth("user")
    make_project(client, user)
    key = with_key(make_key(client, user, ["build:create"])["key"])  # API keys outlive a new SECRET_KEY
    assert client.post("/api/v1/builds", headers=keyed(key), json=BUILD).status_code == 202
    rotated = make_app(SECRET_KEY="another-secret-key-that-is-long-enough-987654").test_client()
    assert_error(rotated.post("/api/v1/builds", headers=keyed(key), json=BUILD), 422, "IDEMPOTENCY_MISMATCH")
    assert task_rows() == 1


def test_signing_in_and_out_ignore_the_header(client: FlaskClient, auth: Any) -> None:
    auth("user")
    body = {"username": "user-user", "password": "correct-horse-battery"}
    tokens = [client.post("/api/v1/auth/login", headers={KEY: "login"}, json=body).get_json()["access_token"]
              for _ in range(2)]
    assert tokens[0] != tokens[1]
    for token in tokens:
        out = client.post("/api/v1/auth/logout", headers={"Authorization": f"Bearer {token}", KEY: "out"})
        assert out.status_code == 204 and REPLAYED not in out.headers


def test_openapi_shows_the_header_and_its_answers_on_every_covered_post(client: FlaskClient) -> None:
    spec = client.get("/openapi.json").get_json()
    exempt = {"/api/v1/auth/login", "/api/v1/auth/refresh", "/api/v1/auth/logout", "/api/v1/auth/github/link",
              "/api/v1/repositories/{repository_id}/hooks/github", "/api/v1/repositories/{repository_id}/hooks/gitlab"}
    posts = {path: item["post"] for path, item in spec["paths"].items() if "post" in item}
    assert {"/api/v1/builds", "/api/v1/webhooks", "/api/v1/api-keys", "/api/v1/metrics"} <= set(posts)
    for path, operation in posts.items():
        headers = [p for p in operation.get("parameters", []) if (p["name"], p["in"]) == (KEY, "header")]
        assert len(headers) == (0 if path in exempt else 1), path
        if headers:
            assert headers[0]["required"] is False and headers[0]["schema"]["maxLength"] == 255
            assert {"409", "422"} <= set(operation["responses"]), path
    assert posts["/api/v1/builds"]["responses"]["202"]["headers"][REPLAYED]["schema"]["enum"] == ["true"]
