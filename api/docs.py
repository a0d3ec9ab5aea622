"""Serve Swagger UI's and ReDoc's assets from installed packages, so that /docs and /redoc work offline.

Swagger UI comes with `flask-swagger-ui`; ReDoc's standalone bundle with `drf-spectacular-sidecar`, whose
files are all we use (it is installed without its Django dependency, and never imported).
"""
from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import flask_swagger_ui
from flask import Blueprint, Flask, Response, abort, send_from_directory
from flask.typing import ResponseReturnValue
from flask_smorest.spec.plugins import FlaskPlugin

from api.idempotency import HEADER, KEY_FORMAT, KEY_PATTERN, REPLAYED_HEADER, RETRY_AFTER_SECONDS, covered

ASSETS_URL = "/docs/assets/"
REDOC_URL = "/redoc/assets/redoc.standalone.js"
REDOC_CDN = "https://cdn.jsdelivr.net/npm/redoc@2/bundles/redoc.standalone.js"
# The one thing the bundle itself fetches from elsewhere: the logo in its sidebar's footer. Ours instead.
REDOC_REMOTE_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"
REDOC_LOGO_URL = "/redoc/assets/logo-mini.svg"
LOGO_SVG = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" '
            'fill="#2b5fd9"/><path d="M3 5h10M3 8h10M3 11h10" stroke="#fff" stroke-width="1.6"/></svg>')
_DIST = Path(flask_swagger_ui.__file__).parent / "dist"

assets = Blueprint("docs_assets", __name__)


def redoc_bundles() -> Path | None:
    """The installed ReDoc bundle's folder, found without importing its package; None when not installed."""
    spec = importlib.util.find_spec("drf_spectacular_sidecar")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "static/drf_spectacular_sidecar/redoc/bundles"
    return folder if (folder / "redoc.standalone.js").is_file() else None


@assets.route(f"{ASSETS_URL}<path:filename>")
def swagger_asset(filename: str) -> ResponseReturnValue:
    return send_from_directory(_DIST, filename, max_age=86_400)


@lru_cache(maxsize=1)
def _local_redoc(folder: Path) -> bytes:
    """The bundle, with its remote logo pointed at ours (read once: about 1 MB)."""
    return (folder / "redoc.standalone.js").read_bytes().replace(REDOC_REMOTE_LOGO, REDOC_LOGO_URL.encode())


@assets.route(REDOC_URL)
def redoc_asset() -> ResponseReturnValue:
    folder = redoc_bundles()
    if folder is None:
        abort(404)
    response = Response(_local_redoc(folder), mimetype="text/javascript")
    response.cache_control.max_age = 86_400
    return response


@assets.route(REDOC_LOGO_URL)
def redoc_logo() -> ResponseReturnValue:
    response = Response(LOGO_SVG, mimetype="image/svg+xml")
    response.cache_control.max_age = 86_400
    return response


def openapi_config(info: dict[str, Any]) -> dict[str, object]:
    """flask-smorest's settings; `info` (contact, license, terms of service) comes from the settings."""
    info_with_description: dict[str, Any] = {
        **info, "description": "Conveyor: builds, analyses, webhooks and alerts as queued jobs."}
    return {
        "API_TITLE": "Conveyor",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/",
        "OPENAPI_JSON_PATH": "openapi.json",
        "OPENAPI_SWAGGER_UI_PATH": "/docs",
        "OPENAPI_SWAGGER_UI_URL": ASSETS_URL,
        "OPENAPI_REDOC_PATH": "/redoc",
        # From the installed package; the CDN only where it is missing (a `pip install .` without the Makefile).
        "OPENAPI_REDOC_URL": REDOC_URL if redoc_bundles() else REDOC_CDN,
        "API_SPEC_OPTIONS": {
            "info": info_with_description,
            "security": [{"bearerAuth": []}, {"apiKey": []}],
            "components": {"securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT or API key",
                               "description": "An access token from logging in, or an API key (`cvk_...`)."},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key",
                           "description": "An API key (`cvk_...`): see docs/api-keys.md."}}},
        },
    }


_WS_DESCRIPTION = (
    "WebSocket. Authenticate with an access token in `?token=` or the Authorization header, or an API key in "
    "the Authorization or X-API-Key header (close 4401; a key without the read scope closes 4403); another "
    "user's task closes 4404. Messages, each with `type`, `task_id`, `timestamp` and `id` (stream position): "
    "`connected` (with `status`, `progress`), `progress`, `log` (`data.lines`), `completion` or `error` (then "
    "the server closes). Reconnect with `?last_event_id=ID` to receive exactly the events after ID. Send "
    '`{"type": "ping"}` for `{"type": "pong"}`.'
)


# A plain GET (no upgrade) and a refused handshake answer the error envelope, like any other route.
_WS_RESPONSES = {"101": {"description": "Switching Protocols: the WebSocket is open"},
                 "400": {"description": "Not a WebSocket handshake", "content": {"application/json": {
                     "schema": {"$ref": "#/components/schemas/Error"}}}},
                 "default": {"$ref": "#/components/responses/DEFAULT_ERROR"}}


def document_server_errors(spec: Any) -> None:
    """gunicorn itself refuses a request line over 4 KB or a header over 8 KB, before the API sees it, with a
    short HTML page: the only answers that are not the JSON envelope, so the default error says so."""
    spec.components.responses["DEFAULT_ERROR"].setdefault("content", {})["text/html"] = {
        "schema": {"type": "string", "description": "from the HTTP server: the request line or a header is too large"}}


def document_websockets(spec: Any, app: Flask) -> None:
    """OpenAPI has no WebSocket verbs; describe the upgrade as a GET answering 101."""
    rules = {rule.endpoint: rule for rule in app.url_map.iter_rules()}
    for endpoint, label in (("ws.build_progress", "build"), ("ws.analysis_progress", "analysis")):
        spec.path(rule=rules[endpoint], operations={"get": {
            "tags": ["progress"], "summary": f"Live progress of a {label} (WebSocket)",
            "description": _WS_DESCRIPTION,
            "parameters": [
                {"name": "task_id", "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}},
                {"name": "token", "in": "query", "schema": {"type": "string"}},
                {"name": "last_event_id", "in": "query", "schema": {"type": "string", "example": "1700000000000-0"}},
            ],
            "responses": _WS_RESPONSES,
        }})
    spec.path(rule=rules["ws.alerts_channel"], operations={"get": {
        "tags": ["alerts"], "summary": "New alerts, live (WebSocket)",
        "description": (
            'WebSocket. Authenticate with an access token in `?token=` or the Authorization header, or an API key '
            'in the Authorization or X-API-Key header (close 4401). Send `{"type": '
            '"subscribe", "channels": ["critical_alerts" | "performance_warnings" | "all"]}` (answered with '
            '`subscribed`) to receive `{"type": "alert", "data": {...}}` for each new alert of those severities; '
            'everyone gets `{"type": "system_status", "data": {cache_hit_rate, active_webhooks, '
            'pending_deliveries, queued_tasks, workers}}` every 5 s. `{"type": "ping"}` answers `pong`.'),
        "parameters": [{"name": "token", "in": "query", "schema": {"type": "string"}}],
        "responses": _WS_RESPONSES,
    }})


def _error_response(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"description": description, "headers": headers or {},
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def idempotent_paths(app: Flask) -> Iterator[str]:
    """The OpenAPI paths whose POST honours Idempotency-Key: the guarded ones (`auth_required`), but signing in
    and out."""
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        handler = getattr(view.view_class, "post", None) if hasattr(view, "view_class") else view
        if ("POST" in (rule.methods or ()) and hasattr(handler, "required_permission")
                and covered(rule.endpoint.partition(".")[0], "POST")):
            yield FlaskPlugin.flaskpath2openapi(rule.rule)


def _idempotency_header() -> dict[str, Any]:
    """The optional request header, inline in each operation as flask-smorest writes its own parameters."""
    return {
        "name": HEADER, "in": "header", "required": False,
        "description": ("Do this POST at most once: a retry with the same key and the same request (method, path, "
                        "query, body) answers the stored response, with `Idempotent-Replayed: true`, without "
                        "doing it again, for IDEMPOTENCY_TTL_SECONDS (24 h by default); the key with another "
                        "request answers 422 `IDEMPOTENCY_MISMATCH`. Keys are per user or API key. Only "
                        "successful (2xx) responses are stored. A new UUID per operation makes a good key."),
        "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": f"^(?:{KEY_PATTERN.pattern})$",
                   "description": KEY_FORMAT},
        "example": "4f8e2c1a-6b1d-4c3e-9a57-0d2f6c7b8e91"}


def document_idempotency(spec: Any, app: Flask) -> None:
    """The optional Idempotency-Key header on every POST that honours it, its 409 and 422, and the header that
    marks a replayed answer (docs/idempotency.md)."""
    spec.components.response("IDEMPOTENCY_IN_FLIGHT", _error_response(
        "`IDEMPOTENCY_IN_FLIGHT`: a request with this Idempotency-Key is still running; retry after Retry-After",
        {"Retry-After": {"schema": {"type": "integer", "example": RETRY_AFTER_SECONDS}}}))
    spec.components.response("IDEMPOTENCY_MISMATCH", _error_response(
        "`IDEMPOTENCY_MISMATCH`: this Idempotency-Key was used with another request; or "
        "`VALIDATION_ERROR`: the key or the body is not valid"))
    header, replayed = _idempotency_header(), {
        "description": "`true`: the stored response of an earlier request with the same Idempotency-Key",
        "schema": {"type": "string", "enum": ["true"]}}
    paths = spec._paths  # apispec's registered paths (flask-smorest filled them as blueprints were registered)
    for path in idempotent_paths(app):
        operation = paths[path]["post"]
        operation.setdefault("parameters", []).append(header)
        responses = operation["responses"]
        responses.setdefault("409", {"$ref": "#/components/responses/IDEMPOTENCY_IN_FLIGHT"})
        responses.setdefault("422", {"$ref": "#/components/responses/IDEMPOTENCY_MISMATCH"})
        for status, response in responses.items():
            if status.startswith("2") and "$ref" not in response:
                response.setdefault("headers", {})[REPLAYED_HEADER] = replayed
