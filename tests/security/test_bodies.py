"""Resource limits (OWASP API4): a body over MAX_BODY_BYTES answers 413 on every write route, whoever
sends it, before anything is done; a batch over its documented maximum answers 422 and stores nothing."""
from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from api.schemas.metrics import MAX_TAGS
from models.alert import Alert
from models.db import db
from models.metric import MetricPoint
from models.organization import Organization
from models.project import Project
from models.task import Task
from models.webhook import WebhookEndpoint
from tests.conftest import create_user, login
from tests.security.test_access import SAFE, api_routes, user_id
from tests.security.world import PUBLIC_IP, build_world
from tests.support.envelope import assert_envelope

LIMIT = 2048


def counts() -> dict[str, int]:
    with db.connection_context():
        return {model.__name__: model.select().count() for model in (Alert, MetricPoint, Project, Task,
                                                                      WebhookEndpoint)}


@pytest.fixture
def small(make_app: Callable[..., Flask]) -> FlaskClient:
    return make_app(MAX_BODY_BYTES=str(LIMIT)).test_client()


def headers_for(client: FlaskClient, username: str, role: str) -> dict[str, str]:
    create_user(username, role)
    return {"Authorization": f"Bearer {login(client, username)['access_token']}"}


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_every_write_route_answers_413_to_a_body_over_the_limit(small: FlaskClient, chunked: bool) -> None:
    app: Flask = small.application
    admin = headers_for(small, "big-admin", "admin")
    world = build_world(small, admin, user_id("big-admin"))
    before = counts()
    oversized = b'{"padding": "' + b"x" * (LIMIT * 2) + b'"}'
    checked = []
    for rule, method in api_routes(app):
        if method in SAFE:
            continue
        path = world.path(rule.rule) if rule.arguments else rule.rule
        for who in ({}, admin):  # before authentication too: nobody gets a big body read
            # Chunked: no Content-Length, and a server (gunicorn) that ends the stream itself.
            response = small.open(path, method=method, headers={**who, "Content-Type": "application/json"},
                                  input_stream=io.BytesIO(oversized),
                                  environ_overrides={"wsgi.input_terminated": True} if chunked else {},
                                  content_length=None if chunked else len(oversized))
            assert response.status_code == 413, (method, rule.rule, response.get_json())
            assert_envelope(response, 413, "PAYLOAD_TOO_LARGE")
        checked.append(f"{method} {rule.rule}")
    assert len(checked) >= 35, checked
    assert counts() == before
    assert small.get(world.path("/api/v1/webhooks/<int:webhook_id>"), headers=admin).status_code == 200


def test_a_body_just_under_the_limit_is_read(small: FlaskClient) -> None:
    headers = headers_for(small, "writer", "user")
    body = {"name": "p", "repo_url": "/srv/git/p", "build_steps": [{"name": "s", "run": "true"}],
            "env": {"PAD": "x" * (LIMIT - 200)}}
    response = small.post("/api/v1/projects", headers=headers, json=body)
    assert response.status_code == 201, response.get_json()


# (route, field, the largest accepted number of items, a valid body, a function making n valid items)
BATCHES: list[tuple[str, str, int, dict[str, Any], Callable[[int], Any]]] = [
    ("/api/v1/metrics", "metrics", 10_000, {}, lambda n: [{"name": "m", "value": 1.0}] * n),
    ("/api/v1/alerts/acknowledge", "alert_ids", 1000, {}, lambda n: list(range(1, n + 1))),
    ("/api/v1/projects", "build_steps", 50, {"name": "p", "repo_url": "/srv/git/p"},
     lambda n: [{"name": f"s{i}", "run": "true"} for i in range(n)]),
    ("/api/v1/projects", "env", 100, {"name": "p", "repo_url": "/srv/git/p", "build_steps": [{"name": "s",
                                                                                               "run": "true"}]},
     lambda n: {f"K{i}": "v" for i in range(n)}),
    ("/api/v1/webhooks", "events", 50, {"name": "hook", "url": f"https://{PUBLIC_IP}/"},
     lambda n: [f"build.e{i}" for i in range(n)]),
    ("/api/v1/metrics", "metrics", MAX_TAGS, {}, lambda n: [{"name": "m", "value": 1.0, "tags": {
        f"k{i}": "v" for i in range(n)}}]),  # tags on one point
    ("/api/v1/builds", "parameters", 50, {"project_name": "p"}, lambda n: {f"K{i}": "v" for i in range(n)}),
    ("/api/v1/analyses", "analysis_types", 3, {"project_name": "p"}, lambda n: ["quality"] * n),
]


def test_a_batch_over_its_maximum_is_refused_and_stores_nothing(client: FlaskClient, auth: Any) -> None:
    user = auth("user")
    before = counts()
    for path, field, maximum, body, items in BATCHES:
        response = client.post(path, headers=user, json={**body, field: items(maximum + 1)})
        assert response.status_code in (413, 422), (path, field, response.get_json())
        assert field in response.get_json()["error"]["details"], (path, field, response.get_json())
    assert counts() == before


# (method, path, a body that would be accepted but for the NUL, where the NUL is)
NUL_BODIES: list[tuple[str, str, dict[str, Any], str]] = [
    ("POST", "/api/v1/organizations", {"name": "acme\x00"}, "name"),
    ("POST", "/api/v1/webhooks", {"name": "hook", "url": f"https://{PUBLIC_IP}/", "events": ["build.\x00"]},
     "events.0"),
    ("POST", "/api/v1/projects", {"name": "p", "repo_url": "/srv/git/p", "build_steps": [{"name": "s", "run": "true"}],
                                  "env": {"K\x00": "v"}}, "env.K\x00"),
    ("POST", "/api/v1/metrics", {"metrics": [{"name": "m", "value": 1.0, "tags": {"k": "\x00"}}]}, "metrics.0.tags.k"),
]


def test_a_nul_character_anywhere_in_a_body_or_a_query_is_refused_before_the_database(
        client: FlaskClient, auth: Any) -> None:
    """PostgreSQL refuses NUL in text (a 500 the fuzzer found there): every body and query holding one answers
    422 naming where it is, on every database, and stores nothing."""
    user = auth("user")
    before = counts()
    for method, path, body, where in NUL_BODIES:
        response = client.open(path, method=method, headers=user, json=body)
        details = assert_envelope(response, 422, "VALIDATION_ERROR")["error"]["details"]
        assert where in details, (path, details)
    response = client.get("/api/v1/alerts?status=open\x00", headers=user)
    assert "status.0" in assert_envelope(response, 422, "VALIDATION_ERROR")["error"]["details"]
    with db.connection_context():
        assert Organization.select().count() == 0
    assert counts() == before
