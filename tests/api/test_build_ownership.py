"""Whose builds are whose: another user's build is 404 and unlisted, an admin sees and cancels every build, and
a build is no analysis."""
from __future__ import annotations

import uuid
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.support.envelope import assert_envelope
from tests.support.tasks import make_project, start_analysis, start_build


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
