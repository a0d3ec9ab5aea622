"""Starting analyses through the API with no worker running: validation, a queued analysis's shape and outbox
row, ownership and cancellation."""
from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from models.db import db
from models.outbox import OutboxMessage
from tests.support.envelope import assert_envelope
from tests.support.tasks import make_project, outbox_rows, start_analysis, task_rows

ANALYSIS_FIELDS = {"analysis_id", "project_name", "status", "progress", "created_at", "performed_by",
                   "quality_score", "security_issues", "code_smells", "type_errors", "coverage_percent",
                   "recommendations", "error"}


def test_an_analysis_of_an_unknown_project_is_404(client: FlaskClient, auth: Any) -> None:
    user = auth("user")
    assert_envelope(client.post("/api/v1/analyses", headers=user, json={"project_name": "ghost"}), 404, "NOT_FOUND")
    assert task_rows() == 0 and outbox_rows() == 0


def test_an_invalid_analysis_type_is_422(client: FlaskClient, auth: Any) -> None:
    user = auth("user")
    make_project(client, user)
    response = client.post("/api/v1/analyses", headers=user, json={"project_name": "demo", "analysis_types": ["style"]})
    assert "analysis_types" in assert_envelope(response, 422, "VALIDATION_ERROR")["error"]["details"]
    assert task_rows() == 0


def test_a_queued_analysis_has_the_documented_shape(client: FlaskClient, auth: Any) -> None:
    user = auth("user", "alice")
    make_project(client, user)
    analysis_id = start_analysis(client, user, analysis_types=["security"])
    response = client.get(f"/api/v1/analyses/{analysis_id}", headers=user)
    assert response.status_code == 200
    analysis = response.get_json()
    assert set(analysis) >= ANALYSIS_FIELDS
    assert analysis["analysis_id"] == analysis_id and analysis["project_name"] == "demo"
    assert analysis["status"] == "queued" and analysis["progress"] == 0
    assert analysis["performed_by"] == "alice" and analysis["created_at"].endswith("Z")
    assert analysis["quality_score"] is None and analysis["coverage_percent"] is None
    assert analysis["security_issues"] == [] and analysis["recommendations"] == []
    assert analysis["error"] is None
    with db.connection_context():
        rows = [(row.actor_name, row.args) for row in OutboxMessage.select()]
    assert rows == [("run_analysis", [analysis_id])]


def test_someone_elses_analysis_is_404(client: FlaskClient, auth: Any) -> None:
    alice, bob, admin = auth("user", "alice"), auth("user", "bob"), auth("admin")
    make_project(client, alice)
    analysis_id = start_analysis(client, alice)
    assert_envelope(client.get(f"/api/v1/analyses/{analysis_id}", headers=bob), 404, "NOT_FOUND")
    assert_envelope(client.delete(f"/api/v1/analyses/{analysis_id}", headers=bob), 404, "NOT_FOUND")
    assert client.get("/api/v1/analyses", headers=bob).get_json()["total"] == 0
    assert client.get(f"/api/v1/analyses/{analysis_id}", headers=admin).status_code == 200
    assert client.get(f"/api/v1/analyses/{analysis_id}", headers=alice).get_json()["status"] == "queued"


def test_cancelling_a_queued_analysis_then_again_is_409(client: FlaskClient, auth: Any) -> None:
    user = auth("user")
    make_project(client, user)
    analysis_id = start_analysis(client, user)
    response = client.delete(f"/api/v1/analyses/{analysis_id}", headers=user)
    assert response.status_code == 200 and analysis_id in response.get_json()["message"]
    analysis = client.get(f"/api/v1/analyses/{analysis_id}", headers=user).get_json()
    assert analysis["status"] == "cancelled"
    assert_envelope(client.delete(f"/api/v1/analyses/{analysis_id}", headers=user), 409, "CONFLICT")
    listed = client.get("/api/v1/analyses?status=cancelled", headers=user).get_json()
    assert [a["analysis_id"] for a in listed["items"]] == [analysis_id]
