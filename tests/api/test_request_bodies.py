"""Every operation that documents a required JSON body refuses a request without one (400 `BAD_REQUEST`),
and one whose body is not declared JSON, and changes nothing. schemathesis found `PUT /alert-rules/{id}`
answering 200 with no body, because webargs read it as an empty (all-optional) update."""
from __future__ import annotations

import re
from typing import Any

import pytest
from flask.testing import FlaskClient

from models.alert import AlertRule
from tests.support.envelope import assert_envelope

# Path parameters: any value of the right type; the body is checked before the object is looked up.
VALUES = {"string": "nothing-here", "integer": "1"}


def body_operations(client: FlaskClient) -> list[tuple[str, str]]:
    spec = client.get("/openapi.json").get_json()
    found = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if isinstance(operation, dict) and operation.get("requestBody", {}).get("required"):
                params = {p["name"]: p for p in operation.get("parameters", []) + operations.get("parameters", [])}

                def fill(match: re.Match[str], params: dict[str, Any] = params) -> str:
                    schema = params[match[1]]["schema"]
                    return VALUES["integer"] if schema.get("type") == "integer" else VALUES["string"]

                found.append((method.upper(), re.sub(r"\{(\w+)\}", fill, path)))
    return found


def test_the_body_operations_are_all_found(client: FlaskClient) -> None:
    operations = body_operations(client)
    assert ("PUT", "/api/v1/alert-rules/1") in operations
    assert ("POST", "/api/v1/builds") in operations
    assert len(operations) >= 20


@pytest.mark.parametrize("how", [{}, {"data": '{"name": "x"}', "content_type": "text/plain"}],
                         ids=["no body", "not declared JSON"])
def test_an_operation_needing_a_body_refuses_a_request_without_one(client: FlaskClient, auth: Any,
                                                                    how: dict[str, str]) -> None:
    admin = auth("admin")
    rule = client.post("/api/v1/alert-rules", headers=admin, json={
        "name": "cpu", "metric": "cpu", "aggregation": "avg", "comparison": "gt", "threshold": 90,
        "window_minutes": 5, "severity": "WARNING"}).get_json()
    before = AlertRule.get_by_id(rule["id"]).updated_at
    for method, path in body_operations(client):
        path = path.replace("/alert-rules/1", f"/alert-rules/{rule['id']}")
        response = client.open(path, method=method, headers=admin, **how)
        assert response.status_code == 400, (method, path, response.status_code, response.get_json())
        assert_envelope(response, 400, "BAD_REQUEST")
    assert AlertRule.get_by_id(rule["id"]).updated_at == before


def test_an_empty_json_object_is_still_a_body(client: FlaskClient, auth: Any) -> None:
    """Optional fields stay optional: `{}` is an update that changes nothing."""
    rule = client.post("/api/v1/alert-rules", headers=auth("user"), json={
        "name": "cpu", "metric": "cpu", "aggregation": "avg", "comparison": "gt", "threshold": 90,
        "window_minutes": 5, "severity": "WARNING"}).get_json()
    response = client.put(f"/api/v1/alert-rules/{rule['id']}", headers=auth("user"), json={})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["threshold"] == 90
