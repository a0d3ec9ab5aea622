"""The builds list (filters, paging, newest first) and a build's log lines, with their arguments checked."""
from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.support.envelope import assert_envelope
from tests.support.tasks import builds_total, make_project, start_build

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
