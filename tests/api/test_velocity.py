"""`/api/v1/teams/{id}/sprints` and `/api/v1/analytics/velocity` through the API: sprints created, listed beside
the milestones' and deleted by the team's owners only; velocity's answer for the team, cached for the
organization and refreshed by a new sprint; every bad argument a 422 in the envelope, changing nothing."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from flask.testing import FlaskClient

from domain.engineering.ingest import ingest
from domain.engineering.records import Activity, IssueRecord, MilestoneRecord, Person
from models.db import db
from models.repository import Repository
from models.sprints import Sprint
from tests.api.test_organizations_and_teams import create_org, put_members, team_id, user_id
from tests.support.envelope import assert_envelope

VELOCITY = "/api/v1/analytics/velocity"
ADA = Person("github", user_id="1", login="ada", name="Ada")
MARCH = MilestoneRecord("10", "Sprint 1", "closed", datetime(2026, 3, 13, 8), opened_at=datetime(2026, 3, 2, 9))


def sprints(team: int) -> str:
    return f"/api/v1/teams/{team}/sprints"


@pytest.fixture
def acme(client: FlaskClient, auth: Any) -> dict[str, Any]:
    """A team whose repository had a sprint in March: 5 points planned, 3 of them completed."""
    owner = auth("user", "olivia")
    org = create_org(client, owner, "Acme")["id"]
    team = team_id(client, owner, org, "Platform")
    with db.connection_context():
        repo = Repository.create(organization=org, team=team, name="widgets", url="https://github.com/acme/widgets",
                                 full_name="acme/widgets", provider="github", api_url="https://api.github.com",
                                 hook_secret="hook-secret-for-the-test")
        ingest(repo, Activity(issues=[
            IssueRecord(1, "One", ADA, "closed", datetime(2026, 3, 1), datetime(2026, 3, 4), datetime(2026, 3, 4),
                        MARCH, 3),
            IssueRecord(2, "Two", ADA, "open", datetime(2026, 3, 1), datetime(2026, 3, 1), None, MARCH, 2)]))
    return {"owner": owner, "org": org, "team": team}


def test_velocity_of_a_teams_sprints(client: FlaskClient, acme: dict[str, Any]) -> None:
    response = client.get(f"{VELOCITY}?team_id={acme['team']}", headers=acme["owner"])
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    [sprint] = body["sprints"]
    assert {k: sprint[k] for k in ("name", "start_date", "end_date", "planned_points", "completed_points",
                                   "velocity", "completion_rate", "source", "state")} == {
        "name": "Sprint 1", "start_date": "2026-03-02", "end_date": "2026-03-13", "planned_points": 5,
        "completed_points": 3, "velocity": 3, "completion_rate": 0.6, "source": "milestone", "state": "closed"}
    assert sprint["sprint_id"].startswith("milestone-")
    assert (body["average_velocity"], body["trend"], body["no_data"]) == (3.0, "no_data", False)


def test_a_sprint_created_for_the_team_is_listed_counted_and_deleted(
        client: FlaskClient, acme: dict[str, Any]) -> None:
    owner, team = acme["owner"], acme["team"]
    assert len(client.get(f"{VELOCITY}?team_id={team}", headers=owner).get_json()["sprints"]) == 1  # now cached
    created = client.post(sprints(team), headers=owner, json={
        "name": "Sprint 0", "start_date": "2026-02-16", "end_date": "2026-02-27", "milestone_title": "Nothing"})
    assert created.status_code == 201, created.get_json()
    sprint = created.get_json()
    assert sprint == {"sprint_id": sprint["sprint_id"], "name": "Sprint 0", "source": "team",
                      "milestone_title": "Nothing", "start_date": "2026-02-16", "end_date": "2026-02-27"}
    listed = client.get(sprints(team), headers=owner).get_json()
    assert [(s["name"], s["source"]) for s in listed["items"]] == [("Sprint 0", "team"), ("Sprint 1", "milestone")]
    after = client.get(f"{VELOCITY}?team_id={team}", headers=owner).get_json()  # the new sprint dropped the cache
    assert [(s["name"], s["planned_points"]) for s in after["sprints"]] == [("Sprint 0", 0), ("Sprint 1", 5)]
    assert client.delete(f"{sprints(team)}/{sprint['sprint_id']}", headers=owner).status_code == 204
    assert_envelope(client.delete(f"{sprints(team)}/{sprint['sprint_id']}", headers=owner), 404, "NOT_FOUND")
    assert_envelope(client.delete(f"{sprints(team)}/{listed['items'][1]['sprint_id']}", headers=owner),
                    404, "NOT_FOUND")  # a milestone's sprint is not deleted here


def test_a_sprint_named_like_a_milestone_gives_it_its_dates(client: FlaskClient, acme: dict[str, Any]) -> None:
    owner, team = acme["owner"], acme["team"]
    body = {"name": "Sprint 1", "start_date": "2026-03-04", "end_date": "2026-03-17"}
    assert client.post(sprints(team), headers=owner, json=body).status_code == 201
    [sprint] = client.get(f"{VELOCITY}?team_id={team}", headers=owner).get_json()["sprints"]
    # Planned at the end of March 4th: #2 only, #1 was closed by then; completed: #1, closed on the 4th.
    assert (sprint["source"], sprint["start_date"], sprint["planned_points"], sprint["completed_points"]) == (
        "team", "2026-03-04", 2, 3)
    assert_envelope(client.post(sprints(team), headers=owner, json=body), 409, "CONFLICT")
    same_milestone = {**body, "name": "Sprint 1 again", "milestone_title": "SPRINT 1"}  # titles match in any case
    assert_envelope(client.post(sprints(team), headers=owner, json=same_milestone), 409, "CONFLICT")
    with db.connection_context():
        assert Sprint.select().count() == 1


@pytest.mark.parametrize("body", [
    pytest.param({"name": "S", "start_date": "2026-03-10", "end_date": "2026-03-09"}, id="ends-before-it-starts"),
    pytest.param({"name": "S", "start_date": "2026-03-10", "end_date": "2026-06-10"}, id="longer-than-a-quarter"),
    pytest.param({"name": " S", "start_date": "2026-03-10", "end_date": "2026-03-20"}, id="padded-name"),
    pytest.param({"name": "", "start_date": "2026-03-10", "end_date": "2026-03-20"}, id="blank-name"),
    pytest.param({"name": "S\n", "start_date": "2026-03-10", "end_date": "2026-03-20"}, id="control-character"),
    pytest.param({"name": "S", "start_date": "2026-02-30", "end_date": "2026-03-20"}, id="no-such-day"),
    pytest.param({"name": "S", "start_date": "2026-03-10"}, id="no-end"),
    pytest.param({"name": "S", "start_date": "2026-03-10", "end_date": "2026-03-20", "points": 3},
                 id="unknown-field"),
])
def test_a_bad_sprint_is_refused_and_nothing_is_created(
        client: FlaskClient, acme: dict[str, Any], body: dict[str, Any]) -> None:
    assert_envelope(client.post(sprints(acme["team"]), headers=acme["owner"], json=body), 422, "VALIDATION_ERROR")
    with db.connection_context():
        assert Sprint.select().count() == 0


@pytest.mark.parametrize("query", ["", "team_id=abc", "team_id=0", "team_id={team}&sprint_count=0",
                                   "team_id={team}&sprint_count=53", "team_id={team}&sprint_count=x"])
def test_bad_velocity_arguments_answer_422(client: FlaskClient, acme: dict[str, Any], query: str) -> None:
    response = client.get(f"{VELOCITY}?{query.format(team=acme['team'])}", headers=acme["owner"])
    assert_envelope(response, 422, "VALIDATION_ERROR")


def test_members_read_the_sprints_and_only_owners_change_them(
        client: FlaskClient, auth: Any, acme: dict[str, Any]) -> None:
    member = auth("user", "mel")
    assert put_members(client, acme["owner"], acme["org"], (user_id(client, acme["owner"]), "owner"),
                       (user_id(client, member), "member")).status_code == 200
    assert client.get(sprints(acme["team"]), headers=member).status_code == 200
    assert client.get(f"{VELOCITY}?team_id={acme['team']}", headers=member).status_code == 200
    body = {"name": "Mine", "start_date": "2026-03-10", "end_date": "2026-03-20"}
    assert_envelope(client.post(sprints(acme["team"]), headers=member, json=body), 403, "FORBIDDEN")
    assert_envelope(client.get(f"{VELOCITY}?team_id=999999", headers=member), 404, "NOT_FOUND")
