"""Serve Swagger UI's assets from the installed package, so that /docs works offline."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import flask_swagger_ui
from flask import Blueprint, Flask, send_from_directory
from flask.typing import ResponseReturnValue

ASSETS_URL = "/docs/assets/"
_DIST = Path(flask_swagger_ui.__file__).parent / "dist"

assets = Blueprint("docs_assets", __name__)


@assets.route(f"{ASSETS_URL}<path:filename>")
def swagger_asset(filename: str) -> ResponseReturnValue:
    return send_from_directory(_DIST, filename, max_age=86_400)


def openapi_config() -> dict[str, object]:
    return {
        "API_TITLE": "Conveyor",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/",
        "OPENAPI_JSON_PATH": "openapi.json",
        "OPENAPI_SWAGGER_UI_PATH": "/docs",
        "OPENAPI_SWAGGER_UI_URL": ASSETS_URL,
        "OPENAPI_REDOC_PATH": "/redoc",
        "OPENAPI_REDOC_URL": "https://cdn.jsdelivr.net/npm/redoc@2/bundles/redoc.standalone.js",
        "API_SPEC_OPTIONS": {
            "info": {"description": "Conveyor: builds, analyses, webhooks and alerts as queued jobs."},
            "security": [{"bearerAuth": []}],
            "components": {"securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}},
        },
    }


_WS_DESCRIPTION = (
    "WebSocket. Authenticate with `?token=` or the Authorization header (close 4401); another user's task "
    "closes 4404. Messages, each with `type`, `task_id`, `timestamp` and `id` (stream position): `connected` "
    "(with `status`, `progress`), `progress`, `log` (`data.lines`), `completion` or `error` (then the server "
    "closes). Reconnect with `?last_event_id=ID` to receive exactly the events after ID. Send "
    '`{"type": "ping"}` for `{"type": "pong"}`.'
)


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
            "responses": {"101": {"description": "Switching Protocols: the WebSocket is open"}},
        }})
    spec.path(rule=rules["ws.alerts_channel"], operations={"get": {
        "tags": ["alerts"], "summary": "New alerts, live (WebSocket)",
        "description": (
            'WebSocket. Authenticate with `?token=` or the Authorization header (close 4401). Send `{"type": '
            '"subscribe", "channels": ["critical_alerts" | "performance_warnings" | "all"]}` (answered with '
            '`subscribed`) to receive `{"type": "alert", "data": {...}}` for each new alert of those severities; '
            'everyone gets `{"type": "system_status", "data": {cache_hit_rate, active_webhooks, '
            'pending_deliveries, queued_tasks, workers}}` every 5 s. `{"type": "ping"}` answers `pong`.'),
        "parameters": [{"name": "token", "in": "query", "schema": {"type": "string"}}],
        "responses": {"101": {"description": "Switching Protocols: the WebSocket is open"}},
    }})
