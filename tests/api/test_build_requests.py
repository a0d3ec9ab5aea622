"""Starting builds through the API with no worker running: validation and permissions, and a queued build's
shape, outbox row and cancellation."""
from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from models.db import db
from models.event import Event
from models.outbox import OutboxMessage
from models.task import Task
from tests.support.envelope import assert_envelope
from tests.support.tasks import builds_total, make_project, outbox_rows, start_build, task_rows

BUILD_FIELDS = {"task_id", "project_name", "ref", "status", "progress", "created_at", "started_at", "finished_at",
                "created_by", "goal", "parameters", "results", "error"}


# --- creating builds ----------------------------------------------------------------------------------------------


def test_a_build_of_an_unknown_project_is_404_and_nothing_is_queued(client: FlaskClient, auth: Any) -> None:
    user = auth("user")
    body = assert_envelope(client.post("/api/v1/builds", headers=user, json={"project_name": "ghost"}),
                           404, "NOT_FOUND")
    assert "ghost" in body["error"]["message"]
    assert builds_total(client, user) == 0
    assert task_rows() == 0 and outbox_rows() == 0


INVALID_BUILDS: list[tuple[str, dict[str, Any], str]] = [
    ("lowercase parameter key", {"parameters": {"lower": "x"}}, "parameters"),
    ("parameter key starting with a digit", {"parameters": {"1X": "x"}}, "parameters"),
    ("parameter key with a dash", {"parameters": {"HAS-DASH": "x"}}, "parameters"),
    ("parameter value over 4096", {"parameters": {"BIG": "x" * 4097}}, "parameters"),
    ("51 parameters", {"parameters": {f"P{i}": "x" for i in range(51)}}, "parameters"),
    ("ref ..", {"ref": ".."}, "ref"),
    ("ref with a space", {"ref": "a b"}, "ref"),
    ("ref starting with a dash", {"ref": "-x"}, "ref"),
    ("goal over 500", {"goal": "g" * 501}, "goal"),
    ("unknown field", {"priority": 1}, "priority"),
    # Keys are `^[A-Z][A-Z0-9_]{0,63}$` by contract: a trailing newline is not part of one, nor of a ref.
    ("parameter key with a newline", {"parameters": {"KEY\n": "x"}}, "parameters"),
    ("ref with a newline", {"ref": "main\n"}, "ref"),
]


@pytest.mark.parametrize(("overrides", "field"), [(o, f) for _, o, f in INVALID_BUILDS],
                         ids=[i for i, _, _ in INVALID_BUILDS])
def test_an_invalid_build_request_is_422_naming_the_field_and_queues_nothing(
        client: FlaskClient, auth: Any, overrides: dict[str, Any], field: str) -> None:
    user = auth("user")
    make_project(client, user)
    response = client.post("/api/v1/builds", headers=user, json={"project_name": "demo", **overrides})
    body = assert_envelope(response, 422, "VALIDATION_ERROR")
    assert body["error"]["details"].get(field), body
    assert builds_total(client, user) == 0
    assert task_rows() == 0 and outbox_rows() == 0


def test_build_limits_themselves_are_accepted(client: FlaskClient, auth: Any) -> None:
    """The 422 cases above sit just past these limits."""
    user = auth("user")
    make_project(client, user)
    params = {f"P{i}": "x" for i in range(49)} | {"BIG": "v" * 4096}
    task_id = start_build(client, user, parameters=params, ref="release/1.0", goal="g" * 500)
    build = client.get(f"/api/v1/builds/{task_id}", headers=user).get_json()
    assert build["parameters"] == params and build["ref"] == "release/1.0"


def test_a_viewer_cannot_start_or_cancel_a_build(client: FlaskClient, auth: Any) -> None:
    admin, viewer = auth("admin"), auth("viewer")
    make_project(client, admin)
    assert_envelope(client.post("/api/v1/builds", headers=viewer, json={"project_name": "demo"}),
                    403, "FORBIDDEN")
    assert task_rows() == 0 and outbox_rows() == 0
    task_id = start_build(client, admin)
    assert_envelope(client.delete(f"/api/v1/builds/{task_id}", headers=viewer), 403, "FORBIDDEN")
    assert client.get(f"/api/v1/builds/{task_id}", headers=admin).get_json()["status"] == "queued"


def test_unauthenticated_build_requests_are_401(client: FlaskClient, auth: Any) -> None:
    user = auth("user")
    make_project(client, user)
    task_id = start_build(client, user)
    assert_envelope(client.post("/api/v1/builds", json={"project_name": "demo"}), 401, "UNAUTHORIZED")
    for method, path in (("GET", "/api/v1/builds"), ("GET", f"/api/v1/builds/{task_id}"),
                         ("GET", f"/api/v1/builds/{task_id}/logs"), ("DELETE", f"/api/v1/builds/{task_id}")):
        assert_envelope(client.open(path, method=method), 401, "UNAUTHORIZED")
    assert task_rows() == 1
    assert client.get(f"/api/v1/builds/{task_id}", headers=user).get_json()["status"] == "queued"


# --- a queued build, with no worker to run it ---------------------------------------------------------------------


def test_a_build_stays_queued_without_a_worker_and_has_the_documented_shape(client: FlaskClient, auth: Any) -> None:
    user = auth("user", "alice")
    make_project(client, user)
    task_id = start_build(client, user, ref="main", goal="nightly", parameters={"GREETING": "hi"})
    response = client.get(f"/api/v1/builds/{task_id}", headers=user)
    assert response.status_code == 200
    build = response.get_json()
    assert set(build) == BUILD_FIELDS
    assert build["task_id"] == task_id and build["project_name"] == "demo" and build["ref"] == "main"
    assert build["status"] == "queued" and build["progress"] == 0
    assert build["created_at"].endswith("Z")
    assert build["started_at"] is None and build["finished_at"] is None
    assert build["created_by"] == "alice" and build["goal"] == "nightly"
    assert build["parameters"] == {"GREETING": "hi"}
    assert build["results"] is None and build["error"] is None


def test_a_build_without_ref_goal_or_parameters_shows_them_empty(client: FlaskClient, auth: Any) -> None:
    user = auth("user")
    make_project(client, user)
    build = client.get(f"/api/v1/builds/{start_build(client, user)}", headers=user).get_json()
    assert build["ref"] is None and build["goal"] is None and build["parameters"] == {}


def test_a_queued_build_has_its_outbox_row(client: FlaskClient, auth: Any) -> None:
    user = auth("user")
    make_project(client, user)
    task_id = start_build(client, user)
    with db.connection_context():
        rows = list(OutboxMessage.select())
    assert [(row.actor_name, row.args) for row in rows] == [("run_build", [task_id])]
    assert rows[0].status == "pending"


def test_cancelling_a_queued_build_then_again_is_409(client: FlaskClient, auth: Any) -> None:
    user = auth("user")
    make_project(client, user)
    task_id = start_build(client, user)

    response = client.delete(f"/api/v1/builds/{task_id}", headers=user)
    assert response.status_code == 200, response.get_json()
    assert set(response.get_json()) == {"message"} and task_id in response.get_json()["message"]
    build = client.get(f"/api/v1/builds/{task_id}", headers=user).get_json()
    assert build["status"] == "cancelled"
    assert build["finished_at"] is not None and build["finished_at"].endswith("Z")
    assert build["started_at"] is None

    assert_envelope(client.delete(f"/api/v1/builds/{task_id}", headers=user), 409, "CONFLICT")
    assert client.get(f"/api/v1/builds/{task_id}", headers=user).get_json()["status"] == "cancelled"
    with db.connection_context():
        events = [(e.type, e.data.get("task_id")) for e in Event.select().order_by(Event.id)]
    assert events == [("build.cancelled", task_id)]


def test_a_cancelled_build_is_not_claimable(client: FlaskClient, auth: Any) -> None:
    user = auth("user")
    make_project(client, user)
    task_id = start_build(client, user)
    assert client.delete(f"/api/v1/builds/{task_id}", headers=user).status_code == 200
    with db.connection_context():
        assert Task.claim(task_id, "late-worker") is False
    assert client.get(f"/api/v1/builds/{task_id}", headers=user).get_json()["status"] == "cancelled"
