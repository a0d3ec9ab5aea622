"""API keys' rate limits (1,000 an hour by default, an admin's choice per key; wrong keys count against their
address, 100 a minute anonymous: the contract's default) and their last use, kept in Redis and written to the
rows by a job."""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from domain.api_keys import flush_usage
from models.api_key import ApiKey
from models.db import db
from tests.conftest import create_user, login
from tests.support.api_keys import KEYS, make_key, statements, with_key
from tests.support.auth import LOGIN, ME, bearer
from tests.support.envelope import assert_error
from workers import jobs
from workers.schedule import find_job


def limited(make_app: Callable[..., Flask], **limits: str) -> FlaskClient:
    return make_app(RATE_LIMITS_ENABLED="true", **limits).test_client()


def session(client: FlaskClient, username: str, role: str = "user") -> dict[str, str]:
    create_user(username, role)
    return bearer(login(client, username)["access_token"])


def assert_limited(response: Any, limit: int) -> None:
    """A 429 in the envelope, with the rate-limit headers and when to come back."""
    assert_error(response, 429, "RATE_LIMIT_EXCEEDED")
    assert response.headers["X-RateLimit-Limit"] == str(limit)
    assert response.headers["X-RateLimit-Remaining"] == "0"
    assert int(response.headers["X-RateLimit-Reset"]) > time.time()
    assert int(response.headers["Retry-After"]) > 0


def test_keys_get_a_thousand_an_hour_and_anonymous_callers_a_hundred_a_minute_by_default(
        make_app: Callable[..., Flask]) -> None:
    client = limited(make_app)
    alice = session(client, "alice")
    secret = make_key(client, alice, ["build:read"])["key"]
    keyed = client.get("/api/v1/builds", headers=with_key(secret))
    anonymous = client.post(LOGIN, json={"username": "nobody", "password": "wrong-password"})
    assert keyed.headers["X-RateLimit-Limit"] == "1000" and keyed.headers["X-RateLimit-Remaining"] == "999"
    assert anonymous.headers["X-RateLimit-Limit"] == "100"
    assert int(anonymous.headers["X-RateLimit-Reset"]) - time.time() <= 61  # a minute's window (the contract's)


def test_a_key_past_its_limit_gets_429_with_the_headers_and_its_own_bucket(make_app: Callable[..., Flask]) -> None:
    # given: a key allowed 3 an hour; its owner's session and another key are counted apart
    client = limited(make_app, RATE_LIMIT_API_KEY="3/hour", RATE_LIMIT_USER="100/minute")
    alice = session(client, "alice")
    first, second = (make_key(client, alice, ["analysis:read", "build:read"], name=n)["key"]
                     for n in ("first", "second"))
    # when: one bucket for the key, whichever routes it calls
    answers = [client.get(path, headers=with_key(first)) for path in ("/api/v1/builds", ME, "/api/v1/analyses",
                                                                       "/api/v1/builds")]
    # then
    assert [r.status_code for r in answers] == [200, 200, 200, 429]
    assert [r.headers["X-RateLimit-Remaining"] for r in answers[:3]] == ["2", "1", "0"]
    assert_limited(answers[3], 3)
    assert client.get("/api/v1/builds", headers=with_key(second)).status_code == 200
    assert client.get("/api/v1/builds", headers=alice).status_code == 200


def test_an_admins_limit_for_a_key_applies_on_its_next_request(make_app: Callable[..., Flask]) -> None:
    client = limited(make_app, RATE_LIMIT_API_KEY="2/hour", RATE_LIMIT_USER="100/minute")
    alice, admin = session(client, "alice"), session(client, "root", "admin")
    made = make_key(client, alice, ["build:read"])
    assert client.get(ME, headers=with_key(made["key"])).headers["X-RateLimit-Limit"] == "2"
    assert client.patch(f"{KEYS}/{made['id']}", headers=admin, json={"rate_limit": 5}).status_code == 200
    answers = [client.get(ME, headers=with_key(made["key"])) for _ in range(6)]
    assert [r.headers["X-RateLimit-Limit"] for r in answers] == ["5"] * 6
    assert [r.status_code for r in answers] == [200] * 5 + [429]  # a new limit counts afresh
    assert_limited(answers[-1], 5)


def test_guessing_keys_from_one_address_is_held_back_by_the_anonymous_limit(make_app: Callable[..., Flask]) -> None:
    """Wrong keys have no bucket of their own (which would let each guess through): they count against their
    address. A real key from that address still works: it has its own."""
    client = limited(make_app, RATE_LIMIT_ANONYMOUS="3/hour", RATE_LIMIT_USER="100/minute")
    alice = session(client, "alice")
    secret = make_key(client, alice, ["build:read"])["key"]
    paths = ["/api/v1/builds", ME, "/api/v1/projects"]  # one bucket for the address's guesses, across routes
    guesses = [client.get(path, headers=with_key(f"cvk_{n:043d}")).status_code for n, path in enumerate(paths)]
    assert guesses == [401, 401, 401]
    assert_limited(client.get("/api/v1/analyses", headers={"Authorization": f"Bearer cvk_{7:043d}"}), 3)
    assert_limited(client.get(ME, headers=with_key("cvk_malformed")), 3)
    assert client.get("/api/v1/builds", headers=with_key(secret)).status_code == 200
    assert client.post(LOGIN, json={"username": "x", "password": "y" * 8}).status_code == 401  # its own route's count


def test_limits_switched_off_hold_no_key_back(make_app: Callable[..., Flask]) -> None:
    client = make_app(RATE_LIMITS_ENABLED="false", RATE_LIMIT_API_KEY="1/hour").test_client()
    alice = session(client, "alice")
    secret = make_key(client, alice, ["build:read"])["key"]
    assert [client.get(ME, headers=with_key(secret)).status_code for _ in range(3)] == [200] * 3


# --- last use -----------------------------------------------------------------------------------------------------


def test_last_use_is_shown_at_once_but_written_only_by_the_flush(app: Flask, client: FlaskClient, auth: Any) -> None:
    alice = auth("user", "alice")
    made = make_key(client, alice, ["build:read"])
    # when: the key is used, and every statement is watched
    with statements() as seen:
        before = time.time()
        for _ in range(5):
            assert client.get("/api/v1/builds", headers=with_key(made["key"])).status_code == 200
    # then: no request wrote anything, and the row has no last use yet
    assert not [sql for sql in seen if not sql.lstrip().upper().startswith("SELECT")], seen
    with db.connection_context():
        assert ApiKey.get_by_id(made["id"]).last_used_at is None
    shown = client.get(f"{KEYS}/{made['id']}", headers=alice).get_json()["last_used_at"]
    assert shown is not None and shown >= time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(before - 1))
    assert client.get(KEYS, headers=alice).get_json()["items"][0]["last_used_at"] == shown
    # when: the job flushes
    redis = app.extensions["conveyor"].redis
    assert flush_usage(redis) == {"keys_used": 1, "rows_written": 1}
    # then: the row has it, Redis no longer holds it, and the answer has not moved
    with db.connection_context():
        assert ApiKey.get_by_id(made["id"]).last_used_at is not None
    assert flush_usage(redis) == {"keys_used": 0, "rows_written": 0}
    assert client.get(f"{KEYS}/{made['id']}", headers=alice).get_json()["last_used_at"] == shown


def test_a_flush_never_moves_a_last_use_back(app: Flask, client: FlaskClient, auth: Any) -> None:
    alice = auth("user", "alice")
    made = make_key(client, alice, ["build:read"])
    client.get(ME, headers=with_key(made["key"]))
    redis = app.extensions["conveyor"].redis
    flush_usage(redis)
    with db.connection_context():
        latest = ApiKey.get_by_id(made["id"]).last_used_at
    redis.hset("conveyor:api_keys:last_used", str(made["id"]), "1000.0")  # an old time, e.g. a slow process's
    redis.hset("conveyor:api_keys:last_used", "not-an-id", "garbage")
    assert flush_usage(redis)["rows_written"] == 0
    with db.connection_context():
        assert ApiKey.get_by_id(made["id"]).last_used_at == latest
    assert redis.hlen("conveyor:api_keys:last_used") == 0


def test_the_flush_is_a_scheduled_job_every_minute() -> None:
    job = find_job("flush_api_key_usage")
    assert job is not None and job.actor is jobs.flush_api_key_usage and job.interval_seconds == 60
