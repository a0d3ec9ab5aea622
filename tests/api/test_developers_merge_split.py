"""Merging and splitting developers (seed 002): when the automatic identity rules got a person wrong, an owner
moves identities, and the activity that came with them, from one developer to another; each change is recorded.
The developers here come from the real ingestion path (`domain.engineering.ingest`) fed with normalised records,
as a poll or a hook would."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask.testing import FlaskClient

from domain.engineering.ingest import ingest
from domain.engineering.records import Activity, CommitRecord, Person
from models.db import db, utc_naive
from models.developer import Developer, DeveloperIdentity
from models.repository import Repository
from tests.support.auth import user_id
from tests.support.envelope import assert_error

ORGS = "/api/v1/organizations"
REPOS = "/api/v1/repositories"
DEVS = "/api/v1/developers"

ALICE_GITHUB = Person("github", user_id="1001", login="alice", name="Alice Liddell", email="alice@example.com",
                      email_verified=True)
ALICE_LAPTOP = Person("git", name="Alice L", email="alice@home.example")  # no link to her account: a new developer
ALICE_WORK = Person("git", name="Alice Liddell", email="alice@example.com")  # her verified email: joins her
BOB = Person("github", user_id="1002", login="bob", name="Bob Builder", email="bob@example.com",
             email_verified=True)


def create_org(client: FlaskClient, headers: dict[str, str], name: str = "Acme") -> int:
    response = client.post(ORGS, headers=headers, json={"name": name})
    assert response.status_code == 201, response.get_json()
    return int(response.get_json()["id"])


def create_repo(client: FlaskClient, headers: dict[str, str], org_id: int, name: str = "widgets") -> int:
    response = client.post(REPOS, headers=headers, json={
        "organization_id": org_id, "url": f"https://github.com/acme/{name}", "provider": "github",
        "api_url": "https://93.184.216.34"})
    assert response.status_code == 201, response.get_json()
    return int(response.get_json()["id"])


def commits_by(repo_id: int, *authors: tuple[str, Person], start: int = 1) -> None:
    """Ingest one commit per (sha, author), the first a day ago, each an hour older than the one before."""
    now = utc_naive()
    records = [CommitRecord(sha=sha, author=person, authored_at=now - timedelta(days=1, hours=n),
                            committed_at=now - timedelta(days=1, hours=n), message=f"Commit {sha}")
               for n, (sha, person) in enumerate(authors, start=start)]
    with db.connection_context():
        ingest(Repository.get_by_id(repo_id), Activity(commits=records))


def developer_of(org_id: int, person: Person) -> int:
    key = person.user_id if person.provider != "git" else (person.email or "").lower()
    with db.connection_context():
        identity = DeveloperIdentity.get(DeveloperIdentity.organization == org_id,
                                         DeveloperIdentity.provider == person.provider,
                                         DeveloperIdentity.provider_user_id == key)
        return int(identity.developer_id)


def identity_ids(client: FlaskClient, headers: dict[str, str], developer_id: int) -> dict[str, int]:
    """The developer's identities, by provider user id."""
    shown = client.get(f"{DEVS}/{developer_id}", headers=headers)
    assert shown.status_code == 200, shown.get_json()
    return {i["provider_user_id"]: i["id"] for i in shown.get_json()["identities"]}


def commit_shas(client: FlaskClient, headers: dict[str, str], repo_id: int, developer_id: int) -> list[str]:
    answer = client.get(f"{REPOS}/{repo_id}/commits?author={developer_id}", headers=headers).get_json()
    return [c["sha"] for c in answer["items"]]


def developer_count(org_id: int) -> int:
    with db.connection_context():
        return int(Developer.select().where(Developer.organization == org_id).count())


def test_merge_moves_identities_and_commits_and_deletes_the_other(client: FlaskClient, auth: Any) -> None:
    # given: alice's account and her laptop's email are two developers
    owner = auth("user")
    org = create_org(client, owner)
    repo = create_repo(client, owner, org)
    commits_by(repo, ("a1", ALICE_GITHUB), ("a2", ALICE_LAPTOP), ("a3", ALICE_LAPTOP))
    alice, laptop = developer_of(org, ALICE_GITHUB), developer_of(org, ALICE_LAPTOP)
    assert alice != laptop and developer_count(org) == 2
    # when
    response = client.post(f"{DEVS}/{alice}/merge", headers=owner,
                           json={"developer_id": laptop, "reason": "same person, two laptops"})
    # then
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["id"] == alice
    assert sorted((i["provider"], i["provider_user_id"], i["emails"]) for i in body["identities"]) == [
        ("git", "alice@home.example", ["alice@home.example"]), ("github", "1001", ["alice@example.com"])]
    assert body["metrics"]["commits_last_30d"] == 3
    merges = [c for c in body["changes"] if c["from_developer_id"] == laptop]
    assert len(merges) == 1
    merge = merges[0]
    assert (merge["action"], merge["to_developer_id"], merge["reason"]) == ("merge", alice, "same person, two laptops")
    assert merge["identity_ids"] == [identity_ids(client, owner, alice)["alice@home.example"]]
    assert merge["at"].endswith("Z")
    assert_error(client.get(f"{DEVS}/{laptop}", headers=owner), 404, "NOT_FOUND")
    assert commit_shas(client, owner, repo, alice) == ["a1", "a2", "a3"]
    assert commit_shas(client, owner, repo, laptop) == []
    assert developer_count(org) == 1


def test_after_a_merge_new_activity_of_the_merged_identity_counts_for_the_target(
        client: FlaskClient, auth: Any) -> None:
    """The identity moved, so a later commit by the same email is attributed to the developer it was merged into."""
    owner = auth("user")
    org = create_org(client, owner)
    repo = create_repo(client, owner, org)
    commits_by(repo, ("a1", ALICE_GITHUB), ("a2", ALICE_LAPTOP))
    alice, laptop = developer_of(org, ALICE_GITHUB), developer_of(org, ALICE_LAPTOP)
    assert client.post(f"{DEVS}/{alice}/merge", headers=owner, json={"developer_id": laptop}).status_code == 200
    commits_by(repo, ("a9", ALICE_LAPTOP), start=0)
    assert commit_shas(client, owner, repo, alice) == ["a9", "a1", "a2"]
    assert developer_count(org) == 1


def test_merge_keeps_the_teams_of_both(client: FlaskClient, auth: Any) -> None:
    owner = auth("user")
    org = create_org(client, owner)
    repo = create_repo(client, owner, org)
    commits_by(repo, ("a1", ALICE_GITHUB), ("a2", ALICE_LAPTOP))
    alice, laptop = developer_of(org, ALICE_GITHUB), developer_of(org, ALICE_LAPTOP)
    teams = {}
    for name, members in (("Apps", [alice, laptop]), ("Platform", [laptop])):
        created = client.post("/api/v1/teams", headers=owner, json={"organization_id": org, "name": name})
        teams[name] = created.get_json()["id"]
        assert client.put(f"/api/v1/teams/{teams[name]}/members", headers=owner,
                          json={"developer_ids": members}).status_code == 200
    merged = client.post(f"{DEVS}/{alice}/merge", headers=owner, json={"developer_id": laptop})
    assert merged.status_code == 200, merged.get_json()
    assert sorted(t["id"] for t in merged.get_json()["teams"]) == sorted(teams.values())
    for team in teams.values():
        members = client.get(f"/api/v1/teams/{team}", headers=owner).get_json()["members"]
        assert [m["id"] for m in members] == [alice]


def test_merging_a_developer_into_itself_or_from_another_organization_is_refused(
        client: FlaskClient, auth: Any) -> None:
    owner = auth("user")
    acme, bolt = create_org(client, owner, "Acme"), create_org(client, owner, "Bolt")
    acme_repo, bolt_repo = create_repo(client, owner, acme), create_repo(client, owner, bolt, "bolts")
    commits_by(acme_repo, ("a1", ALICE_GITHUB))
    commits_by(bolt_repo, ("b1", BOB))
    alice, bob = developer_of(acme, ALICE_GITHUB), developer_of(bolt, BOB)
    for other in (alice, bob, 987_654):
        response = client.post(f"{DEVS}/{alice}/merge", headers=owner, json={"developer_id": other})
        assert "developer_id" in assert_error(response, 422, "VALIDATION_ERROR")["details"]
    assert client.get(f"{DEVS}/{bob}", headers=owner).status_code == 200
    assert commit_shas(client, owner, bolt_repo, bob) == ["b1"]
    assert client.get(f"{DEVS}/{alice}", headers=owner).get_json()["changes"] == []


def test_only_owners_merge_and_split_and_outsiders_see_nothing(client: FlaskClient, auth: Any) -> None:
    # given: mia is a member (not an owner) of olivia's organization; oscar is not in it
    olivia, mia, oscar = auth("user", username="olivia"), auth("user", username="mia"), auth("user", username="oscar")
    org = create_org(client, olivia)
    client.put(f"{ORGS}/{org}/members", headers=olivia, json={"members": [
        {"user_id": user_id(client, olivia), "role": "owner"}, {"user_id": user_id(client, mia), "role": "member"}]})
    repo = create_repo(client, olivia, org)
    commits_by(repo, ("a1", ALICE_GITHUB), ("a2", ALICE_LAPTOP), ("a3", ALICE_WORK))
    alice, laptop = developer_of(org, ALICE_GITHUB), developer_of(org, ALICE_LAPTOP)
    work = identity_ids(client, olivia, alice)["alice@example.com"]
    # when
    member_merge = client.post(f"{DEVS}/{alice}/merge", headers=mia, json={"developer_id": laptop})
    member_split = client.post(f"{DEVS}/{alice}/split", headers=mia, json={"identity_ids": [work]})
    outsider_merge = client.post(f"{DEVS}/{alice}/merge", headers=oscar, json={"developer_id": laptop})
    outsider_split = client.post(f"{DEVS}/{alice}/split", headers=oscar, json={"identity_ids": [work]})
    # then
    assert_error(member_merge, 403, "FORBIDDEN")
    assert_error(member_split, 403, "FORBIDDEN")
    assert_error(outsider_merge, 404, "NOT_FOUND")
    assert_error(outsider_split, 404, "NOT_FOUND")
    assert_error(client.get(f"{DEVS}/{alice}", headers=oscar), 404, "NOT_FOUND")
    assert client.get(DEVS, headers=oscar).get_json()["total"] == 0
    assert client.get(f"{DEVS}/{laptop}", headers=mia).status_code == 200
    assert developer_count(org) == 2 and len(identity_ids(client, olivia, alice)) == 2


def test_split_moves_the_chosen_identities_and_their_commits_to_a_new_developer(
        client: FlaskClient, auth: Any) -> None:
    # given: alice's account and a git email she verified were joined automatically
    owner = auth("user")
    org = create_org(client, owner)
    repo = create_repo(client, owner, org)
    commits_by(repo, ("a1", ALICE_GITHUB), ("w1", ALICE_WORK), ("w2", ALICE_WORK))
    alice = developer_of(org, ALICE_GITHUB)
    assert developer_of(org, ALICE_WORK) == alice
    work = identity_ids(client, owner, alice)["alice@example.com"]
    # when
    response = client.post(f"{DEVS}/{alice}/split", headers=owner,
                           json={"identity_ids": [work], "reason": "a shared build account"})
    # then
    assert response.status_code == 201, response.get_json()
    fresh = response.get_json()
    assert fresh["id"] != alice and fresh["organization_id"] == org
    assert [(i["id"], i["provider"], i["emails"]) for i in fresh["identities"]] == [
        (work, "git", ["alice@example.com"])]
    assert fresh["metrics"]["commits_last_30d"] == 2
    split = [c for c in fresh["changes"] if c["action"] == "split"]
    assert [(c["from_developer_id"], c["to_developer_id"], c["identity_ids"], c["reason"]) for c in split] == [
        (alice, fresh["id"], [work], "a shared build account")]
    assert list(identity_ids(client, owner, alice)) == ["1001"]
    assert commit_shas(client, owner, repo, fresh["id"]) == ["w1", "w2"]
    assert commit_shas(client, owner, repo, alice) == ["a1"]
    shown = client.get(f"{DEVS}/{alice}", headers=owner).get_json()
    assert shown["metrics"]["commits_last_30d"] == 1
    assert any(c["action"] == "split" and c["to_developer_id"] == fresh["id"] for c in shown["changes"])


def test_splitting_all_identities_or_one_not_of_the_developer_is_refused(client: FlaskClient, auth: Any) -> None:
    owner = auth("user")
    org = create_org(client, owner)
    repo = create_repo(client, owner, org)
    commits_by(repo, ("a1", ALICE_GITHUB), ("w1", ALICE_WORK), ("b1", BOB))
    alice, bob = developer_of(org, ALICE_GITHUB), developer_of(org, BOB)
    own = sorted(identity_ids(client, owner, alice).values())
    bobs = list(identity_ids(client, owner, bob).values())
    assert len(own) == 2
    for chosen in (own, [own[0], *bobs], bobs, [987_654]):
        response = client.post(f"{DEVS}/{alice}/split", headers=owner, json={"identity_ids": chosen})
        assert "identity_ids" in assert_error(response, 422, "VALIDATION_ERROR")["details"]
    assert_error(client.post(f"{DEVS}/{alice}/split", headers=owner, json={"identity_ids": []}),
                 422, "VALIDATION_ERROR")
    assert sorted(identity_ids(client, owner, alice).values()) == own
    assert commit_shas(client, owner, repo, alice) == ["a1", "w1"]
    assert developer_count(org) == 2


def test_a_developer_of_a_single_identity_cannot_be_split(client: FlaskClient, auth: Any) -> None:
    owner = auth("user")
    org = create_org(client, owner)
    repo = create_repo(client, owner, org)
    commits_by(repo, ("b1", BOB))
    bob = developer_of(org, BOB)
    only = list(identity_ids(client, owner, bob).values())
    response = client.post(f"{DEVS}/{bob}/split", headers=owner, json={"identity_ids": only})
    assert_error(response, 422, "VALIDATION_ERROR")
    assert developer_count(org) == 1
