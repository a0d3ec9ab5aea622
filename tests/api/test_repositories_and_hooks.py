"""Repositories (seed 002) and the hooks GitHub and GitLab push activity to: registering one answers its hook
secret once (never again, nor its token); a delivery is accepted only when signed with that secret (GitHub) or
carrying it (GitLab), stored once per delivery id, and ingested by a worker into commits, pull requests, reviews
and the developers behind them."""
from __future__ import annotations

import hashlib
import hmac
import json
import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from domain.engineering import receiver
from models.activity import Commit, HookDelivery
from models.db import db, is_postgres
from tests.domain.engineering import payloads as p
from tests.support.envelope import assert_error
from tests.support.processes import wait_for

ORGS = "/api/v1/organizations"
REPOS = "/api/v1/repositories"
PUBLIC_API = "https://93.184.216.34"  # a public address: allowed, and never contacted by these tests
GITHUB_URL = "https://github.com/acme/widgets"
GITLAB_URL = "https://gitlab.com/acme/widgets"
TOKEN = "ghp_" + "T0ken" * 8

ALICE = p.github_user("alice", 1001)
BOB = p.github_user("bob", 1002)


def create_org(client: FlaskClient, headers: dict[str, str], name: str = "Acme") -> int:
    response = client.post(ORGS, headers=headers, json={"name": name})
    assert response.status_code == 201, response.get_json()
    return int(response.get_json()["id"])


def register(client: FlaskClient, headers: dict[str, str], org_id: int, **body: Any) -> Any:
    return client.post(REPOS, headers=headers, json={"organization_id": org_id, "url": GITHUB_URL,
                                                     "provider": "github", "api_url": PUBLIC_API, **body})


def registered(client: FlaskClient, headers: dict[str, str], org_id: int, **body: Any) -> dict[str, Any]:
    response = register(client, headers, org_id, **body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def github_hook(client: FlaskClient, repo_id: int, secret: str, event: str, payload: Any,
                delivery: str | None = None, body: bytes | None = None, signed: str | None = None) -> Any:
    """POST a GitHub delivery: `body` (default: the payload as JSON) signed with `secret` unless `signed`."""
    raw = body if body is not None else json.dumps(payload).encode()
    headers = {"X-GitHub-Event": event, "X-Hub-Signature-256": signed or signature(secret, raw),
               "Content-Type": "application/json", "User-Agent": "GitHub-Hookshot/1a2b3c4"}
    if delivery != "":
        headers["X-GitHub-Delivery"] = delivery or str(uuid.uuid4())
    return client.post(f"{REPOS}/{repo_id}/hooks/github", data=raw, headers=headers)


def gitlab_hook(client: FlaskClient, repo_id: int, token: str, event: str, payload: Any,
                delivery: str | None = None) -> Any:
    headers = {"X-Gitlab-Token": token, "X-Gitlab-Event": event, "Content-Type": "application/json",
               "X-Gitlab-Event-UUID": delivery or str(uuid.uuid4()), "User-Agent": "GitLab/17.6.0"}
    return client.post(f"{REPOS}/{repo_id}/hooks/gitlab", data=json.dumps(payload).encode(), headers=headers)


def deliveries() -> int:
    with db.connection_context():
        return int(HookDelivery.select().count())


def ago(**delta: float) -> str:
    """A GitHub-style timestamp that long before now (so the 30-day figures count it)."""
    return (datetime.now(UTC) - timedelta(**delta)).replace(microsecond=0).isoformat().replace("+00:00", "Z")


# Registering ----------------------------------------------------------------------------------------------

def test_registering_answers_the_hook_secret_and_urls_once_and_never_the_token(
        client: FlaskClient, auth: Any) -> None:
    # given
    owner = auth("user")
    org = create_org(client, owner)
    # when
    created = registered(client, owner, org, token=TOKEN, language="Python")
    shown = client.get(f"{REPOS}/{created['id']}", headers=owner)
    listed = client.get(REPOS, headers=owner)
    # then
    assert isinstance(created["hook_secret"], str) and len(created["hook_secret"]) >= 32
    base = f"http://localhost/api/v1/repositories/{created['id']}/hooks"
    assert created["hooks"] == {"github": f"{base}/github", "gitlab": f"{base}/gitlab"}
    assert (created["full_name"], created["name"], created["organization_id"]) == ("acme/widgets", "widgets", org)
    assert (created["has_token"], created["status"], created["commit_count"]) == (True, "unknown", 0)
    assert "token" not in created
    assert shown.status_code == 200 and listed.status_code == 200
    detail, items = shown.get_json(), listed.get_json()["items"]
    assert [item["id"] for item in items] == [created["id"]]
    for answer in (detail, *items):
        assert not {"hook_secret", "token", "hooks"} & set(answer), answer
        assert answer["has_token"] is True
    for text in (shown.get_data(as_text=True), listed.get_data(as_text=True)):
        assert created["hook_secret"] not in text and TOKEN not in text


def test_a_private_api_url_is_refused(client: FlaskClient, auth: Any) -> None:
    owner = auth("user")
    org = create_org(client, owner)
    error = assert_error(register(client, owner, org, api_url="http://127.0.0.1:1"), 422, "VALIDATION_ERROR")
    assert "api_url" in error["details"]
    assert client.get(REPOS, headers=owner).get_json()["total"] == 0


def test_the_same_url_twice_is_a_conflict(client: FlaskClient, auth: Any) -> None:
    owner = auth("user")
    org = create_org(client, owner)
    registered(client, owner, org)
    assert_error(register(client, owner, org), 409, "CONFLICT")
    assert client.get(REPOS, headers=owner).get_json()["total"] == 1


@pytest.mark.parametrize("url", ["https://github.com/acme", "https://github.com/acme/widgets/tree/main",
                                 "https://github.com/"])
def test_a_github_url_that_is_not_owner_and_repo_is_refused(client: FlaskClient, auth: Any, url: str) -> None:
    owner = auth("user")
    org = create_org(client, owner)
    error = assert_error(register(client, owner, org, url=url), 422, "VALIDATION_ERROR")
    assert "url" in error["details"]
    assert client.get(REPOS, headers=owner).get_json()["total"] == 0


def test_only_owners_register_repositories(client: FlaskClient, auth: Any) -> None:
    owner, member, outsider = auth("user", username="olivia"), auth("user", username="mia"), auth("user")
    org = create_org(client, owner)
    ids = [client.get("/api/v1/users/me", headers=h).get_json()["id"] for h in (owner, member)]
    client.put(f"{ORGS}/{org}/members", headers=owner,
               json={"members": [{"user_id": ids[0], "role": "owner"}, {"user_id": ids[1], "role": "member"}]})
    assert_error(register(client, member, org), 403, "FORBIDDEN")
    assert_error(register(client, outsider, org), 404, "NOT_FOUND")
    repo = registered(client, owner, org)
    assert client.get(f"{REPOS}/{repo['id']}", headers=member).status_code == 200
    assert "hook_secret" not in client.get(f"{REPOS}/{repo['id']}", headers=member).get_json()
    assert_error(client.get(f"{REPOS}/{repo['id']}", headers=outsider), 404, "NOT_FOUND")


# Hooks ----------------------------------------------------------------------------------------------------

@pytest.fixture
def github_repo(client: FlaskClient, auth: Any) -> dict[str, Any]:
    owner = auth("user", username="olivia")
    return registered(client, owner, create_org(client, owner))


def push_payload() -> dict[str, Any]:
    return p.github_push([p.github_commit(p.sha(1), timestamp=ago(days=3))])


def test_a_signed_push_is_accepted_once_per_delivery_id(client: FlaskClient, github_repo: dict[str, Any]) -> None:
    # given
    delivery = str(uuid.uuid4())
    # when
    first = github_hook(client, github_repo["id"], github_repo["hook_secret"], "push", push_payload(), delivery)
    again = github_hook(client, github_repo["id"], github_repo["hook_secret"], "push", push_payload(), delivery)
    # then
    assert first.status_code == 202, first.get_json()
    assert first.get_json() == {"status": "accepted", "delivery_id": delivery}
    assert again.status_code == 200 and again.get_json() == {"status": "duplicate", "delivery_id": delivery}
    with db.connection_context():
        stored = list(HookDelivery.select())
    assert [(d.delivery_id, d.event, d.repository_id) for d in stored] == [(delivery, "push", github_repo["id"])]
    assert stored[0].payload["commits"][0]["id"] == p.sha(1)


def test_a_wrong_signature_is_401_and_stores_nothing(client: FlaskClient, github_repo: dict[str, Any]) -> None:
    repo_id, secret = github_repo["id"], github_repo["hook_secret"]
    body = json.dumps(push_payload()).encode()
    wrong_secret = github_hook(client, repo_id, "not-the-secret", "push", None, body=body)
    other_body = github_hook(client, repo_id, secret, "push", None, body=body + b" ", signed=signature(secret, body))
    no_prefix = github_hook(client, repo_id, secret, "push", None, body=body,
                            signed=signature(secret, body).removeprefix("sha256="))
    sha1 = github_hook(client, repo_id, secret, "push", None, body=body,
                       signed="sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest())
    for response in (wrong_secret, other_body, no_prefix, sha1):
        assert_error(response, 401, "UNAUTHORIZED")
    unsigned = client.post(f"{REPOS}/{repo_id}/hooks/github", data=body,
                           headers={"X-GitHub-Event": "push", "X-GitHub-Delivery": str(uuid.uuid4())})
    assert_error(unsigned, 401, "UNAUTHORIZED")
    assert deliveries() == 0


def test_a_delivery_to_an_unknown_repository_is_401_like_a_bad_signature(
        client: FlaskClient, github_repo: dict[str, Any]) -> None:
    """A missing repository answers as a bad signature does, so hook URLs reveal nothing about which ids exist."""
    response = github_hook(client, github_repo["id"] + 1000, github_repo["hook_secret"], "push", push_payload())
    assert_error(response, 401, "UNAUTHORIZED")
    assert deliveries() == 0


def test_a_delivery_without_its_id_header_is_400(client: FlaskClient, github_repo: dict[str, Any]) -> None:
    response = github_hook(client, github_repo["id"], github_repo["hook_secret"], "push", push_payload(),
                           delivery="")
    error = assert_error(response, 400, "BAD_REQUEST")
    assert "X-GitHub-Delivery" in error["message"]
    assert deliveries() == 0


def test_a_delivery_id_longer_than_128_characters_is_400(client: FlaskClient, github_repo: dict[str, Any]) -> None:
    response = github_hook(client, github_repo["id"], github_repo["hook_secret"], "push", push_payload(),
                           delivery="d" * 129)
    assert_error(response, 400, "BAD_REQUEST")
    assert deliveries() == 0


@pytest.mark.parametrize("body", [
    pytest.param(b"commits=1&ref=main", id="not-json"),
    pytest.param(b'{"ref": "refs/heads/main", "commits": {"id": "abc"}}', id="commits-not-a-list"),
    pytest.param(b'{"ref": "refs/heads/main", "commits": [{"id": 12}]}', id="sha-not-a-string"),
    pytest.param(b'{"ref": "refs/heads/main", "commits": [{"id": "abc", "timestamp": "yesterday"}]}',
                 id="bad-timestamp"),
    pytest.param(b'["commits"]', id="not-an-object"),
])
def test_a_body_that_is_not_a_push_is_400_and_stores_nothing(
        client: FlaskClient, github_repo: dict[str, Any], body: bytes) -> None:
    response = github_hook(client, github_repo["id"], github_repo["hook_secret"], "push", None, body=body)
    assert_error(response, 400, "BAD_REQUEST")
    assert deliveries() == 0


def test_a_ping_is_answered_and_not_stored(client: FlaskClient, github_repo: dict[str, Any]) -> None:
    delivery = str(uuid.uuid4())
    response = github_hook(client, github_repo["id"], github_repo["hook_secret"], "ping", p.github_ping(), delivery)
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"status": "ignored", "delivery_id": delivery}
    assert deliveries() == 0


def test_a_github_delivery_to_a_gitlab_repository_is_refused(client: FlaskClient, auth: Any) -> None:
    owner = auth("user")
    repo = registered(client, owner, create_org(client, owner), url=GITLAB_URL, provider="gitlab")
    response = github_hook(client, repo["id"], repo["hook_secret"], "push", push_payload())
    assert_error(response, 401, "UNAUTHORIZED")
    assert deliveries() == 0


@pytest.fixture
def gitlab_repo(client: FlaskClient, auth: Any) -> dict[str, Any]:
    owner = auth("user", username="olivia")
    return registered(client, owner, create_org(client, owner), url=GITLAB_URL, provider="gitlab")


def merge_request_hook() -> dict[str, Any]:
    attributes = p.gitlab_merge_request_attributes(iid=3, created_at=ago(days=2), updated_at=ago(days=2))
    return p.gitlab_merge_request(attributes)


def test_a_gitlab_delivery_with_the_secret_token_is_accepted(
        client: FlaskClient, gitlab_repo: dict[str, Any]) -> None:
    delivery = str(uuid.uuid4())
    first = gitlab_hook(client, gitlab_repo["id"], gitlab_repo["hook_secret"], "Merge Request Hook",
                        merge_request_hook(), delivery)
    again = gitlab_hook(client, gitlab_repo["id"], gitlab_repo["hook_secret"], "Merge Request Hook",
                        merge_request_hook(), delivery)
    assert first.status_code == 202, first.get_json()
    assert first.get_json() == {"status": "accepted", "delivery_id": delivery}
    assert again.status_code == 200 and again.get_json()["status"] == "duplicate"
    with db.connection_context():
        assert [(d.delivery_id, d.event) for d in HookDelivery.select()] == [(delivery, "Merge Request Hook")]


def test_a_gitlab_delivery_with_a_wrong_or_missing_token_is_401(
        client: FlaskClient, gitlab_repo: dict[str, Any]) -> None:
    wrong = gitlab_hook(client, gitlab_repo["id"], gitlab_repo["hook_secret"] + "x", "Merge Request Hook",
                        merge_request_hook())
    missing = client.post(f"{REPOS}/{gitlab_repo['id']}/hooks/gitlab", json=merge_request_hook(),
                          headers={"X-Gitlab-Event": "Merge Request Hook", "X-Gitlab-Event-UUID": str(uuid.uuid4())})
    assert_error(wrong, 401, "UNAUTHORIZED")
    assert_error(missing, 401, "UNAUTHORIZED")
    assert deliveries() == 0


# Ingestion by a worker ------------------------------------------------------------------------------------

def processed(delivery: str) -> bool:
    with db.connection_context():
        row = HookDelivery.get_or_none(HookDelivery.delivery_id == delivery)
        return row is not None and row.status == "done"


def deliver(client: FlaskClient, repo: dict[str, Any], event: str, payload: dict[str, Any],
            timeout: float = 10) -> None:
    """Deliver one event and wait until the worker has ingested it (one at a time: the same person seen by two
    deliveries at once is the race test_a_push_and_a_pull_request_..._at_once_... is about)."""
    delivery = str(uuid.uuid4())
    response = github_hook(client, repo["id"], repo["hook_secret"], event, payload, delivery)
    assert response.status_code == 202, response.get_json()
    wait_for(lambda: processed(delivery), timeout=timeout, what=f"the worker to ingest the {event} delivery")


@pytest.mark.slow
def test_a_worker_ingests_deliveries_into_commits_pull_requests_reviews_and_developers(
        client: FlaskClient, auth: Any, worker: Any) -> None:
    # given: alice pushes a commit (and dependabot one), opens and merges #7, and reviews bob's #8
    owner = auth("user", username="olivia")
    repo = registered(client, owner, create_org(client, owner))
    push = p.github_push([
        p.github_commit(p.sha(2), message="Bump requests from 2.31 to 2.32", timestamp=ago(days=4),
                        name="dependabot[bot]", email="49699333+dependabot[bot]@users.noreply.github.com",
                        username="dependabot[bot]"),
        p.github_commit(p.sha(1), message="Teach the widget to fly\n\nWith wings.", timestamp=ago(days=3),
                        name="Alice Liddell", email="alice@example.com", username="alice"),
    ], pusher=ALICE)
    merged_at = ago(days=1, hours=12)
    pull = p.github_pull(number=7, state="closed", user=ALICE, created_at=ago(days=2), updated_at=merged_at,
                         closed_at=merged_at, merged_at=merged_at, merged=True, merge_commit_sha=p.sha(3))
    bobs = p.github_pull(number=8, title="Paint the widget", user=BOB, created_at=ago(days=1, hours=6),
                         updated_at=ago(days=1))
    review = p.github_review_event(bobs, review_id=80, state="approved", reviewer=ALICE, submitted_at=ago(days=1))
    # when
    deliver(client, repo, "push", push, timeout=30)  # the worker process may still be starting
    deliver(client, repo, "pull_request", p.github_pull_request_event(pull, action="closed"))
    deliver(client, repo, "pull_request_review", review)
    deliver(client, repo, "pull_request_review_comment", p.github_review_comment_event(
        pull, comment_id=91, author=BOB, created_at=ago(days=1, hours=13)))  # on a line of #7's diff
    # then: the commits, newest first
    commits = client.get(f"{REPOS}/{repo['id']}/commits", headers=owner).get_json()
    assert [(c["sha"], c["message"]) for c in commits["items"]] == [
        (p.sha(1), "Teach the widget to fly"), (p.sha(2), "Bump requests from 2.31 to 2.32")]
    assert commits["items"][0]["author_name"] == "Alice Liddell" and commits["total"] == 2
    # the pull requests, with their states and review counts
    pulls = client.get(f"{REPOS}/{repo['id']}/pull-requests", headers=owner).get_json()
    assert [(r["number"], r["state"], r["reviews"]) for r in pulls["items"]] == [(8, "open", 1), (7, "merged", 1)]
    merged = client.get(f"{REPOS}/{repo['id']}/pull-requests?state=merged", headers=owner).get_json()
    assert [(r["number"], r["merge_commit_sha"], r["additions"]) for r in merged["items"]] == [(7, p.sha(3), 120)]
    # the repository's statistics leave the bot out
    detail = client.get(f"{REPOS}/{repo['id']}", headers=owner).get_json()
    assert detail["commit_count"] == 2
    stats = detail["statistics"]
    assert (stats["commits"], stats["contributors"], stats["reviews"]) == (1, 1, 2)
    assert stats["pull_requests"] == {"open": 1, "merged": 1, "closed": 0}
    assert stats["last_commit"] is not None and stats["last_commit"].endswith("Z")
    # the developers: alice and bob, the bot only when asked for
    people = client.get("/api/v1/developers", headers=owner).get_json()
    assert [d["name"] for d in people["items"]] == ["Alice Liddell", "bob"]
    alice, bob = people["items"]
    assert {k: alice["metrics"][k] for k in ("commits_last_30d", "prs_opened", "prs_merged", "prs_reviewed")} == {
        "commits_last_30d": 1, "prs_opened": 1, "prs_merged": 1, "prs_reviewed": 1}
    assert (bob["metrics"]["prs_opened"], bob["metrics"]["commits_last_30d"]) == (1, 0)
    everyone = client.get("/api/v1/developers?include_bots=true", headers=owner).get_json()["items"]
    bots = [d for d in everyone if d["is_bot"]]
    assert [(d["name"], d["metrics"]["commits_last_30d"]) for d in bots] == [("dependabot[bot]", 1)]
    assert len(everyone) == 3
    # alice's detail: one GitHub identity (seen by login in the push, then by id), with her verified email
    shown = client.get(f"/api/v1/developers/{alice['id']}", headers=owner).get_json()
    assert [(i["provider"], i["login"], i["provider_user_id"], i["emails"]) for i in shown["identities"]] == [
        ("github", "alice", "1001", ["alice@example.com"])]
    # her timeline, newest first
    activity = client.get(f"/api/v1/developers/{alice['id']}/activity", headers=owner).get_json()
    assert [(a["type"], a.get("number") or a.get("sha")) for a in activity["items"]] == [
        ("review", 8), ("pr_merged", 7), ("pr_opened", 7), ("commit", p.sha(1))]
    assert activity["total"] == 4
    with db.connection_context():
        assert Commit.select().where(Commit.developer.is_null()).count() == 0


def stored_delivery(client: FlaskClient, repo: dict[str, Any], event: str, payload: dict[str, Any]) -> int:
    """Deliver one event (no worker runs) and answer its stored row's id."""
    delivery = str(uuid.uuid4())
    response = github_hook(client, repo["id"], repo["hook_secret"], event, payload, delivery)
    assert response.status_code == 202, response.get_json()
    with db.connection_context():
        return int(HookDelivery.get(HookDelivery.delivery_id == delivery).id)


def test_a_push_and_a_pull_request_of_a_new_person_ingested_at_once_make_one_developer(
        client: FlaskClient, auth: Any) -> None:
    """GitHub sends the push and the pull_request of a new branch within a second, and workers ingest them on
    several threads. The push names the author by login only, the pull request by account id (and login): the
    push's ingestion is still in its transaction when the pull request's runs. Both must end as one person.
    PostgreSQL only: SQLite's transactions take the write lock when they begin, so they never overlap."""
    if not is_postgres():
        pytest.skip("SQLite runs one writing transaction at a time: this race needs PostgreSQL")
    # given: both deliveries stored, as the hook endpoint stores them
    owner = auth("user", username="olivia")
    repo = registered(client, owner, create_org(client, owner))
    push = stored_delivery(client, repo, "push", p.github_push(
        [p.github_commit(p.sha(1), timestamp=ago(days=2), username="alice")], pusher=ALICE))
    pull = stored_delivery(client, repo, "pull_request", p.github_pull_request_event(
        p.github_pull(number=7, user=ALICE, created_at=ago(days=1), updated_at=ago(days=1))))
    pushed, pulled = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def push_worker() -> None:  # its transaction stays open until the other has run (or 3 s, if it waits)
        try:
            with db.connection_context(), db.atomic():
                receiver.process(push, ())
                pushed.set()
                pulled.wait(timeout=3)
        except BaseException as error:
            errors.append(error)
        finally:
            pushed.set()

    def pull_worker() -> None:
        try:
            pushed.wait(timeout=10)
            with db.connection_context():
                receiver.process(pull, ())
        except BaseException as error:
            errors.append(error)
        finally:
            pulled.set()

    # when
    threads = [threading.Thread(target=push_worker), threading.Thread(target=pull_worker)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    # then
    assert errors == []
    people = client.get("/api/v1/developers", headers=owner).get_json()["items"]
    assert [(d["name"], d["metrics"]["commits_last_30d"], d["metrics"]["prs_opened"]) for d in people] == [
        ("Alice Liddell", 1, 1)]
