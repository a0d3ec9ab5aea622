"""Helpers of the build and analysis API tests with no worker running (tests/api/test_build_*.py,
test_analysis_requests.py): a project whose build does nothing, builds and analyses queued, rows counted."""
from __future__ import annotations

import uuid
from typing import Any

from flask.testing import FlaskClient

from models.db import db
from models.outbox import OutboxMessage
from models.task import Task


def make_project(client: FlaskClient, headers: dict[str, str], name: str = "demo") -> None:
    response = client.post("/api/v1/projects", headers=headers, json={
        "name": name, "repo_url": "/srv/git/demo", "build_steps": [{"name": "noop", "run": "true"}]})
    assert response.status_code == 201, response.get_json()


def start_build(client: FlaskClient, headers: dict[str, str], project: str = "demo", **body: Any) -> str:
    response = client.post("/api/v1/builds", headers=headers, json={"project_name": project, **body})
    assert response.status_code == 202, response.get_json()
    accepted = response.get_json()
    assert accepted["status"] == "queued" and project in accepted["message"]
    uuid.UUID(accepted["task_id"])
    return str(accepted["task_id"])


def start_analysis(client: FlaskClient, headers: dict[str, str], project: str = "demo", **body: Any) -> str:
    response = client.post("/api/v1/analyses", headers=headers, json={"project_name": project, **body})
    assert response.status_code == 202, response.get_json()
    accepted = response.get_json()
    assert set(accepted) == {"analysis_id", "status"} and accepted["status"] == "queued"
    uuid.UUID(accepted["analysis_id"])
    return str(accepted["analysis_id"])


def task_rows() -> int:
    with db.connection_context():
        return int(Task.select().count())


def outbox_rows() -> int:
    with db.connection_context():
        return int(OutboxMessage.select().count())


def builds_total(client: FlaskClient, headers: dict[str, str], query: str = "") -> int:
    response = client.get(f"/api/v1/builds{query}", headers=headers)
    assert response.status_code == 200, response.get_json()
    return int(response.get_json()["total"])
