"""The app factory, and the error envelope for every source of error."""
from __future__ import annotations

import json
import logging
import os
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from api.errors import ApiError
from core.logging import JsonFormatter
from tests.conftest import create_user, login
from tests.support.envelope import assert_envelope
from tests.support.processes import wait_for


def test_factory_registers_documented_routes(client: FlaskClient) -> None:
    spec = client.get("/openapi.json").get_json()
    for path in ("/health", "/health/ready", "/health/deep", "/metrics", "/api/v1/auth/login",
                 "/api/v1/users/me", "/api/v1/users/{user_id}", "/api/v1/admin/jobs",
                 "/api/v1/admin/jobs/{name}/run", "/api/v1/admin/maintenance", "/api/v1/admin/system/status",
                 "/api/v1/projects", "/api/v1/projects/{name}", "/api/v1/builds", "/api/v1/builds/{task_id}",
                 "/api/v1/builds/{task_id}/logs", "/api/v1/analyses", "/api/v1/analyses/{analysis_id}",
                 "/api/v1/ws/builds/{task_id}", "/api/v1/ws/analyses/{task_id}"):
        assert path in spec["paths"], path
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert spec["paths"]["/health"]["get"]["security"] == []


def test_docs_page_and_its_assets_are_served_locally(client: FlaskClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "/docs/assets/swagger-ui-bundle.js" in html
    asset = client.get("/docs/assets/swagger-ui-bundle.js")
    assert asset.status_code == 200 and len(asset.get_data()) > 100_000
    redoc = client.get("/redoc").get_data(as_text=True)
    assert '<script src="/redoc/assets/redoc.standalone.js">' in redoc and "cdn" not in redoc.lower()
    script = client.get("/redoc/assets/redoc.standalone.js")
    assert script.status_code == 200 and "javascript" in script.content_type and len(script.get_data()) > 500_000
    bundle = script.get_data(as_text=True)
    assert "cdn.redoc.ly" not in bundle and '"/redoc/assets/logo-mini.svg"' in bundle  # its logo is ours
    assert client.get("/redoc/assets/logo-mini.svg").mimetype == "image/svg+xml"
    for page_html in (html, redoc):  # nothing is fetched from elsewhere
        assert "https://" not in page_html.replace("https://github.com", "")


def test_request_id_is_echoed_or_generated(client: FlaskClient) -> None:
    assert client.get("/health", headers={"X-Request-ID": "abc-123"}).headers["X-Request-ID"] == "abc-123"
    generated = {client.get("/health").headers["X-Request-ID"] for _ in range(50)}
    assert len(generated) == 50 and all(re.fullmatch(r"[0-9a-f]{32}", rid) for rid in generated)
    # An id outside the safe alphabet is replaced, not echoed into logs.
    assert client.get("/health", headers={"X-Request-ID": "bad id {json}"}).headers["X-Request-ID"] != "bad id {json}"


def test_processes_forked_from_one_make_different_request_ids() -> None:
    """gunicorn forks its workers: ids come from `random`, which every forked child reseeds."""
    from api.app import new_request_id

    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover (the child)
        os.write(write, new_request_id().encode())
        os._exit(0)
    os.close(write)
    ours, _ = new_request_id(), os.waitpid(child, 0)
    with os.fdopen(read) as pipe:
        assert len({ours, pipe.read()}) == 2


def test_the_app_remembers_which_views_are_async_by_function(app: Flask) -> None:
    """Flask checks every hook and view for `async def` on every request; the app remembers the answer per
    function, so a view's bound method (new on every request) adds nothing, and an async one is still run."""

    class View:
        def get(self) -> str:
            return "sync"

        async def put(self) -> str:
            return "async"

    for _ in range(10_000):
        view = View()
        assert app.ensure_sync(view.get) == view.get
    remembered = app._is_async  # type: ignore[attr-defined]
    assert len([f for f in remembered if getattr(f, "__qualname__", "").startswith(View.__qualname__)]) == 1
    try:
        outcome = app.ensure_sync(View().put)()
    except RuntimeError as error:  # Flask without its async extra, as here: it says so rather than skipping
        assert "async" in str(error)
    else:
        assert outcome == "async"


def test_unknown_path_is_404_envelope(client: FlaskClient) -> None:
    assert_envelope(client.get("/api/v1/nothing-here"), 404, "NOT_FOUND")


def test_wrong_method_is_405_envelope_with_allow(client: FlaskClient) -> None:
    response = client.delete("/health")
    assert_envelope(response, 405, "METHOD_NOT_ALLOWED")
    assert "GET" in response.headers["Allow"]


def test_malformed_json_is_400(client: FlaskClient) -> None:
    response = client.post("/api/v1/auth/login", data="{not json", content_type="application/json")
    assert_envelope(response, 400, "BAD_REQUEST")


def test_validation_error_is_422_with_field_details(client: FlaskClient) -> None:
    response = client.post("/api/v1/auth/login", json={"username": "", "extra": 1})
    body = assert_envelope(response, 422, "VALIDATION_ERROR")
    assert set(body["error"]["details"]) == {"username", "password", "extra"}
    assert all(isinstance(v, list) for v in body["error"]["details"].values())


def test_query_validation_error_names_the_parameter(client: FlaskClient, auth: Any) -> None:
    response = client.get("/api/v1/users?limit=500", headers=auth("admin"))
    body = assert_envelope(response, 422, "VALIDATION_ERROR")
    assert "limit" in body["error"]["details"]


def test_body_over_the_limit_is_413(make_app: Any) -> None:
    client = make_app(MAX_BODY_BYTES="2048").test_client()
    response = client.post("/api/v1/auth/login", json={"username": "x" * 4000, "password": "y"})
    assert_envelope(response, 413, "PAYLOAD_TOO_LARGE")


def test_unhandled_exception_is_500_without_trace_and_logged_with_request_id(
        app: Flask, caplog: pytest.LogCaptureFixture) -> None:
    def boom() -> None:
        raise RuntimeError("secret internals: SELECT * FROM users")

    app.add_url_rule("/boom", view_func=boom)
    with caplog.at_level(logging.ERROR):
        response = app.test_client().get("/boom", headers={"X-Request-ID": "req-500"})
    body = assert_envelope(response, 500, "INTERNAL_ERROR")
    text = response.get_data(as_text=True)
    assert "secret internals" not in text and "Traceback" not in text
    assert body["request_id"] == "req-500"
    logged = [r for r in caplog.records if r.exc_info and "secret internals" in str(r.exc_info[1])]
    assert logged, "the crash must be logged with its trace"


def test_api_error_keeps_its_code_and_details(app: Flask) -> None:
    def conflict() -> None:
        raise ApiError(409, "taken", details={"name": ["exists"]})

    app.add_url_rule("/conflict", view_func=conflict)
    body = assert_envelope(app.test_client().get("/conflict"), 409, "CONFLICT")
    assert body["error"]["details"] == {"name": ["exists"]}


def test_redis_down_answers_503_not_500(make_app: Any, auth: Any) -> None:
    # A port nothing listens on: the app starts (it connects lazily) but every Redis call fails.
    client = make_app(REDIS_URL="redis://127.0.0.1:9/0").test_client()
    assert_envelope(client.get("/health/ready"), 503, "SERVICE_UNAVAILABLE")
    response = client.post("/api/v1/auth/refresh", json={"refresh_token": "x.y.z"})
    assert response.status_code in (401, 503)
    login = client.post("/api/v1/auth/login", json={"username": "nobody", "password": "whatever1"})
    assert login.status_code == 401  # login needs only the database
    assert client.get("/health").status_code == 200


def media_type_parameters(header: str) -> dict[str, str]:
    """The parameters of a `text/plain` media type, parsed as strictly as Go's `mime.ParseMediaType` (which
    Prometheus uses): a parameter given twice makes the whole value invalid."""
    media_type, *parameters = (part.strip() for part in header.split(";"))
    assert media_type == "text/plain", header
    parsed: dict[str, str] = {}
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        assert name.lower() not in parsed, f"{name} given twice: {header}"
        parsed[name.lower()] = value
    return parsed


def test_metrics_endpoint_speaks_prometheus_text(client: FlaskClient) -> None:
    client.get("/health")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert media_type_parameters(response.headers["Content-Type"]) == {"version": "1.0.0", "charset": "utf-8"}
    text = response.get_data(as_text=True)
    assert 'conveyor_http_requests_total{endpoint="/health",method="GET",status="200"}' in text
    assert "conveyor_http_request_duration_seconds_bucket" in text
    assert "conveyor_queue_messages" in text


def test_openapi_info_carries_contact_license_and_terms_from_the_settings(make_app: Any) -> None:
    info = make_app(API_CONTACT_NAME="Platform team", API_CONTACT_EMAIL="platform@example.com",
                    API_CONTACT_URL="https://example.com/platform", API_TERMS_URL="https://example.com/terms",
                    API_LICENSE_NAME="Apache-2.0", API_LICENSE_URL="https://www.apache.org/licenses/LICENSE-2.0",
                    ).test_client().get("/openapi.json").get_json()["info"]
    assert info["contact"] == {"name": "Platform team", "email": "platform@example.com",
                               "url": "https://example.com/platform"}
    assert info["license"] == {"name": "Apache-2.0", "url": "https://www.apache.org/licenses/LICENSE-2.0"}
    assert info["termsOfService"] == "https://example.com/terms" and info["title"] == "Conveyor"
    default = make_app().test_client().get("/openapi.json").get_json()["info"]
    assert default["license"]["name"] == "MIT" and "contact" not in default and "termsOfService" not in default


class Lines(logging.Handler):
    """Formats each record as it is emitted (the request id lives only while the request does)."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonFormatter())
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


def access_lines(make_app: Any, calls: Any, **settings: str) -> list[dict[str, Any]]:
    app = make_app(**settings)
    handler, logger = Lines(), logging.getLogger("conveyor.access")
    logger.addHandler(handler)
    previous = logger.level
    logger.setLevel(logging.INFO)
    try:
        calls(app.test_client())
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)
    return handler.lines


def test_one_json_access_line_per_request_without_ids_tokens_or_query(make_app: Any) -> None:
    def calls(client: FlaskClient) -> None:
        create_user("logged")
        token = login(client, "logged")["access_token"]
        client.get("/api/v1/builds/5f0c0000-0000-4000-8000-000000000000?secret=hunter2",
                   headers={"Authorization": f"Bearer {token}", "X-Request-ID": "trace-me-1"})

    lines = access_lines(make_app, calls)
    assert [line["path"] for line in lines] == ["/api/v1/auth/login", "/api/v1/builds/<uuid:task_id>"]
    line = lines[-1]
    assert (line["logger"], line["method"], line["status"], line["request_id"]) == (
        "conveyor.access", "GET", 404, "trace-me-1")
    assert line["duration_ms"] >= 0 and isinstance(line["user_id"], int)
    assert lines[0]["user_id"] is None  # the login itself is anonymous
    text = json.dumps(lines)
    assert "hunter2" not in text and "5f0c0000" not in text and "Bearer" not in text and "password" not in text


def test_the_access_log_can_be_switched_off(make_app: Any) -> None:
    assert access_lines(make_app, lambda client: client.get("/health"), ACCESS_LOG="false") == []
    assert len(access_lines(make_app, lambda client: client.get("/health"))) == 1


def test_prometheus_counts_failures_requests_in_progress_and_open_sockets(app: Flask, client: FlaskClient) -> None:
    client.get("/api/v1/builds")  # 401
    client.get("/no/such/page")  # 404
    hub = app.extensions["stream_hub"]
    subscriptions = [hub.subscribe("some-task"), hub.subscribe("some-task"), hub.subscribe("alerts")]
    try:
        text = client.get("/metrics").get_data(as_text=True)
    finally:
        for subscription in subscriptions:
            hub.unsubscribe(subscription)
    assert 'conveyor_http_requests_failed_total{class="4xx",endpoint="/api/v1/builds",method="GET"} 1.0' in text
    assert 'conveyor_http_requests_failed_total{class="4xx",endpoint="unmatched",method="GET"} 1.0' in text
    assert "conveyor_http_requests_in_progress 1.0" in text  # the scrape itself
    assert 'conveyor_websocket_connections{kind="tasks"} 2.0' in text
    assert 'conveyor_websocket_connections{kind="alerts"} 1.0' in text
    after = client.get("/metrics").get_data(as_text=True)
    assert 'conveyor_websocket_connections{kind="tasks"} 0.0' in after
    wait_for(lambda: hub.thread is None, timeout=3, what="the hub's reader to stop with its last subscriber")


def test_prometheus_counts_database_statements_and_their_time(client: FlaskClient, auth: Any) -> None:
    def figures() -> tuple[float, float]:
        text = client.get("/metrics").get_data(as_text=True)
        found = dict(re.findall(r"^conveyor_db_query_duration_seconds_(count|sum) (\S+)$", text, re.M))
        return float(found["count"]), float(found["sum"])

    headers = auth("user")  # logging in ran statements already
    before = figures()
    assert before[0] > 0 and before[1] > 0
    assert client.get("/api/v1/projects", headers=headers).status_code == 200  # the user, the page, the count
    after = figures()
    assert after[0] >= before[0] + 3 and after[1] > before[1]
