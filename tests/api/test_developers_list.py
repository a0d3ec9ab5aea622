"""`GET /api/v1/developers`: people by name with their figures of the last 30 days and their first team; bots left
out unless asked for; narrowed by organization and team; paged; only the organizations one belongs to."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask.testing import FlaskClient

from domain.engineering.ingest import ingest
from domain.engineering.records import Activity, CommitRecord, Person
from models.db import db, utc_naive
from models.repository import Repository
from tests.api.test_organizations_and_teams import create_org, team_id

DEVS = "/api/v1/developers"
ADA = Person("github", user_id="1", login="ada", name="Ada")
BOB = Person("github", user_id="2", login="bob", name="Bob")
BOT = Person("github", user_id="3", login="renovate[bot]", name="renovate[bot]", bot=True)


def commit(n: int, author: Person, days_ago: float, additions: int = 10) -> CommitRecord:
    when = utc_naive() - timedelta(days=days_ago)
    return CommitRecord(f"{n:040x}", author, when, when, "Change", additions, 1)


def stored(org_id: int, *commits: CommitRecord) -> None:
    with db.connection_context():
        repo = Repository.create(organization=org_id, name="widgets", url=f"https://github.com/o{org_id}/widgets",
                                 full_name=f"o{org_id}/widgets", provider="github", api_url="https://api.github.com",
                                 hook_secret="hook-secret-for-the-test")
        ingest(repo, Activity(commits=list(commits)))


def listed(client: FlaskClient, headers: dict[str, str], query: str) -> dict[str, Any]:
    response = client.get(f"{DEVS}?{query}", headers=headers)
    assert response.status_code == 200, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def test_the_list_shows_each_persons_figures_and_first_team_and_leaves_bots_out(
        client: FlaskClient, auth: Any) -> None:
    owner = auth("user", username="olivia")
    org = create_org(client, owner, "Acme")["id"]
    stored(org, commit(1, ADA, 1), commit(2, ADA, 2, additions=5), commit(3, ADA, 45), commit(4, BOB, 3),
           commit(5, BOT, 1))
    names = {d["name"]: d["id"] for d in listed(client, owner, f"organization_id={org}&include_bots=true")["items"]}
    assert list(names) == ["Ada", "Bob", "renovate[bot]"]
    core, web = team_id(client, owner, org, "Core"), team_id(client, owner, org, "Web")
    for team, members in ((web, [names["Bob"]]), (core, [names["Bob"], names["Ada"]])):
        response = client.put(f"/api/v1/teams/{team}/members", headers=owner, json={"developer_ids": members})
        assert response.status_code == 200, response.get_json()
    body = listed(client, owner, f"organization_id={org}")
    assert (body["total"], body["limit"], body["offset"]) == (2, 100, 0)
    ada, bob = body["items"]
    assert ada == {"id": names["Ada"], "name": "Ada", "email": None, "organization_id": org, "team_id": core,
                   "is_bot": False, "metrics": {"commits_last_30d": 2, "prs_opened": 0, "prs_merged": 0,
                                                "prs_reviewed": 0, "lines_added": 15, "lines_deleted": 2}}
    assert (bob["team_id"], bob["metrics"]["commits_last_30d"]) == (min(core, web), 1)  # the first team
    assert [d["name"] for d in listed(client, owner, f"team_id={web}")["items"]] == ["Bob"]
    second = listed(client, owner, "limit=1&offset=1")  # across the caller's organizations, computed every time
    assert ([d["name"] for d in second["items"]], second["total"]) == (["Bob"], 2)
    bots = listed(client, owner, "include_bots=true&skip=2")
    assert [(d["name"], d["is_bot"], d["metrics"]["commits_last_30d"]) for d in bots["items"]] == [
        ("renovate[bot]", True, 1)]


def test_a_user_lists_only_the_developers_of_their_organizations(client: FlaskClient, auth: Any) -> None:
    olivia, oscar = auth("user", username="olivia"), auth("user", username="oscar")
    stored(create_org(client, olivia, "Acme")["id"], commit(1, ADA, 1))
    stored(create_org(client, oscar, "Bolt")["id"], commit(2, BOB, 1))
    assert [d["name"] for d in listed(client, olivia, "")["items"]] == ["Ada"]
    assert [d["name"] for d in listed(client, oscar, "")["items"]] == ["Bob"]
    assert [d["name"] for d in listed(client, auth("admin"), "")["items"]] == ["Ada", "Bob"]
