"""Issues with their milestones and points (for part 2's velocity): from GitHub's `issues` hook and issues list
(points from a `points:N` label; pull requests in that list are not issues), and from GitLab's issue hook and
issues list (points are the weight), stored once per repository and number, never overwritten by an older copy;
a milestone named by id only (GitLab's hook) keeps the title a poll brought."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from core.runtime import Runtime
from domain.engineering import poller
from domain.engineering.hooks import github_activity, gitlab_activity
from domain.engineering.ingest import ingest
from domain.engineering.records import PayloadError, points_of
from models.activity import Issue, Milestone
from models.db import db
from models.organization import Organization
from models.repository import Repository
from tests.support.fake_scm import (
    FakeGitHubRepos,
    FakeGitLabRepos,
    github_issue,
    github_milestone,
    github_pull,
    github_user,
    gitlab_issue,
    gitlab_milestone,
    gitlab_user,
)

pytestmark = pytest.mark.local_receivers  # the fixture servers listen on 127.0.0.1 (POLL_ALLOW_PRIVATE)
ALICE = github_user("alice", 1001)
G_ALICE = gitlab_user("alice", "Alice Liddell", 2001)
SPRINT = github_milestone(77, 3, "Sprint 3", due_on="2026-12-20T00:00:00Z")


def ago(**delta: float) -> datetime:
    return datetime.now(UTC) - timedelta(**delta)


def repository(org: Organization, provider: str, api_url: str = "https://93.184.216.34",
               token: str | None = None) -> Repository:
    path = "acme/widgets" if provider == "github" else "acme/platform/widgets"
    with db.connection_context():
        return Repository.create(organization=org, name="widgets", url=f"https://{provider}.example.com/{path}",
                                 full_name=path, provider=provider, api_url=api_url, token=token,
                                 hook_secret="issue-hook-secret")


def issues() -> dict[int, Issue]:
    with db.connection_context():
        return {i.number: i for i in Issue.select()}


def milestones() -> list[tuple[str, str | None, str | None]]:
    with db.connection_context():
        return [(m.external_id, m.title, m.state) for m in Milestone.select().order_by(Milestone.id)]


def gitlab_issue_hook(iid: int, *, weight: int | None, milestone_id: int | None, updated: str,
                      state: str = "opened") -> dict[str, Any]:
    return {"object_kind": "issue", "event_type": "issue", "user": G_ALICE,
            "project": {"id": 42, "path_with_namespace": "acme/platform/widgets"},
            "object_attributes": {"id": 3000 + iid, "iid": iid, "title": f"Issue {iid}", "author_id": 2001,
                                  "state": state, "created_at": "2026-12-01 09:00:00 UTC", "updated_at": updated,
                                  "closed_at": None, "weight": weight, "milestone_id": milestone_id,
                                  "labels": [{"id": 5, "title": "bug"}], "action": "update"}}


@pytest.mark.parametrize(("labels", "points"), [
    (("bug", "points:3"), 3), (("Points = 8",), 8), (("point:1", "points:5"), 1), (("bug",), None),
    (("points:lots",), None), (("points:12345",), None)])
def test_points_come_from_the_first_points_label(labels: tuple[str, ...], points: int | None) -> None:
    assert points_of(labels) == points


def test_a_github_issues_hook_carries_its_milestone_points_and_labels() -> None:
    issue = github_issue(12, ALICE, labels=("bug", "points:5"), milestone=SPRINT, created="2026-12-01T09:00:00Z")
    activity = github_activity("issues", {"action": "opened", "issue": issue})
    assert activity is not None
    (record,) = activity.issues
    assert (record.number, record.state, record.points, record.labels) == (12, "open", 5, ("bug", "points:5"))
    assert record.author.user_id == "1001" and record.opened_at == datetime(2026, 12, 1, 9)
    assert record.milestone is not None
    assert (record.milestone.external_id, record.milestone.title, record.milestone.state) == ("77", "Sprint 3", "open")
    assert record.milestone.due_on == datetime(2026, 12, 20)


@pytest.mark.parametrize("issue", [None, "12", {"number": 1, "title": "x", "labels": "points:3"},
                                   {"number": 1, "title": "x", "milestone": {"id": "77", "title": "S"}}])
def test_a_malformed_github_issue_is_a_payload_error(issue: Any) -> None:
    with pytest.raises(PayloadError):
        github_activity("issues", {"action": "opened", "issue": issue})


def test_a_gitlab_issue_hook_is_an_issue_with_its_weight_and_milestone_id() -> None:
    activity = gitlab_activity(gitlab_issue_hook(4, weight=8, milestone_id=900, updated="2026-12-02 10:00:00 UTC"))
    assert activity is not None
    (record,) = activity.issues
    assert (record.number, record.points, record.labels, record.state) == (4, 8, ("bug",), "open")
    assert record.milestone is not None and (record.milestone.external_id, record.milestone.title) == ("900", None)
    assert record.author.login == "alice"  # the acting user is the author: their account is known


def test_an_issue_is_stored_once_and_an_older_copy_changes_nothing(org: Organization) -> None:
    repo = repository(org, "gitlab")
    newer = gitlab_activity(gitlab_issue_hook(4, weight=8, milestone_id=None, updated="2026-12-03 10:00:00 UTC",
                                              state="closed"))
    older = gitlab_activity(gitlab_issue_hook(4, weight=2, milestone_id=None, updated="2026-12-02 10:00:00 UTC"))
    assert newer is not None and older is not None
    with db.connection_context():
        ingest(repo, newer)
        ingest(repo, older)
        ingest(repo, newer)
    (stored,) = issues().values()
    assert (stored.state, stored.points, stored.provider_updated_at) == ("closed", 8, datetime(2026, 12, 3, 10))


def test_a_milestone_named_by_id_keeps_the_title_a_poll_brought(
        runtime: Runtime, org: Organization) -> None:
    with FakeGitLabRepos() as gitlab:
        gitlab.projects["acme/platform/widgets"] = 42
        gitlab.issues[42] = [gitlab_issue(4, G_ALICE, project_id=42, weight=3, created=ago(days=3),
                                          updated=ago(days=2), milestone=gitlab_milestone(900, 1, "Q1 goals"))]
        repo = repository(org, "gitlab", gitlab.url, gitlab.token)
        with db.connection_context():
            assert poller.poll(runtime, repo)["status"] == "ok"
    hook = gitlab_activity(gitlab_issue_hook(4, weight=5, milestone_id=900,
                                             updated=(datetime.now(UTC)).strftime("%Y-%m-%d %H:%M:%S UTC")))
    assert hook is not None
    with db.connection_context():
        ingest(repo, hook)
    assert milestones() == [("900", "Q1 goals", "open")]
    assert issues()[4].points == 5


def test_github_polling_reads_issues_and_leaves_pull_requests_to_the_pulls(
        runtime: Runtime, org: Organization) -> None:
    with FakeGitHubRepos() as github:
        github.pulls["acme/widgets"] = [github_pull(7, ALICE, created=ago(days=2), updated=ago(days=1))]
        github.issues["acme/widgets"] = [
            github_issue(5, ALICE, labels=("points:2",), milestone=SPRINT, created=ago(days=4), updated=ago(days=3)),
            github_issue(6, ALICE, state="closed", created=ago(days=5), updated=ago(days=1), closed=ago(days=1)),
            github_issue(7, ALICE, created=ago(days=2), updated=ago(days=1), pull_request=True),
            github_issue(2, ALICE, created=ago(days=400), updated=ago(days=300))]  # before the backfill window
        repo = repository(org, "github", github.url, github.token)
        with db.connection_context():
            outcome = poller.poll(runtime, repo)
        (listed,) = [r for r in github.requests if r.path.endswith("/issues")]
    assert outcome["status"] == "ok" and outcome["issues"] == 2
    assert listed.query["state"] == "all" and "since" in listed.query
    stored = issues()
    assert sorted(stored) == [5, 6]
    assert (stored[5].points, stored[5].state, stored[6].state, stored[6].points) == (2, "open", "closed", None)
    assert milestones() == [("77", "Sprint 3", "open")]


def test_the_issues_of_a_repository_are_listed_with_their_milestones(
        client: FlaskClient, auth: Any, org: Organization) -> None:
    owner = auth("user", "owner")
    made = client.post("/api/v1/organizations", headers=owner, json={"name": "Mine"}).get_json()
    repo = client.post("/api/v1/repositories", headers=owner, json={
        "organization_id": made["id"], "provider": "github", "url": "https://github.com/acme/widgets",
        "api_url": "https://93.184.216.34"}).get_json()
    activity = github_activity("issues", {"action": "opened", "issue": github_issue(
        12, ALICE, labels=("points:5",), milestone=SPRINT, created="2026-12-01T09:00:00Z")})
    assert activity is not None
    with db.connection_context():
        ingest(Repository.get_by_id(repo["id"]), activity)
    listed = client.get(f"/api/v1/repositories/{repo['id']}/issues?state=open", headers=owner).get_json()
    assert listed["total"] == 1
    (item,) = listed["items"]
    assert (item["number"], item["points"], item["labels"], item["milestone"]["title"]) == (
        12, 5, ["points:5"], "Sprint 3")
    assert client.get(f"/api/v1/repositories/{repo['id']}/issues?state=closed",
                      headers=owner).get_json()["total"] == 0
    assert client.get(f"/api/v1/repositories/{repo['id']}/issues", headers=auth("user", "outsider")).status_code == 404
