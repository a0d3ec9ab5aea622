"""`/api/v1/analytics/cycle-time`, `/analytics/pull-requests` and `/analytics/pull-requests/{id}/timeline` through
the API: the answers' shapes and figures, one organization's answer cached for its members and dropped by new
activity, another organization's ids answering 404 as if absent, and every bad argument a 422 in the envelope."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from flask.testing import FlaskClient

from domain.engineering.ingest import ingest
from domain.engineering.records import Activity, Person, PullRecord, ReviewRecord
from models.activity import PullRequest
from models.db import db
from models.repository import Repository
from tests.api.test_organizations_and_teams import create_org, team_id
from tests.support.envelope import assert_envelope
from workers.engineering import roll_up_pull_requests

CYCLE, PULLS = "/api/v1/analytics/cycle-time", "/api/v1/analytics/pull-requests"
ADA = Person("github", user_id="1", login="ada", name="Ada")
BOB = Person("github", user_id="2", login="bob", name="Bob")
RANGE = {"start_date": "2026-11-02", "end_date": "2026-11-08"}


def repository(org_id: int) -> Repository:
    with db.connection_context():
        return Repository.create(organization=org_id, name="widgets", url=f"https://github.com/o{org_id}/widgets",
                                 full_name=f"o{org_id}/widgets", provider="github", api_url="https://api.github.com",
                                 hook_secret="hook-secret-for-the-test")


def merged(repo: Repository, number: int, opened: datetime, reviewed: datetime, done: datetime) -> int:
    """A pull request by Ada, reviewed by Bob, merged: its id."""
    with db.connection_context():
        ingest(repo, Activity(
            pulls=[PullRecord(number=number, title="Change", author=ADA, state="merged", opened_at=opened,
                              updated_at=done, merged_at=done, closed_at=done, additions=10, deletions=2)],
            reviews=[ReviewRecord(number, f"r{number}", BOB, "approved", reviewed)]))
        return int(PullRequest.get(PullRequest.repository == repo.id, PullRequest.number == number).id)


def rolled_up(runtime: Any) -> None:
    """The scheduled rollup, run now as the scheduler runs it (its actor, in this process)."""
    with db.connection_context():
        roll_up_pull_requests.fn(runtime)


@pytest.fixture
def acme(client: FlaskClient, auth: Any, runtime: Any) -> dict[str, Any]:
    owner = auth("user", "olivia")
    org = create_org(client, owner, "Acme")["id"]
    repo = repository(org)
    pull = merged(repo, 1, datetime(2026, 11, 2, 9), datetime(2026, 11, 2, 10), datetime(2026, 11, 2, 13))
    rolled_up(runtime)
    return {"owner": owner, "org": org, "repo": repo, "pull": pull}


def test_cycle_time_and_pull_request_metrics_of_an_organization(client: FlaskClient, acme: dict[str, Any]) -> None:
    response = client.get(CYCLE, headers=acme["owner"], query_string={**RANGE, "organization_id": acme["org"]})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["pull_requests"], body["total_cycle_time_hours"]) == (1, 4.0)  # opened 09:00 -> merged 13:00
    assert body["breakdown"] == {"coding_hours": None, "pickup_hours": 1.0, "review_hours": 3.0,
                                 "testing_hours": None, "deployment_hours": None}
    assert body["percentiles"] == {"p50": 4.0, "p75": 4.0, "p90": 4.0}
    assert (body["start_date"], body["end_date"], body["granularity"]) == (
        "2026-11-02T00:00:00.000Z", "2026-11-09T00:00:00.000Z", "weekly")
    metrics = client.get(PULLS, headers=acme["owner"], query_string={**RANGE, "repository_id": acme["repo"].id})
    assert metrics.status_code == 200, metrics.get_json()
    assert metrics.get_json()["time_to_merge_hours"]["p50"] == 4.0
    assert metrics.get_json()["merge_rate"] == {"merged": 1, "closed": 1, "rate": 1.0}


def test_new_activity_shows_once_the_rollup_has_measured_it(client: FlaskClient, acme: dict[str, Any],
                                                             runtime: Any) -> None:
    """The figures answer from the rollup, cached for the organization's members: a pull request stored since
    shows once the scheduled rollup has measured it, which drops the organization's cached figures."""
    query = {**RANGE, "organization_id": acme["org"]}
    assert client.get(CYCLE, headers=acme["owner"], query_string=query).get_json()["pull_requests"] == 1
    merged(acme["repo"], 2, datetime(2026, 11, 3, 9), datetime(2026, 11, 3, 9, 30), datetime(2026, 11, 3, 10))
    assert client.get(CYCLE, headers=acme["owner"], query_string=query).get_json()["pull_requests"] == 1
    rolled_up(runtime)
    body = client.get(CYCLE, headers=acme["owner"], query_string=query).get_json()
    assert (body["pull_requests"], body["total_cycle_time_hours"]) == (2, 2.5)  # 4 h and 1 h


def test_the_timeline_of_a_pull_request(client: FlaskClient, acme: dict[str, Any]) -> None:
    response = client.get(f"{PULLS}/{acme['pull']}/timeline", headers=acme["owner"])
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["stages"] == {"coding": None, "pickup": 1.0, "review": 3.0, "testing": None, "deployment": None,
                              "cycle": 4.0}
    assert [e["event"] for e in body["events"]] == ["opened", "first_review", "merged"]
    assert body["deployment"] is None and body["number"] == 1


def test_another_organizations_ids_answer_404(client: FlaskClient, auth: Any, acme: dict[str, Any]) -> None:
    stranger = auth("user", "stan")
    other = create_org(client, stranger, "Elsewhere")["id"]
    team = team_id(client, acme["owner"], acme["org"], "Core")
    for query in ({"organization_id": acme["org"]}, {"repository_id": acme["repo"].id}, {"team_id": team},
                  {"organization_id": 999_999}):
        assert_envelope(client.get(CYCLE, headers=stranger, query_string={**RANGE, **query}), 404, "NOT_FOUND")
        assert_envelope(client.get(PULLS, headers=stranger, query_string={**RANGE, **query}), 404, "NOT_FOUND")
    assert_envelope(client.get(f"{PULLS}/{acme['pull']}/timeline", headers=stranger), 404, "NOT_FOUND")
    assert_envelope(client.get(f"{PULLS}/999999/timeline", headers=acme["owner"]), 404, "NOT_FOUND")
    # without a scope: their own organizations only (none of Acme's pull requests)
    mine = client.get(CYCLE, headers=stranger, query_string=RANGE).get_json()
    assert mine["pull_requests"] == 0 and mine["trend"] == "no_data"
    assert client.get(CYCLE, headers=stranger, query_string={**RANGE, "organization_id": other}).status_code == 200
    assert client.get(CYCLE, headers=auth("admin"), query_string=RANGE).get_json()["pull_requests"] == 1


@pytest.mark.parametrize(("query", "field"), [
    ({"end_date": "2026-11-07"}, "start_date"), ({"start_date": "2026-11-01"}, "end_date"),
    ({"start_date": "2026-11-07", "end_date": "2026-11-01"}, "end_date"),
    ({"start_date": "2024-01-01", "end_date": "2026-01-02"}, "end_date"),  # over two years
    ({**RANGE, "granularity": "hourly"}, "granularity"), ({**RANGE, "team_id": "x"}, "team_id"),
    ({**RANGE, "repository_id": "0"}, "repository_id"), ({**RANGE, "developer_id": str(2**31)}, "developer_id"),
    ({**RANGE, "include_bots": "maybe"}, "include_bots"),
])
def test_bad_arguments_are_422_in_the_envelope(client: FlaskClient, auth: Any, query: dict[str, str],
                                               field: str) -> None:
    response = client.get(CYCLE, headers=auth("user"), query_string=query)
    assert field in assert_envelope(response, 422, "VALIDATION_ERROR")["error"]["details"]
    if field != "granularity":  # the pull request metrics take no granularity
        response = client.get(PULLS, headers=auth("user"), query_string=query)
        assert field in assert_envelope(response, 422, "VALIDATION_ERROR")["error"]["details"]


def test_dora_by_organization_team_or_repository_is_checked_like_the_rest(
        client: FlaskClient, auth: Any, acme: dict[str, Any]) -> None:
    dora = "/api/v1/analytics/dora-metrics"
    team = team_id(client, acme["owner"], acme["org"], "Core")
    for query in ({"organization_id": acme["org"]}, {"team_id": team}, {"repository_id": acme["repo"].id}):
        response = client.get(dora, headers=acme["owner"], query_string={**RANGE, **query})
        assert response.status_code == 200, response.get_json()
        assert response.get_json()["deployment_frequency"]["deployments"] == 0  # no CI source yet
        assert_envelope(client.get(dora, headers=auth("user", "stan"), query_string={**RANGE, **query}), 404,
                        "NOT_FOUND")
    for field in ("organization_id", "team_id", "repository_id"):
        response = client.get(dora, headers=acme["owner"], query_string={**RANGE, field: "0"})
        assert field in assert_envelope(response, 422, "VALIDATION_ERROR")["error"]["details"]


def test_one_rollup_runs_at_a_time(runtime: Any, acme: dict[str, Any]) -> None:
    """A second run while one holds the job's lock (another scheduler tick, another worker) does nothing."""
    held = runtime.redis.lock("conveyor:lock:roll_up_pull_requests", timeout=60)
    assert held.acquire(blocking=False)
    try:
        with db.connection_context():
            assert roll_up_pull_requests.fn(runtime) == {"skipped": "another run is in progress"}
    finally:
        held.release()
    with db.connection_context():
        assert "skipped" not in roll_up_pull_requests.fn(runtime)
