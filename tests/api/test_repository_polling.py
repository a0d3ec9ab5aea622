"""Polling a repository through the API with a real worker, against the GitHub fixture server
(tests/support/fake_scm.py): `POST /api/v1/repositories/{id}/poll` queues a poll whose commits then show in the
repository's lists; someone outside its organization gets 404; the scheduled `poll_repositories` sends a poll for
each repository that is due, and only those."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from models.db import db, utc_naive
from models.repository import Repository
from tests.support.envelope import assert_error
from tests.support.fake_scm import FakeGitHubRepos, github_commit, github_pull, github_review, github_user
from tests.support.processes import wait_for

# The fixture server listens on 127.0.0.1: the app and the worker let it in (POLL_ALLOW_PRIVATE).
pytestmark = pytest.mark.local_receivers
ORGS, REPOS = "/api/v1/organizations", "/api/v1/repositories"
REPO = "acme/widgets"
ALICE, BOB = github_user("alice", 1001), github_user("bob", 1002)


def sha(n: int) -> str:
    return f"{n:040x}"


def ago(**delta: float) -> datetime:
    return datetime.now(UTC) - timedelta(**delta)


@pytest.fixture
def github() -> Iterator[FakeGitHubRepos]:
    with FakeGitHubRepos() as server:
        server.commits[REPO] = [github_commit(sha(1), ago(days=3), user=ALICE, message="Add the widget"),
                                github_commit(sha(2), ago(days=1), user=BOB, name="Bob", email="bob@example.com")]
        server.pulls[REPO] = [github_pull(7, ALICE, created=ago(days=2), updated=ago(days=1), merged_at=ago(days=1),
                                          additions=12, deletions=3)]
        server.reviews[(REPO, 7)] = [github_review(71, BOB, "APPROVED", ago(days=1, hours=2), number=7)]
        yield server


def register(client: FlaskClient, headers: dict[str, str], server: FakeGitHubRepos,
             url: str = f"https://github.com/{REPO}") -> int:
    """A new organization (owned by `headers`' user) and a repository in it, read from `server`."""
    org = client.post(ORGS, headers=headers, json={"name": "Acme"})
    assert org.status_code == 201, org.get_json()
    created = client.post(REPOS, headers=headers, json={"organization_id": org.get_json()["id"], "url": url,
                                                        "provider": "github", "api_url": server.url,
                                                        "token": server.token})
    assert created.status_code == 201, created.get_json()
    return int(created.get_json()["id"])


def shown(client: FlaskClient, headers: dict[str, str], repo_id: int) -> dict[str, Any]:
    response = client.get(f"{REPOS}/{repo_id}", headers=headers)
    assert response.status_code == 200, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


@pytest.mark.slow
def test_an_owner_polls_now_and_the_commits_appear(
        client: FlaskClient, auth: Any, worker: Any, github: FakeGitHubRepos) -> None:
    owner = auth("user", username="olivia")
    repo = register(client, owner, github)
    response = client.post(f"{REPOS}/{repo}/poll", headers=owner)
    assert response.status_code == 202, response.get_json()
    body = response.get_json()
    assert body["status"] == "queued" and isinstance(body["message_id"], str) and body["message_id"]
    wait_for(lambda: shown(client, owner, repo)["status"] != "unknown", timeout=30, what="the worker to poll")
    detail = shown(client, owner, repo)
    assert (detail["status"], detail["last_error"]) == ("ok", None), detail
    assert detail["last_poll"] == {"batches": 1, "commits": 2, "pull_requests": 1, "reviews": 1, "issues": 0,
                                   "commit_details": 2, "requests": 9}
    assert (detail["backfill"]["status"], detail["backfill"]["progress"], detail["backfill"]["commits"]) == (
        "completed", 100, 2)
    assert detail["last_polled_at"] and detail["poll_cursor"] and detail["backfilled_at"]
    assert detail["commit_count"] == 2
    commits = client.get(f"{REPOS}/{repo}/commits", headers=owner).get_json()
    assert [(c["sha"], c["message"]) for c in commits["items"]] == [
        (sha(2), "Fix the flux capacitor"), (sha(1), "Add the widget")]  # newest first
    pulls = client.get(f"{REPOS}/{repo}/pull-requests", headers=owner).get_json()["items"]
    assert [(p["number"], p["state"], p["additions"], p["reviews"]) for p in pulls] == [(7, "merged", 12, 1)]
    assert {r.headers.get("authorization") for r in github.requests} == {f"Bearer {github.token}"}
    assert github.token not in client.get(f"{REPOS}/{repo}", headers=owner).get_data(as_text=True)


@pytest.mark.slow
def test_an_owner_asks_for_a_longer_backfill_and_the_older_history_appears(
        client: FlaskClient, auth: Any, worker: Any, github: FakeGitHubRepos) -> None:
    github.commits[REPO].append(github_commit(sha(3), ago(days=120), user=ALICE, message="Begin"))
    owner = auth("user", username="olivia")
    repo = register(client, owner, github)
    assert client.post(f"{REPOS}/{repo}/poll", headers=owner).status_code == 202
    wait_for(lambda: shown(client, owner, repo)["status"] != "unknown", timeout=30, what="the worker to poll")
    assert shown(client, owner, repo)["commit_count"] == 2  # the 120-day-old commit is before the 90-day window
    for bad in ({"days": 0}, {"days": 3651}, {"days": "a year"}, {"weeks": 20}, []):
        assert_error(client.post(f"{REPOS}/{repo}/backfill", headers=owner, json=bad), 422, "VALIDATION_ERROR")
    before = shown(client, owner, repo)
    assert before["backfill_days"] == 90 and before["poll_cursor"] is not None  # refused: nothing changed
    response = client.post(f"{REPOS}/{repo}/backfill", headers=owner, json={"days": 150})
    assert response.status_code == 202 and response.get_json()["status"] == "queued", response.get_json()
    wait_for(lambda: shown(client, owner, repo)["backfill"]["status"] == "completed"
             and shown(client, owner, repo)["backfill"].get("commits") == 3, timeout=30, what="the backfill")
    detail = shown(client, owner, repo)
    assert detail["backfill_days"] == 150 and detail["commit_count"] == 3 and detail["backfill"]["attempt"] == 1
    since = datetime.fromisoformat(detail["backfill"]["since"])
    assert abs(since - ago(days=150)) < timedelta(minutes=2)
    assert detail["poll_cursor"] is not None  # and the polls after it start from there again


def test_someone_outside_the_organization_gets_404(
        client: FlaskClient, auth: Any, github: FakeGitHubRepos) -> None:
    repo = register(client, auth("user", username="olivia"), github)
    outsider = auth("user", username="mallory")
    assert_error(client.post(f"{REPOS}/{repo}/poll", headers=outsider), 404, "NOT_FOUND")
    assert_error(client.post(f"{REPOS}/{repo}/backfill", headers=outsider, json={"days": 30}), 404, "NOT_FOUND")
    assert_error(client.get(f"{REPOS}/{repo}/commits", headers=outsider), 404, "NOT_FOUND")
    assert_error(client.post(f"{REPOS}/{repo + 1000}/poll", headers=outsider), 404, "NOT_FOUND")


def job(client: FlaskClient, admin: dict[str, str], name: str) -> dict[str, Any]:
    items = client.get("/api/v1/admin/jobs", headers=admin, query_string={"limit": 100}).get_json()["items"]
    return next(item for item in items if item["name"] == name)


@pytest.mark.slow
def test_the_scheduled_job_sends_a_poll_for_each_due_repository_only(
        client: FlaskClient, auth: Any, worker: Any, github: FakeGitHubRepos) -> None:
    owner, admin = auth("user", username="olivia"), auth("admin")
    due = register(client, owner, github)  # due from the moment it is registered
    later = register(client, owner, github, url="https://github.com/acme/gadgets")
    not_yet = utc_naive() + timedelta(hours=1)
    with db.connection_context():
        Repository.update(next_poll_at=not_yet).where(Repository.id == later).execute()
    run = client.post("/api/v1/admin/jobs/poll_repositories/run", headers=admin)
    assert run.status_code == 202, run.get_json()
    message_id = run.get_json()["message_id"]
    wait_for(lambda: job(client, admin, "poll_repositories").get("last_message_id") == message_id
             and job(client, admin, "poll_repositories").get("last_status") is not None,
             timeout=30, what="the job to run")
    ran = job(client, admin, "poll_repositories")
    assert (ran["last_status"], ran["last_result"], ran["last_trigger"]) == ("succeeded", {"sent": 1}, "manual"), ran
    wait_for(lambda: shown(client, owner, due)["status"] == "ok", timeout=30, what="the due repository's poll")
    assert client.get(f"{REPOS}/{due}/commits", headers=owner).get_json()["total"] == 2
    untouched = shown(client, owner, later)
    assert (untouched["status"], untouched["last_polled_at"], untouched["last_poll"]) == ("unknown", None, None)
    assert [r.path for r in github.requests if r.path.startswith("/repos/acme/gadgets")] == []
    with db.connection_context():
        assert Repository.get_by_id(later).next_poll_at == not_yet
        assert Repository.get_by_id(due).next_poll_at > utc_naive()  # claimed for its next interval
