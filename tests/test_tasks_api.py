"""Builds and analyses through the API with no worker running, and the task state machine on the model."""
from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from models.db import db
from models.event import Event
from models.outbox import OutboxMessage
from models.task import Task
from models.user import User
from tests.conftest import create_user
from tests.envelope import assert_envelope

BUILD_FIELDS = {"task_id", "project_name", "ref", "status", "progress", "created_at", "started_at", "finished_at",
                "created_by", "goal", "parameters", "results", "error"}
ANALYSIS_FIELDS = {"analysis_id", "project_name", "status", "progress", "created_at", "performed_by",
                   "quality_score", "security_issues", "code_smells", "type_errors", "coverage_percent",
                   "recommendations", "error"}



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


# --- ownership ----------------------------------------------------------------------------------------------------


def test_someone_elses_build_is_404_not_403_and_not_listed(client: FlaskClient, auth: Any) -> None:
    alice, bob = auth("user", "alice"), auth("user", "bob")
    make_project(client, alice)
    task_id = start_build(client, alice)

    assert_envelope(client.get(f"/api/v1/builds/{task_id}", headers=bob), 404, "NOT_FOUND")
    assert_envelope(client.get(f"/api/v1/builds/{task_id}/logs", headers=bob), 404, "NOT_FOUND")
    assert_envelope(client.delete(f"/api/v1/builds/{task_id}", headers=bob), 404, "NOT_FOUND")
    bobs = client.get("/api/v1/builds", headers=bob).get_json()
    assert bobs["total"] == 0 and bobs["items"] == []

    assert client.get(f"/api/v1/builds/{task_id}", headers=alice).get_json()["status"] == "queued"
    assert [b["task_id"] for b in client.get("/api/v1/builds", headers=alice).get_json()["items"]] == [task_id]


def test_an_admin_sees_and_cancels_every_build(client: FlaskClient, auth: Any) -> None:
    alice, admin = auth("user", "alice"), auth("admin")
    make_project(client, alice)
    task_id = start_build(client, alice)
    listed = client.get("/api/v1/builds", headers=admin).get_json()
    assert listed["total"] == 1 and listed["items"][0]["task_id"] == task_id
    assert listed["items"][0]["created_by"] == "alice"
    found = client.get(f"/api/v1/builds/{task_id}", headers=admin)
    assert found.status_code == 200 and found.get_json()["task_id"] == task_id
    assert client.delete(f"/api/v1/builds/{task_id}", headers=admin).status_code == 200
    assert client.get(f"/api/v1/builds/{task_id}", headers=alice).get_json()["status"] == "cancelled"


@pytest.mark.parametrize("ident", ["not-a-uuid", "123", str(uuid.uuid4())])
def test_an_unknown_or_malformed_build_id_is_404(client: FlaskClient, auth: Any, ident: str) -> None:
    user = auth("user")
    assert_envelope(client.get(f"/api/v1/builds/{ident}", headers=user), 404, "NOT_FOUND")
    assert_envelope(client.get(f"/api/v1/builds/{ident}/logs", headers=user), 404, "NOT_FOUND")
    assert_envelope(client.delete(f"/api/v1/builds/{ident}", headers=user), 404, "NOT_FOUND")


def test_a_build_is_not_reachable_as_an_analysis_nor_the_reverse(client: FlaskClient, auth: Any) -> None:
    user = auth("user")
    make_project(client, user)
    build_id, analysis_id = start_build(client, user), start_analysis(client, user)
    assert_envelope(client.get(f"/api/v1/analyses/{build_id}", headers=user), 404, "NOT_FOUND")
    assert_envelope(client.delete(f"/api/v1/analyses/{build_id}", headers=user), 404, "NOT_FOUND")
    assert_envelope(client.get(f"/api/v1/builds/{analysis_id}", headers=user), 404, "NOT_FOUND")
    assert [b["task_id"] for b in client.get("/api/v1/builds", headers=user).get_json()["items"]] == [build_id]
    assert [a["analysis_id"] for a in client.get("/api/v1/analyses", headers=user).get_json()["items"]] == \
        [analysis_id]
    assert client.get(f"/api/v1/builds/{build_id}", headers=user).get_json()["status"] == "queued"


# --- listing ------------------------------------------------------------------------------------------------------


def test_the_build_list_filters_pages_and_puts_the_newest_first(client: FlaskClient, auth: Any) -> None:
    user = auth("user")
    make_project(client, user, "alpha")
    make_project(client, user, "beta")
    a1 = start_build(client, user, "alpha")
    b1 = start_build(client, user, "beta")
    a2 = start_build(client, user, "alpha")
    b2 = start_build(client, user, "beta")
    assert client.delete(f"/api/v1/builds/{b1}", headers=user).status_code == 200

    everything = client.get("/api/v1/builds", headers=user).get_json()
    assert set(everything) == {"items", "total", "limit", "offset"}
    assert everything["total"] == 4 and everything["limit"] == 20 and everything["offset"] == 0
    assert [b["task_id"] for b in everything["items"]] == [b2, a2, b1, a1]

    cancelled = client.get("/api/v1/builds?status=cancelled", headers=user).get_json()
    assert cancelled["total"] == 1 and [b["task_id"] for b in cancelled["items"]] == [b1]
    queued = client.get("/api/v1/builds?status=queued", headers=user).get_json()
    assert [b["task_id"] for b in queued["items"]] == [b2, a2, a1]
    alpha = client.get("/api/v1/builds?project_name=alpha", headers=user).get_json()
    assert alpha["total"] == 2 and [b["task_id"] for b in alpha["items"]] == [a2, a1]
    beta_queued = client.get("/api/v1/builds?project_name=beta&status=queued", headers=user).get_json()
    assert [b["task_id"] for b in beta_queued["items"]] == [b2]
    assert builds_total(client, user, "?status=running") == 0
    assert builds_total(client, user, "?project_name=gamma") == 0

    first = client.get("/api/v1/builds?limit=3&offset=0", headers=user).get_json()
    rest = client.get("/api/v1/builds?limit=3&offset=3", headers=user).get_json()
    assert first["total"] == rest["total"] == 4
    assert first["limit"] == 3 and rest["offset"] == 3
    assert [b["task_id"] for b in first["items"]] == [b2, a2, b1]
    assert [b["task_id"] for b in rest["items"]] == [a1]
    assert client.get("/api/v1/builds?offset=4", headers=user).get_json()["items"] == []


@pytest.mark.parametrize("query", ["?status=bogus", "?limit=0", "?limit=101", "?offset=-1",
                                   "?project_name=Bad Name"])
def test_bad_list_arguments_are_422(client: FlaskClient, auth: Any, query: str) -> None:
    body = assert_envelope(client.get(f"/api/v1/builds{query}", headers=auth("user")), 422, "VALIDATION_ERROR")
    assert query[1:].split("=")[0] in body["error"]["details"]


# --- logs ---------------------------------------------------------------------------------------------------------


def test_a_queued_build_has_no_log_lines_yet(client: FlaskClient, auth: Any) -> None:
    user = auth("user")
    make_project(client, user)
    task_id = start_build(client, user)
    response = client.get(f"/api/v1/builds/{task_id}/logs", headers=user)
    assert response.status_code == 200
    assert response.get_json() == {"lines": [], "next_offset": 0}
    assert client.get(f"/api/v1/builds/{task_id}/logs?offset=7", headers=user).get_json() == \
        {"lines": [], "next_offset": 7}


@pytest.mark.parametrize(("query", "field"), [("?offset=-1", "offset"), ("?limit=0", "limit"),
                                              ("?limit=5001", "limit"), ("?offset=x", "offset")])
def test_bad_log_arguments_are_422(client: FlaskClient, auth: Any, query: str, field: str) -> None:
    user = auth("user")
    make_project(client, user)
    task_id = start_build(client, user)
    body = assert_envelope(client.get(f"/api/v1/builds/{task_id}/logs{query}", headers=user), 422,
                           "VALIDATION_ERROR")
    assert field in body["error"]["details"]


# --- analyses -----------------------------------------------------------------------------------------------------


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


# --- the state machine on the model -------------------------------------------------------------------------------


@pytest.fixture
def owner(app: Flask) -> User:
    """A user to own tasks made directly on the model; `app` empties the tables afterwards."""
    return create_user("machine")


def new_task(owner: User) -> str:
    with db.connection_context():
        return str(Task.create(kind="build", project_name="p", created_by=owner).id)


def status_of(task_id: str) -> Task:
    with db.connection_context():
        return Task.get_by_id(task_id)


def test_two_racing_claims_have_exactly_one_winner(owner: User) -> None:
    for _ in range(20):
        task_id = new_task(owner)
        barrier = threading.Barrier(2)
        outcomes: dict[str, bool] = {}
        errors: list[BaseException] = []

        def claim(worker: str, task_id: str = task_id, barrier: threading.Barrier = barrier,
                  outcomes: dict[str, bool] = outcomes, errors: list[BaseException] = errors) -> None:
            try:
                with db.connection_context():
                    barrier.wait(timeout=10)
                    outcomes[worker] = Task.claim(task_id, worker)
            except BaseException as error:  # surfaced below, not lost in the thread
                errors.append(error)

        threads = [threading.Thread(target=claim, args=(name,)) for name in ("w1", "w2")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert not errors, errors
        assert sorted(outcomes.values()) == [False, True], outcomes
        winner = next(name for name, won in outcomes.items() if won)
        task = status_of(task_id)
        assert task.status == "running" and task.worker == winner and task.started_at is not None


def test_a_finish_after_a_cancel_loses_and_the_task_stays_cancelled(owner: User) -> None:
    task_id = new_task(owner)
    with db.connection_context():
        assert Task.claim(task_id, "w1") is True
        assert Task.cancel(task_id) == "running"
        assert Task.finish(task_id, "completed", results={"steps": []}) is False
        assert Task.finish(task_id, "failed", error="boom") is False
    task = status_of(task_id)
    assert task.status == "cancelled" and task.results is None and task.progress != 100


def test_a_claim_after_a_cancel_loses(owner: User) -> None:
    task_id = new_task(owner)
    with db.connection_context():
        assert Task.cancel(task_id) == "queued"
        assert Task.claim(task_id, "w1") is False
    task = status_of(task_id)
    assert task.status == "cancelled" and task.worker is None and task.started_at is None


def test_a_cancel_after_completion_returns_none_and_changes_nothing(owner: User) -> None:
    task_id = new_task(owner)
    with db.connection_context():
        assert Task.claim(task_id, "w1") is True
        assert Task.finish(task_id, "completed", results={"ok": True}) is True
        assert Task.cancel(task_id) is None
    task = status_of(task_id)
    assert task.status == "completed" and task.progress == 100 and task.results == {"ok": True}
    assert task.error is None


def test_progress_is_recorded_only_while_running(owner: User) -> None:
    task_id = new_task(owner)
    with db.connection_context():
        assert Task.record_progress(task_id, 10) is False  # still queued
        assert Task.claim(task_id, "w1") is True
        assert Task.record_progress(task_id, 40) is True
        assert Task.finish(task_id, "failed", error="step 'x' exited with code 1") is True
        assert Task.record_progress(task_id, 70) is False
    task = status_of(task_id)
    assert task.status == "failed" and task.progress == 40


def test_a_second_claim_of_a_running_task_and_a_second_finish_lose(owner: User) -> None:
    task_id = new_task(owner)
    with db.connection_context():
        assert Task.claim(task_id, "w1") is True
        assert Task.claim(task_id, "w2") is False
        assert Task.finish(task_id, "completed") is True
        assert Task.finish(task_id, "failed", error="late") is False
    task = status_of(task_id)
    assert task.status == "completed" and task.worker == "w1" and task.error is None
