from __future__ import annotations

from flask.testing import FlaskClient


def test_health_answers_with_version_and_utc_timestamp(client: FlaskClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "healthy" and body["timestamp"].endswith("Z")
