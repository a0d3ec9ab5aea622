"""CORS on /api/* (none allowed by default; only the configured origins; credentials only when asked and never
with `*`) and the security headers on every response, errors included; HSTS only over TLS or TRUST_PROXY_TLS."""
from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from api.dashboard import SECURITY_HEADERS as DASHBOARD_HEADERS
from tests.support.auth import AuthHeaders
from tests.support.envelope import assert_error

APP_ORIGIN = "https://app.example.com"
ORIGINS = f"{APP_ORIGIN},http://[::1]:5173"
PREFLIGHT_HEADERS = "Authorization, Content-Type, X-API-Key, Idempotency-Key"


def preflight(client: FlaskClient, origin: str, path: str = "/api/v1/builds", method: str = "POST") -> Any:
    return client.options(path, headers={"Origin": origin, "Access-Control-Request-Method": method,
                                         "Access-Control-Request-Headers": PREFLIGHT_HEADERS})


def allowed_origin(response: Any) -> str | None:
    return response.headers.get("Access-Control-Allow-Origin")  # type: ignore[no-any-return]


def test_no_origin_is_allowed_by_default(client: FlaskClient, auth: AuthHeaders) -> None:
    headers = {**auth("user"), "Origin": APP_ORIGIN}
    assert client.get("/api/v1/users/me", headers=headers).status_code == 200
    assert allowed_origin(client.get("/api/v1/users/me", headers=headers)) is None
    assert allowed_origin(preflight(client, APP_ORIGIN)) is None


@pytest.mark.parametrize("origin", [APP_ORIGIN, "http://[::1]:5173", "HTTPS://APP.EXAMPLE.COM"])
def test_a_configured_origin_is_allowed_and_its_preflight_answered(make_app: Any, origin: str) -> None:
    client = make_app(CORS_ORIGINS=ORIGINS).test_client()
    response = preflight(client, origin)
    assert response.status_code == 200
    assert allowed_origin(response) == origin
    assert "Origin" in response.headers.get("Vary", "")
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        assert method in response.headers["Access-Control-Allow-Methods"]
    allowed = {h.strip().lower() for h in response.headers["Access-Control-Allow-Headers"].split(",")}
    assert {"authorization", "content-type", "x-api-key", "idempotency-key"} <= allowed
    assert response.headers["Access-Control-Max-Age"] == "600"
    assert "Access-Control-Allow-Credentials" not in response.headers


@pytest.mark.parametrize("origin", ["https://evil.example.com", "https://app.example.com.evil.net",
                                    "http://app.example.com", "https://app.example.com:8443", "null"])
def test_other_origins_are_refused(make_app: Any, origin: str) -> None:
    client = make_app(CORS_ORIGINS=ORIGINS).test_client()
    assert allowed_origin(preflight(client, origin)) is None
    assert allowed_origin(client.get("/api/v1/users/me", headers={"Origin": origin})) is None


def test_errors_carry_cors_so_that_the_page_can_read_them(make_app: Any) -> None:
    client = make_app(CORS_ORIGINS=ORIGINS).test_client()
    response = client.get("/api/v1/users/me", headers={"Origin": APP_ORIGIN})
    assert_error(response, 401, "UNAUTHORIZED")
    assert allowed_origin(response) == APP_ORIGIN
    exposed = response.headers["Access-Control-Expose-Headers"].lower()
    assert "x-request-id" in exposed and "x-ratelimit-remaining" in exposed


def test_cors_is_for_the_api_only(make_app: Any) -> None:
    client = make_app(CORS_ORIGINS=ORIGINS).test_client()
    assert allowed_origin(client.get("/health", headers={"Origin": APP_ORIGIN})) is None
    assert allowed_origin(client.get("/openapi.json", headers={"Origin": APP_ORIGIN})) is None


def test_credentials_only_when_configured_with_named_origins(make_app: Any) -> None:
    with_credentials = make_app(CORS_ORIGINS=APP_ORIGIN, CORS_ALLOW_CREDENTIALS="true").test_client()
    response = preflight(with_credentials, APP_ORIGIN)
    assert allowed_origin(response) == APP_ORIGIN
    assert response.headers["Access-Control-Allow-Credentials"] == "true"
    anyone = make_app(CORS_ORIGINS="*").test_client()
    response = preflight(anyone, "https://anywhere.example.org")
    assert allowed_origin(response) == "*"
    assert "Access-Control-Allow-Credentials" not in response.headers


def assert_secured(response: Any) -> None:
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_every_api_response_carries_the_security_headers(client: FlaskClient, auth: AuthHeaders) -> None:
    user = auth("user")
    assert_secured(client.get("/api/v1/users/me", headers=user))
    for response, status, code in (
            (client.get("/api/v1/users/me"), 401, "UNAUTHORIZED"),
            (client.get("/api/v1/no-such-thing", headers=user), 404, "NOT_FOUND"),
            (client.get("/api/v1/users", headers=user), 403, "FORBIDDEN"),
            (client.delete("/api/v1/users/me", headers=user), 405, "METHOD_NOT_ALLOWED")):
        assert_error(response, status, code)
        assert_secured(response)
    for path in ("/health", "/openapi.json", "/metrics", "/docs", "/redoc"):
        assert_secured(client.get(path))
        assert client.get(path).headers["Content-Security-Policy"] == "frame-ancestors 'none'"


def test_the_dashboard_keeps_its_own_stricter_policy(client: FlaskClient) -> None:
    response = client.get("/", headers={"Accept": "text/html"})
    assert response.headers["Content-Security-Policy"] == DASHBOARD_HEADERS["Content-Security-Policy"]
    assert_secured(response)


def test_hsts_only_over_tls_or_behind_a_proxy_that_terminates_it(client: FlaskClient, make_app: Any) -> None:
    assert "Strict-Transport-Security" not in client.get("/health").headers
    secure = client.get("/health", base_url="https://localhost")
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    behind_proxy = make_app(TRUST_PROXY_TLS="true").test_client()
    for response in (behind_proxy.get("/health"), behind_proxy.get("/api/v1/users/me")):
        assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
