"""Organizations and teams (seed 002, engineering intelligence): who sees and changes an organization (its
members see it, its owners change it, anyone else gets 404 as if it did not exist, admins see all), its member
list (always with an owner), and its teams (nested without cycles, an `external_id` unique per organization)."""
from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from models.db import db
from models.developer import Developer
from tests.support.auth import user_id
from tests.support.envelope import assert_error

ORGS = "/api/v1/organizations"
TEAMS = "/api/v1/teams"


def create_org(client: FlaskClient, headers: dict[str, str], name: str = "Acme", **body: Any) -> dict[str, Any]:
    response = client.post(ORGS, headers=headers, json={"name": name, **body})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def put_members(client: FlaskClient, headers: dict[str, str], org_id: int, *members: tuple[int, str]) -> Any:
    return client.put(f"{ORGS}/{org_id}/members", headers=headers,
                      json={"members": [{"user_id": uid, "role": role} for uid, role in members]})


def members_of(client: FlaskClient, headers: dict[str, str], org_id: int) -> list[tuple[int, str]]:
    response = client.get(f"{ORGS}/{org_id}/members", headers=headers)
    assert response.status_code == 200, response.get_json()
    return sorted((m["user_id"], m["role"]) for m in response.get_json()["members"])


def create_team(client: FlaskClient, headers: dict[str, str], org_id: int, name: str, **body: Any) -> Any:
    return client.post(TEAMS, headers=headers, json={"organization_id": org_id, "name": name, **body})


def team_id(client: FlaskClient, headers: dict[str, str], org_id: int, name: str, **body: Any) -> int:
    response = create_team(client, headers, org_id, name, **body)
    assert response.status_code == 201, response.get_json()
    return int(response.get_json()["id"])


def parent_of(client: FlaskClient, headers: dict[str, str], team: int) -> int | None:
    response = client.get(f"{TEAMS}/{team}", headers=headers)
    assert response.status_code == 200, response.get_json()
    parent: int | None = response.get_json()["parent_team_id"]
    return parent


def developer(org_id: int, name: str) -> int:
    with db.connection_context():
        return int(Developer.create(organization=org_id, name=name).id)


# Organizations --------------------------------------------------------------------------------------------

def test_the_creator_owns_a_new_organization_with_default_settings(client: FlaskClient, auth: Any) -> None:
    # given
    owner = auth("user", username="olivia")
    # when
    created = create_org(client, owner, "Acme", description="Widgets that fly")
    # then
    assert created["role"] == "owner"
    assert created["settings"] == {"timezone": "UTC", "default_language": "en"}
    assert (created["name"], created["description"]) == ("Acme", "Widgets that fly")
    shown = client.get(f"{ORGS}/{created['id']}", headers=owner).get_json()
    assert shown["role"] == "owner" and shown["settings"] == created["settings"]
    assert members_of(client, owner, created["id"]) == [(user_id(client, owner), "owner")]


def test_partial_settings_are_completed_with_the_defaults(client: FlaskClient, auth: Any) -> None:
    created = create_org(client, auth("user"), settings={"timezone": "Europe/Paris"})
    assert created["settings"] == {"timezone": "Europe/Paris", "default_language": "en"}


@pytest.mark.parametrize("settings", [
    pytest.param({"timezone": "Mars/Olympus"}, id="unknown-timezone"),
    pytest.param({"default_language": "english please"}, id="bad-language"),
    pytest.param({"colour": "red"}, id="unknown-setting"),
])
def test_invalid_settings_are_refused_and_nothing_is_created(
        client: FlaskClient, auth: Any, settings: dict[str, Any]) -> None:
    owner = auth("user")
    error = assert_error(client.post(ORGS, headers=owner, json={"name": "Acme", "settings": settings}),
                         422, "VALIDATION_ERROR")
    assert "settings" in error["details"]
    assert client.get(ORGS, headers=owner).get_json()["total"] == 0


def test_a_bad_timezone_in_an_update_is_refused_and_the_settings_stay(client: FlaskClient, auth: Any) -> None:
    owner = auth("user")
    org = create_org(client, owner)
    response = client.put(f"{ORGS}/{org['id']}", headers=owner, json={"settings": {"timezone": "Mars/Olympus"}})
    assert_error(response, 422, "VALIDATION_ERROR")
    assert client.get(f"{ORGS}/{org['id']}", headers=owner).get_json()["settings"]["timezone"] == "UTC"


def test_a_member_sees_the_organization_but_cannot_change_or_delete_it(client: FlaskClient, auth: Any) -> None:
    # given: mia is made a member of olivia's organization
    owner, member = auth("user", username="olivia"), auth("user", username="mia")
    org = create_org(client, owner)
    assert put_members(client, owner, org["id"], (user_id(client, owner), "owner"),
                       (user_id(client, member), "member")).status_code == 200
    # when
    shown = client.get(f"{ORGS}/{org['id']}", headers=member)
    listed = client.get(ORGS, headers=member).get_json()
    changed = client.put(f"{ORGS}/{org['id']}", headers=member, json={"name": "Mine now"})
    deleted = client.delete(f"{ORGS}/{org['id']}", headers=member)
    # then
    assert shown.status_code == 200 and shown.get_json()["role"] == "member"
    assert [(o["id"], o["role"]) for o in listed["items"]] == [(org["id"], "member")]
    assert_error(changed, 403, "FORBIDDEN")
    assert_error(deleted, 403, "FORBIDDEN")
    assert client.get(f"{ORGS}/{org['id']}", headers=owner).get_json()["name"] == "Acme"


def test_an_outsider_gets_404_and_does_not_see_the_organization_listed(client: FlaskClient, auth: Any) -> None:
    owner, outsider = auth("user", username="olivia"), auth("user", username="oscar")
    org = create_org(client, owner)
    for method in ("get", "put", "delete"):
        response = getattr(client, method)(f"{ORGS}/{org['id']}", headers=outsider, json={"name": "x"})
        assert_error(response, 404, "NOT_FOUND")
    assert_error(client.get(f"{ORGS}/{org['id']}/members", headers=outsider), 404, "NOT_FOUND")
    assert client.get(ORGS, headers=outsider).get_json() == {"items": [], "total": 0, "limit": 100, "offset": 0}
    assert client.get(f"{ORGS}/{org['id']}", headers=owner).get_json()["name"] == "Acme"


def test_the_owner_updates_and_deletes_the_organization(client: FlaskClient, auth: Any) -> None:
    owner = auth("user")
    org = create_org(client, owner)
    updated = client.put(f"{ORGS}/{org['id']}", headers=owner,
                         json={"name": "Acme Corp", "settings": {"timezone": "Asia/Tokyo", "default_language": "ja"}})
    assert updated.status_code == 200, updated.get_json()
    assert updated.get_json()["name"] == "Acme Corp"
    assert updated.get_json()["settings"] == {"timezone": "Asia/Tokyo", "default_language": "ja"}
    assert client.delete(f"{ORGS}/{org['id']}", headers=owner).status_code == 204
    assert_error(client.get(f"{ORGS}/{org['id']}", headers=owner), 404, "NOT_FOUND")


def test_deleting_an_organization_deletes_its_teams_and_developers(client: FlaskClient, auth: Any) -> None:
    owner = auth("user")
    org, kept = create_org(client, owner, "Acme"), create_org(client, owner, "Bolt")
    team, other_team = team_id(client, owner, org["id"], "Platform"), team_id(client, owner, kept["id"], "Bolts")
    ada, zed = developer(org["id"], "Ada"), developer(kept["id"], "Zed")
    assert client.delete(f"{ORGS}/{org['id']}", headers=owner).status_code == 204
    assert_error(client.get(f"{TEAMS}/{team}", headers=owner), 404, "NOT_FOUND")
    assert [t["id"] for t in client.get(TEAMS, headers=owner).get_json()["items"]] == [other_team]
    with db.connection_context():
        assert [d.id for d in Developer.select().order_by(Developer.id)] == [zed]
    assert ada != zed


def test_an_admin_sees_and_owns_every_organization(client: FlaskClient, auth: Any) -> None:
    # given: two organizations the admin is no member of
    olivia, oscar, admin = auth("user", username="olivia"), auth("user", username="oscar"), auth("admin")
    first, second = create_org(client, olivia, "Acme"), create_org(client, oscar, "Bolt")
    # when
    listed = client.get(ORGS, headers=admin).get_json()
    # then
    assert [(o["id"], o["role"]) for o in listed["items"]] == [(first["id"], "owner"), (second["id"], "owner")]
    assert listed["total"] == 2
    assert client.get(ORGS, headers=olivia).get_json()["total"] == 1
    renamed = client.put(f"{ORGS}/{second['id']}", headers=admin, json={"name": "Bolt Inc"})
    assert renamed.status_code == 200 and renamed.get_json()["name"] == "Bolt Inc"


def test_members_without_an_owner_are_refused_and_nothing_changes(client: FlaskClient, auth: Any) -> None:
    owner, member = auth("user", username="olivia"), auth("user", username="mia")
    org = create_org(client, owner)
    owner_id, member_id = user_id(client, owner), user_id(client, member)
    before = members_of(client, owner, org["id"])
    error = assert_error(put_members(client, owner, org["id"], (owner_id, "member"), (member_id, "member")),
                         422, "VALIDATION_ERROR")
    assert "members" in error["details"]
    assert_error(put_members(client, owner, org["id"]), 422, "VALIDATION_ERROR")
    assert members_of(client, owner, org["id"]) == before == [(owner_id, "owner")]


def test_an_unknown_user_as_member_is_refused_and_nothing_changes(client: FlaskClient, auth: Any) -> None:
    owner = auth("user")
    org = create_org(client, owner)
    owner_id = user_id(client, owner)
    response = put_members(client, owner, org["id"], (owner_id, "owner"), (987_654, "member"))
    error = assert_error(response, 422, "VALIDATION_ERROR")
    assert "987654" in str(error["details"]["members"])
    assert members_of(client, owner, org["id"]) == [(owner_id, "owner")]


def test_an_unknown_member_role_is_refused(client: FlaskClient, auth: Any) -> None:
    owner = auth("user")
    org = create_org(client, owner)
    response = put_members(client, owner, org["id"], (user_id(client, owner), "overlord"))
    assert_error(response, 422, "VALIDATION_ERROR")


def test_an_owner_can_hand_the_organization_over_and_lose_the_right_to_change_it(
        client: FlaskClient, auth: Any) -> None:
    """The member list is replaced whole: the old owner, now a member, gets 403 on the next change."""
    olivia, mia = auth("user", username="olivia"), auth("user", username="mia")
    org = create_org(client, olivia)
    olivia_id, mia_id = user_id(client, olivia), user_id(client, mia)
    answered = put_members(client, olivia, org["id"], (olivia_id, "member"), (mia_id, "owner"))
    assert answered.status_code == 200, answered.get_json()
    assert sorted((m["user_id"], m["role"], m["username"]) for m in answered.get_json()["members"]) == sorted(
        [(olivia_id, "member", "olivia"), (mia_id, "owner", "mia")])
    assert_error(client.put(f"{ORGS}/{org['id']}", headers=olivia, json={"name": "x"}), 403, "FORBIDDEN")
    assert client.put(f"{ORGS}/{org['id']}", headers=mia, json={"name": "Mia's"}).status_code == 200


def test_skip_is_another_name_for_offset(client: FlaskClient, auth: Any) -> None:
    owner = auth("user")
    for name in ("Charlie", "Alpha", "Bravo"):
        create_org(client, owner, name)
    skipped = client.get(f"{ORGS}?skip=1&limit=1", headers=owner).get_json()
    offset = client.get(f"{ORGS}?offset=2&limit=1", headers=owner).get_json()
    assert [o["name"] for o in skipped["items"]] == ["Bravo"]
    assert (skipped["total"], skipped["limit"], skipped["offset"]) == (3, 1, 1)
    assert [o["name"] for o in offset["items"]] == ["Charlie"]


# Teams ----------------------------------------------------------------------------------------------------

def test_a_team_is_created_in_an_organization_the_user_owns(client: FlaskClient, auth: Any) -> None:
    owner = auth("user")
    org = create_org(client, owner)
    response = create_team(client, owner, org["id"], "Platform", description="Keeps the lights on",
                           external_id="hr-42")
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert (body["organization_id"], body["name"], body["parent_team_id"]) == (org["id"], "Platform", None)
    assert (body["description"], body["external_id"]) == ("Keeps the lights on", "hr-42")
    assert body["members"] == [] and body["members_count"] == 0
    assert body["metrics"]["commits_last_30d"] == 0


def test_teams_are_created_only_by_owners_and_are_invisible_to_outsiders(client: FlaskClient, auth: Any) -> None:
    owner, member, outsider = auth("user", username="olivia"), auth("user", username="mia"), auth("user")
    org = create_org(client, owner)
    put_members(client, owner, org["id"], (user_id(client, owner), "owner"), (user_id(client, member), "member"))
    team = team_id(client, owner, org["id"], "Platform")
    assert_error(create_team(client, member, org["id"], "Rogue"), 403, "FORBIDDEN")
    assert_error(create_team(client, outsider, org["id"], "Rogue"), 404, "NOT_FOUND")
    assert client.get(f"{TEAMS}/{team}", headers=member).status_code == 200
    assert_error(client.put(f"{TEAMS}/{team}", headers=member, json={"name": "x"}), 403, "FORBIDDEN")
    for method in ("get", "put", "delete"):
        response = getattr(client, method)(f"{TEAMS}/{team}", headers=outsider, json={"name": "x"})
        assert_error(response, 404, "NOT_FOUND")
    assert client.get(TEAMS, headers=outsider).get_json()["total"] == 0


def test_the_team_list_narrows_to_an_organization_and_counts_members(client: FlaskClient, auth: Any) -> None:
    # given: two organizations with a team each; the first team has two developers
    owner = auth("user")
    acme, bolt = create_org(client, owner, "Acme"), create_org(client, owner, "Bolt")
    platform = team_id(client, owner, acme["id"], "Platform")
    team_id(client, owner, acme["id"], "Apps")
    team_id(client, owner, bolt["id"], "Bolts")
    ada, bob = developer(acme["id"], "Ada"), developer(acme["id"], "Bob")
    assert client.put(f"{TEAMS}/{platform}/members", headers=owner,
                      json={"developer_ids": [ada, bob]}).status_code == 200
    # when
    narrowed = client.get(f"{TEAMS}?organization_id={acme['id']}", headers=owner).get_json()
    everything = client.get(TEAMS, headers=owner).get_json()
    # then
    assert [(t["name"], t["members_count"]) for t in narrowed["items"]] == [("Apps", 0), ("Platform", 2)]
    assert narrowed["total"] == 2
    assert {t["organization_id"] for t in narrowed["items"]} == {acme["id"]}
    assert everything["total"] == 3


def test_team_members_are_set_in_one_call_and_shown_with_the_team(client: FlaskClient, auth: Any) -> None:
    owner = auth("user")
    org = create_org(client, owner)
    team = team_id(client, owner, org["id"], "Platform")
    ada, bob = developer(org["id"], "Ada"), developer(org["id"], "Bob")
    first = client.put(f"{TEAMS}/{team}/members", headers=owner, json={"developer_ids": [bob, ada]})
    second = client.put(f"{TEAMS}/{team}/members", headers=owner, json={"developer_ids": [bob]})
    assert first.status_code == 200, first.get_json()
    assert [m["name"] for m in first.get_json()["members"]] == ["Ada", "Bob"]
    assert [m["id"] for m in second.get_json()["members"]] == [bob]
    assert client.get(f"{TEAMS}/{team}", headers=owner).get_json()["members_count"] == 1


def test_a_developer_of_another_organization_cannot_join_a_team(client: FlaskClient, auth: Any) -> None:
    owner = auth("user")
    acme, bolt = create_org(client, owner, "Acme"), create_org(client, owner, "Bolt")
    team = team_id(client, owner, acme["id"], "Platform")
    ours, theirs = developer(acme["id"], "Ada"), developer(bolt["id"], "Zed")
    response = client.put(f"{TEAMS}/{team}/members", headers=owner, json={"developer_ids": [ours, theirs]})
    error = assert_error(response, 422, "VALIDATION_ERROR")
    assert str(theirs) in str(error["details"]["developer_ids"])
    assert client.get(f"{TEAMS}/{team}", headers=owner).get_json()["members"] == []


def test_teams_nest_under_a_parent_of_the_same_organization(client: FlaskClient, auth: Any) -> None:
    owner = auth("user")
    org = create_org(client, owner)
    engineering = team_id(client, owner, org["id"], "Engineering")
    response = create_team(client, owner, org["id"], "Platform", parent_team_id=engineering)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["parent_team_id"] == engineering
    listed = client.get(f"{TEAMS}?organization_id={org['id']}", headers=owner).get_json()["items"]
    assert {t["name"]: t["parent_team_id"] for t in listed} == {"Engineering": None, "Platform": engineering}


def test_a_cycle_of_teams_is_refused_and_nothing_changes(client: FlaskClient, auth: Any) -> None:
    # given: engineering > platform > storage
    owner = auth("user")
    org = create_org(client, owner)
    engineering = team_id(client, owner, org["id"], "Engineering")
    platform = team_id(client, owner, org["id"], "Platform", parent_team_id=engineering)
    storage = team_id(client, owner, org["id"], "Storage", parent_team_id=platform)
    # when: engineering is put inside its own child, its own grandchild, and itself
    into_child = client.put(f"{TEAMS}/{engineering}", headers=owner, json={"parent_team_id": platform})
    into_grandchild = client.put(f"{TEAMS}/{engineering}", headers=owner,
                                 json={"parent_team_id": storage, "name": "Renamed"})
    into_itself = client.put(f"{TEAMS}/{engineering}", headers=owner, json={"parent_team_id": engineering})
    # then
    for response in (into_child, into_grandchild, into_itself):
        assert "parent_team_id" in assert_error(response, 422, "VALIDATION_ERROR")["details"]
    assert parent_of(client, owner, engineering) is None
    assert client.get(f"{TEAMS}/{engineering}", headers=owner).get_json()["name"] == "Engineering"
    assert (parent_of(client, owner, platform), parent_of(client, owner, storage)) == (engineering, platform)


def test_a_parent_from_another_organization_is_refused(client: FlaskClient, auth: Any) -> None:
    owner = auth("user")
    acme, bolt = create_org(client, owner, "Acme"), create_org(client, owner, "Bolt")
    foreign = team_id(client, owner, bolt["id"], "Bolts")
    mine = team_id(client, owner, acme["id"], "Platform")
    created = create_team(client, owner, acme["id"], "Apps", parent_team_id=foreign)
    moved = client.put(f"{TEAMS}/{mine}", headers=owner, json={"parent_team_id": foreign})
    assert "parent_team_id" in assert_error(created, 422, "VALIDATION_ERROR")["details"]
    assert "parent_team_id" in assert_error(moved, 422, "VALIDATION_ERROR")["details"]
    assert parent_of(client, owner, mine) is None
    assert client.get(f"{TEAMS}?organization_id={acme['id']}", headers=owner).get_json()["total"] == 1


def test_an_external_id_is_unique_within_an_organization(client: FlaskClient, auth: Any) -> None:
    owner = auth("user")
    acme, bolt = create_org(client, owner, "Acme"), create_org(client, owner, "Bolt")
    platform = team_id(client, owner, acme["id"], "Platform", external_id="hr-1")
    other = team_id(client, owner, acme["id"], "Apps")
    assert_error(create_team(client, owner, acme["id"], "Copy", external_id="hr-1"), 409, "CONFLICT")
    assert_error(client.put(f"{TEAMS}/{other}", headers=owner, json={"external_id": "hr-1"}), 409, "CONFLICT")
    assert create_team(client, owner, bolt["id"], "Elsewhere", external_id="hr-1").status_code == 201
    assert client.get(f"{TEAMS}/{other}", headers=owner).get_json()["external_id"] is None
    assert client.get(f"{TEAMS}/{platform}", headers=owner).get_json()["external_id"] == "hr-1"
    assert client.get(f"{TEAMS}?organization_id={acme['id']}", headers=owner).get_json()["total"] == 2


def test_deleting_a_team_moves_its_children_up_to_its_parent(client: FlaskClient, auth: Any) -> None:
    # given: engineering > platform > (storage, network)
    owner = auth("user")
    org = create_org(client, owner)
    engineering = team_id(client, owner, org["id"], "Engineering")
    platform = team_id(client, owner, org["id"], "Platform", parent_team_id=engineering)
    storage = team_id(client, owner, org["id"], "Storage", parent_team_id=platform)
    network = team_id(client, owner, org["id"], "Network", parent_team_id=platform)
    # when
    deleted = client.delete(f"{TEAMS}/{platform}", headers=owner)
    # then
    assert deleted.status_code == 204
    assert_error(client.get(f"{TEAMS}/{platform}", headers=owner), 404, "NOT_FOUND")
    assert parent_of(client, owner, storage) == engineering
    assert parent_of(client, owner, network) == engineering
    # and deleting a top team leaves its children at the top
    assert client.delete(f"{TEAMS}/{engineering}", headers=owner).status_code == 204
    assert parent_of(client, owner, storage) is None


def test_deleting_an_organization_deletes_its_repositories_activity_and_identities_only(
        client: FlaskClient, auth: Any) -> None:
    """Its repositories and their activity go first (`commit.identity_id` has no index), then its people; another
    organization's activity stays, with its identities."""
    from domain.engineering.ingest import ingest
    from domain.engineering.records import Activity, CommitRecord, Person, PullRecord, ReviewRecord
    from models.activity import Commit, PullRequest, Review
    from models.developer import DeveloperIdentity
    from models.repository import Repository

    owner = auth("user")
    doomed, kept = create_org(client, owner, "Acme"), create_org(client, owner, "Bolt")
    with db.connection_context():
        for org in (doomed, kept):
            repo = Repository.create(organization=org["id"], name="widgets", url=f"https://github.com/{org['id']}/w",
                                     full_name=f"{org['id']}/w", provider="github", api_url="https://api.github.com",
                                     hook_secret="hook-secret-for-the-test")
            people = [Person("github", user_id=str(n), login=f"dev{n}") for n in range(30)]
            ingest(repo, Activity(
                commits=[CommitRecord(f"{n:040x}", people[n % 30], None, None, "Change") for n in range(300)],
                pulls=[PullRecord(n, "Pull", people[n], "open", None, None) for n in range(1, 11)],
                reviews=[ReviewRecord(n, str(n), people[n + 1], "approved", None) for n in range(1, 11)]))
    assert client.delete(f"{ORGS}/{doomed['id']}", headers=owner).status_code == 204
    with db.connection_context():
        assert {r.organization_id for r in Repository.select()} == {kept["id"]}
        assert {i.organization_id for i in DeveloperIdentity.select()} == {kept["id"]}
        assert (Commit.select().count(), PullRequest.select().count(), Review.select().count()) == (300, 10, 10)
        assert {c.identity_id for c in Commit.select()} <= {i.id for i in DeveloperIdentity.select()}
