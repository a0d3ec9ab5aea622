"""The common error envelope, for every source of error: ours, smorest/webargs, werkzeug, crashes."""
from __future__ import annotations

import logging
from typing import Any

import marshmallow as ma
import peewee
import redis
from dramatiq.errors import BrokerConnectionError
from flask import Flask, Response, g, jsonify
from werkzeug.exceptions import HTTPException

from core.timeutil import isoformat, utcnow

log = logging.getLogger(__name__)

CODES = {
    400: "BAD_REQUEST", 401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED", 409: "CONFLICT", 413: "PAYLOAD_TOO_LARGE", 422: "VALIDATION_ERROR",
    429: "RATE_LIMIT_EXCEEDED", 500: "INTERNAL_ERROR", 502: "BAD_GATEWAY", 503: "SERVICE_UNAVAILABLE",
}
# Codes more specific than their status's (docs/reference.md lists them all).
IDEMPOTENCY_MISMATCH = "IDEMPOTENCY_MISMATCH"  # 422: an Idempotency-Key reused for another request
IDEMPOTENCY_IN_FLIGHT = "IDEMPOTENCY_IN_FLIGHT"  # 409: the first request with that key is still running


class ApiError(Exception):
    """An error a view raises on purpose: it becomes the envelope with this status and code."""

    def __init__(self, status: int, message: str, code: str | None = None,
                 details: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code or CODES.get(status, "ERROR")
        self.details = details or {}
        self.headers = headers or {}


def not_found(kind: str, ident: object) -> ApiError:
    return ApiError(404, f"{kind} {ident} not found")


def invalid(field: str, message: str) -> ApiError:
    """A 422 `VALIDATION_ERROR` for one field, as schema validation answers one: for checks a schema cannot
    make (what the database or the settings hold)."""
    return ApiError(422, "The request is not valid", details={field: [message]})


class ErrorDetailSchema(ma.Schema):
    code = ma.fields.String(required=True, metadata={"example": "NOT_FOUND"})
    message = ma.fields.String(required=True)
    details = ma.fields.Dict(required=True)


class ErrorSchema(ma.Schema):
    """The error envelope every failing request answers with."""

    error = ma.fields.Nested(ErrorDetailSchema, required=True)
    request_id = ma.fields.String(allow_none=True)
    timestamp = ma.fields.String(required=True)


def envelope(status: int, message: str, code: str | None = None,
             details: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> Response:
    body = {
        "error": {"code": code or CODES.get(status, "ERROR"), "message": message, "details": details or {}},
        "request_id": g.get("request_id"),
        "timestamp": isoformat(utcnow()),
    }
    response = jsonify(body)
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _validation_details(messages: Any) -> dict[str, Any]:
    """webargs nests messages under the location (json, query, ...); clients want field -> messages."""
    if not isinstance(messages, dict):
        return {"_schema": messages}
    details: dict[str, Any] = {}
    for location, fields in messages.items():
        if isinstance(fields, dict):
            details.update(fields)
        else:
            details[location] = fields
    return details


def _http_error(error: HTTPException) -> Response:
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    headers = dict(data.get("headers") or {})
    if status == 422 and "messages" in data:
        return envelope(422, "The request is not valid", details=_validation_details(data["messages"]),
                        headers=headers)
    if status == 400 and "messages" in data:
        return envelope(400, "The request body is not valid JSON", details=_validation_details(data["messages"]))
    if status >= 500:
        log.error("server error", extra={"status": status}, exc_info=error)
    response = envelope(status, data.get("message") or error.description or error.name,
                        code=CODES.get(status, error.name.upper().replace(" ", "_")), headers=headers)
    # Keep headers werkzeug attached (Allow on 405, Retry-After on 429/503).
    for name, value in error.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def _api_error(error: ApiError) -> Response:
    return envelope(error.status, error.message, error.code, error.details, error.headers)


def _unavailable(error: Exception) -> Response:
    log.error("dependency unavailable", extra={"error_type": type(error).__name__}, exc_info=error)
    return envelope(503, "A backing service is unavailable; try again shortly", headers={"Retry-After": "5"})


def _unhandled(error: Exception) -> Response:
    log.exception("unhandled error", exc_info=error)
    return envelope(500, "Internal server error")


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(ApiError, _api_error)
    app.register_error_handler(HTTPException, _http_error)
    for unavailable in (redis.ConnectionError, redis.TimeoutError, BrokerConnectionError,
                        peewee.OperationalError, peewee.InterfaceError):
        app.register_error_handler(unavailable, _unavailable)
    app.register_error_handler(Exception, _unhandled)
