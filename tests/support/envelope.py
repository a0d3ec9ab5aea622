"""The one check of the common error envelope that every API test uses."""
from __future__ import annotations

from typing import Any


def assert_envelope(response: Any, status: int, code: str) -> dict[str, Any]:
    """The response is the error envelope with this status and code; returns the whole body."""
    assert response.status_code == status, response.get_data(as_text=True)
    body: dict[str, Any] = response.get_json()
    assert set(body) == {"error", "request_id", "timestamp"}, body
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["details"], dict)
    assert body["timestamp"].endswith("Z")
    assert body["request_id"] == response.headers["X-Request-ID"]
    return body


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    """As assert_envelope; returns the `error` part."""
    error: dict[str, Any] = assert_envelope(response, status, code)["error"]
    return error
