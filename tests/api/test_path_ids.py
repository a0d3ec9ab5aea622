"""Integer path ids and id lists beyond what the database holds: a 404 or a 422 envelope, never a 500
(found by schemathesis: SQLite raised OverflowError, PostgreSQL would say 'integer out of range')."""
from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from api.routing import MAX_ID, IdConverter
from tests.support.envelope import assert_envelope

TOO_BIG = (MAX_ID + 1, 2**64, 10**30)


def id_routes(app: Flask) -> list[tuple[str, str, list[str]]]:
    """(method, rule, its int arguments) for every route with an integer path parameter."""
    found = []
    for rule in app.url_map.iter_rules():
        ints = [name for name, converter in rule._converters.items() if isinstance(converter, IdConverter)]
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            if ints:
                found.append((method, rule.rule, ints))
    return found


def url(rule: str, ints: list[str], value: int) -> str:
    for name in ints:
        rule = rule.replace(f"<int:{name}>", str(value))
    return rule


def test_every_integer_path_parameter_is_an_id_converter(app: Flask) -> None:
    routes = id_routes(app)
    assert len(routes) >= 15  # alerts, rules, webhooks, users, sources, pipelines, deliveries' webhooks, ...
    others = [rule.rule for rule in app.url_map.iter_rules() if "<int" in rule.rule
              and not any(isinstance(c, IdConverter) for c in rule._converters.values())]
    assert others == []


@pytest.mark.parametrize("value", TOO_BIG)
def test_an_id_too_big_for_the_database_is_not_found(app: Flask, client: FlaskClient, auth: Any, value: int) -> None:
    admin = auth("admin")
    for method, rule, ints in id_routes(app):
        response = client.open(url(rule, ints, value), method=method, headers=admin, json={})
        assert response.status_code == 404, (method, rule, response.status_code, response.get_json())
        assert_envelope(response, 404, "NOT_FOUND")


SIGNED_HOOKS = ("/hooks/github", "/hooks/gitlab")  # a repository that is not there has no secret to sign with: 401


def test_the_largest_id_reaches_the_view_and_finds_nothing(app: Flask, client: FlaskClient, auth: Any) -> None:
    admin = auth("admin")
    for method, rule, ints in id_routes(app):
        response = client.open(url(rule, ints, MAX_ID), method=method, headers=admin, json={})
        expected = (401,) if rule.endswith(SIGNED_HOOKS) else (404, 422)
        assert response.status_code in expected, (method, rule, response.status_code, response.get_json())


def test_the_documented_path_ids_carry_their_bounds(client: FlaskClient) -> None:
    spec = client.get("/openapi.json").get_json()
    param = next(p for p in spec["paths"]["/api/v1/alerts/{alert_id}"]["parameters"] if p["name"] == "alert_id")
    assert param["schema"] == {"type": "integer", "minimum": 0, "maximum": MAX_ID}


def test_alert_ids_beyond_the_database_are_refused(client: FlaskClient, auth: Any) -> None:
    for huge in (10**30, -(10**35)):
        response = client.post("/api/v1/alerts/acknowledge", headers=auth("user"), json={"alert_ids": [1, huge]})
        assert_envelope(response, 422, "VALIDATION_ERROR")
    assert client.post("/api/v1/alerts/acknowledge", headers=auth("user"), json={"alert_ids": [-5]}).get_json()[
        "failed"] == 1  # a negative id is no alert, like any other missing one


def test_a_log_offset_beyond_the_database_is_refused(client: FlaskClient, auth: Any) -> None:
    response = client.get("/api/v1/builds/7a23add9-e9e2-40c1-b5b4-74a49a7c223d/logs?offset=54811547275075264512",
                          headers=auth("user"))
    assert_envelope(response, 422, "VALIDATION_ERROR")


def test_a_ca_certificate_that_is_not_ascii_is_refused(client: FlaskClient, auth: Any) -> None:
    response = client.post("/api/v1/kubernetes/clusters", headers=auth("user"), json={
        "name": "c1", "api_url": "https://k8s.example.com", "token": "t0ken", "ca_cert": "\u00be\u00f0 not a pem"})
    assert_envelope(response, 422, "VALIDATION_ERROR")
    assert "ca_cert" in response.get_json()["error"]["details"]
