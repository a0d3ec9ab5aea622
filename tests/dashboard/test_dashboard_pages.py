"""The dashboard's pages and assets over HTTP (what the browser tests drive), and the metric names they list."""
from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from api.dashboard import PAGES
from tests.support.envelope import assert_envelope

PAGE_PATHS = [page.path for page in PAGES]


def assets_of(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]+)"', html)


@pytest.mark.parametrize("path", PAGE_PATHS)
def test_each_page_is_served_without_a_token_and_fetches_nothing_from_elsewhere(client: FlaskClient,
                                                                                path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200 and response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    for form_part in ('name="username"', 'name="password"', 'type="submit"', 'id="login-form"'):
        assert form_part in html
    for link in assets_of(html):
        assert link.startswith("/"), f"{path} refers to {link}"
        if link.startswith("/ui/static/"):
            asset = client.get(link)
            assert asset.status_code == 200 and len(asset.data) > 100, link
    assert "<script>" not in html and " style=" not in html  # nothing inline: the CSP allows none
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self' 'unsafe-eval';" in policy and "frame-ancestors 'none'" in policy
    assert response.headers["X-Frame-Options"] == "DENY"


def test_pages_link_to_each_other_and_mark_the_current_one(client: FlaskClient) -> None:
    html = client.get("/webhooks").get_data(as_text=True)
    for path in PAGE_PATHS:
        assert f'href="{path}"' in html
    assert re.search(r'href="/webhooks"\s+aria-current="page"', html)


def test_prometheus_keeps_metrics_and_unknown_pages_stay_404(client: FlaskClient) -> None:
    assert client.get("/metrics").mimetype == "text/plain"
    assert_envelope(client.get("/no-such-page"), 404, "NOT_FOUND")
    assert_envelope(client.get("/ui/static/no-such.js"), 404, "NOT_FOUND")
    assert_envelope(client.post("/"), 405, "METHOD_NOT_ALLOWED")


def test_every_page_script_and_style_exists(client: FlaskClient) -> None:
    for page in PAGES:
        assert client.get(f"/ui/static/{page.name}.js").status_code == 200, page.name
    assert client.get("/ui/static/conveyor.css").mimetype == "text/css"


def test_pages_are_not_counted_against_the_anonymous_rate_limit(make_app: Any) -> None:
    app: Flask = make_app(RATE_LIMITS_ENABLED="true", RATE_LIMIT_ANONYMOUS="3/minute")
    client = app.test_client()
    for _ in range(6):
        assert client.get("/").status_code == 200
        assert client.get("/ui/static/conveyor.js").status_code == 200
    statuses = [client.get("/api/v1/projects").status_code for _ in range(5)]
    assert 429 in statuses  # the limit itself is on


def test_metric_names_are_distinct_sorted_and_need_a_token(client: FlaskClient, auth: Any) -> None:
    user = auth("user")
    assert_envelope(client.get("/api/v1/metrics/names"), 401, "UNAUTHORIZED")
    assert client.get("/api/v1/metrics/names", headers=user).get_json() == {"items": []}
    points = [{"name": name, "value": i} for i, name in enumerate(["b.two", "a.one", "b.two", "c", "a.one", "b.two"])]
    assert client.post("/api/v1/metrics", headers=user, json={"metrics": points}).status_code == 202
    assert client.get("/api/v1/metrics/names", headers=user).get_json() == {"items": ["a.one", "b.two", "c"]}


def test_the_root_answers_json_to_programs_and_the_page_to_browsers(client: FlaskClient) -> None:
    """Seed 002's `GET /`: service, version, status, docs, health, for a client that asks for JSON."""
    program = client.get("/", headers={"Accept": "application/json"})
    assert program.status_code == 200 and program.mimetype == "application/json"
    assert program.get_json() == {"service": "Conveyor", "version": client.get("/health").get_json()["version"],
                                  "status": "healthy", "docs": "/docs", "health": "/health"}
    assert client.get(program.get_json()["docs"]).status_code == 200
    browser = client.get("/", headers={"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"})
    assert browser.mimetype == "text/html" and b"<html" in browser.data
    assert client.get("/", headers={"Accept": "*/*"}).mimetype == "text/html"  # curl's default: the page
    assert "Accept" in program.headers["Vary"] and "Accept" in browser.headers["Vary"]
    assert client.get("/webhooks", headers={"Accept": "application/json"}).mimetype == "text/html"  # only the root
