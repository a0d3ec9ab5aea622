"""Polling a repository (domain/engineering/poller.py, sources.py, ingest.py) from fixture servers that speak
GitHub's and GitLab's REST APIs (tests/support/fake_scm.py), into the real database: the first poll reaches back
`backfill_days`, later ones start where the last complete poll did (less five minutes); commits, pull requests and
reviews are stored once however often they are read; a rate limit, a garbage answer or a refused target leaves the
cursor and what was stored as they were, and never shows the token."""
from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from core import cache
from core.runtime import Runtime
from domain.engineering import poller
from domain.engineering.backfill import backfill_requested
from models.activity import Commit, PullRequest, Review
from models.db import db, utc_naive
from models.developer import DeveloperIdentity
from models.organization import Organization
from models.repository import Repository
from tests.support.fake_payloads import Recorded
from tests.support.fake_scm import (
    SECONDARY_LIMIT_MESSAGE,
    FakeGitHubRepos,
    FakeGitLabRepos,
    github_commit,
    github_pull,
    github_review,
    github_review_comment,
    github_user,
    gitlab_commit,
    gitlab_merge_request,
    gitlab_note,
    gitlab_user,
)

pytestmark = pytest.mark.local_receivers  # the fixture servers listen on 127.0.0.1 (POLL_ALLOW_PRIVATE)
REPO = "acme/widgets"
GITLAB_PATH = "acme/platform/widgets"
PROJECT = 42
HOOK_SECRET = "whsec-poll-3f9a1c7e5b0d"
BACKFILL = timedelta(days=90)  # Repository.backfill_days' default
OVERLAP = timedelta(minutes=5)

ALICE, BOB, CAROL = github_user("alice", 1001), github_user("bob", 1002), github_user("carol", 1003)
G_ALICE = gitlab_user("alice", "Alice Liddell", 2001)
G_BOB = gitlab_user("bob", "Bob Builder", 2002)
G_CAROL = gitlab_user("carol", "Carol Danvers", 2003)


FIRST_COMMIT_OF_7 = datetime.now(UTC).replace(microsecond=0) - timedelta(days=5)


def sha(n: int) -> str:
    return f"{n:040x}"


def ago(**delta: float) -> datetime:
    return datetime.now(UTC) - timedelta(**delta)


def naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def when(text: str) -> datetime:
    """A time the poller sent (`2026-01-01T00:00:00Z`) as naive UTC."""
    return naive(datetime.fromisoformat(text))


@pytest.fixture
def github() -> Iterator[FakeGitHubRepos]:
    """alice's and bob's commits (and one by an author GitHub knows no account for) in the last days, one from
    before the backfill window; #7 merged with three reviews, #8 open, #3 closed long ago."""
    with FakeGitHubRepos() as server:
        server.commits[REPO] = [
            github_commit(sha(1), ago(days=3), user=ALICE, message="Add the widget\n\nWith tests."),
            github_commit(sha(2), ago(days=2), user=None, name="Ghost Writer", email="ghost@example.com"),
            github_commit(sha(3), ago(days=1), user=BOB, name="Bob Builder", email="bob@example.com"),
            github_commit(sha(4), ago(days=120), user=ALICE),
        ]
        server.pulls[REPO] = [
            github_pull(7, ALICE, created=ago(days=4), updated=ago(days=2), merged_at=ago(days=2), additions=120,
                        deletions=30, merged_by=BOB),
            github_pull(8, BOB, created=ago(days=1), updated=ago(hours=20), additions=5, deletions=1),
            github_pull(3, ALICE, state="closed", created=ago(days=300), updated=ago(days=200),
                        closed_at=ago(days=200)),
        ]
        server.reviews[(REPO, 7)] = [
            github_review(71, BOB, "COMMENTED", ago(days=3), number=7, body="Why not a list?"),
            github_review(72, CAROL, "CHANGES_REQUESTED", ago(days=3), number=7),
            github_review(73, BOB, "APPROVED", ago(days=2, hours=1), number=7),
        ]
        # #7's branch: two commits, the first authored five days ago (before the pull request was opened)
        server.pull_commits[(REPO, 7)] = [github_commit(sha(70), FIRST_COMMIT_OF_7, user=ALICE),
                                          github_commit(sha(71), ago(days=4, hours=2), user=ALICE)]
        yield server


@pytest.fixture
def gitlab() -> Iterator[FakeGitLabRepos]:
    """Two commits with stats (one written at UTC+2), one from before the window; !5 merged, approved by bob and
    commented on by carol (and two system notes), !6 open, !2 closed long ago."""
    with FakeGitLabRepos() as server:
        server.projects[GITLAB_PATH] = PROJECT
        server.commits[PROJECT] = [
            gitlab_commit(sha(11), ago(days=2), additions=40, deletions=4, offset_hours=2, project_path=GITLAB_PATH),
            gitlab_commit(sha(12), ago(days=1), author_name="Bob Builder", author_email="bob@example.com",
                          additions=3, deletions=0, project_path=GITLAB_PATH),
            gitlab_commit(sha(13), ago(days=200), project_path=GITLAB_PATH),
        ]
        server.merge_requests[PROJECT] = [
            gitlab_merge_request(5, G_ALICE, project_id=PROJECT, state="merged", created=ago(days=3),
                                 updated=ago(days=1), merged_at=ago(days=1), merged_by=G_BOB, project_path=GITLAB_PATH),
            gitlab_merge_request(6, G_BOB, project_id=PROJECT, created=ago(hours=5), updated=ago(hours=4),
                                 project_path=GITLAB_PATH),
            gitlab_merge_request(2, G_ALICE, project_id=PROJECT, state="closed", created=ago(days=400),
                                 updated=ago(days=300), closed_at=ago(days=300), project_path=GITLAB_PATH),
        ]
        server.approve(PROJECT, 5, G_BOB, ago(days=1, hours=2))
        server.notes[(PROJECT, 5)] = [
            gitlab_note(501, G_CAROL, ago(days=2), body="Why not a list?", iid=5, project_id=PROJECT),
            gitlab_note(502, G_BOB, ago(days=1, hours=2), body="approved this merge request", system=True, iid=5,
                        project_id=PROJECT),
            gitlab_note(503, G_ALICE, ago(days=2, hours=1), body="added 1 commit", system=True, iid=5,
                        project_id=PROJECT),
        ]
        yield server


def add_repository(org: Organization, server: FakeGitHubRepos | FakeGitLabRepos, **fields: Any) -> int:
    """A repository read from `server` (its url, its token), as registering one stores it."""
    provider = "github" if isinstance(server, FakeGitHubRepos) else "gitlab"
    path = REPO if provider == "github" else GITLAB_PATH
    host = "https://github.com" if provider == "github" else "https://gitlab.example.com"
    values = {"organization": org, "name": path.rsplit("/", 1)[-1], "url": f"{host}/{path}", "full_name": path,
              "provider": provider, "api_url": server.url, "token": server.token, "hook_secret": HOOK_SECRET, **fields}
    with db.connection_context():
        return int(Repository.create(**values).id)


def poll(rt: Runtime, repo_id: int) -> dict[str, Any]:
    with db.connection_context():
        return poller.poll(rt, Repository.get_by_id(repo_id))


def reload(repo_id: int) -> Any:
    with db.connection_context():
        return Repository.get_by_id(repo_id)


def rows(model: Any, *where: Any) -> list[Any]:
    with db.connection_context():
        query = model.select().where(*where) if where else model.select()
        return list(query.order_by(model.id))


def account(identity_id: int | None) -> tuple[str, str] | None:
    with db.connection_context():
        found = DeveloperIdentity.get_or_none(DeveloperIdentity.id == identity_id)
        return None if found is None else (found.provider, found.provider_user_id)


def stored(repo_id: int) -> dict[str, Any]:
    """Everything stored for the repository, by row id: commits, pull requests, reviews."""
    pulls = rows(PullRequest, PullRequest.repository == repo_id)
    return {"commits": {c.id: (c.sha, c.additions, c.deletions) for c in rows(Commit, Commit.repository == repo_id)},
            "pulls": {p.id: (p.number, p.state, p.additions, p.deletions) for p in pulls},
            "reviews": {r.id: (r.pull_request_id, r.external_id, r.state)
                        for r in rows(Review, Review.pull_request << [p.id for p in pulls])}}


def asked(server: FakeGitHubRepos | FakeGitLabRepos, suffix: str) -> list[Recorded]:
    return [r for r in server.requests if r.path.endswith(suffix)]


# GitHub ---------------------------------------------------------------------------------------------------

def test_the_first_poll_reaches_back_the_backfill_window_and_stores_commits_pulls_and_reviews(
        runtime: Runtime, org: Organization, github: FakeGitHubRepos) -> None:
    repo = add_repository(org, github)
    before = utc_naive()
    result = poll(runtime, repo)
    after = utc_naive()
    assert result["status"] == "ok", result
    (listed,) = asked(github, f"/repos/{REPO}/commits")
    assert before - BACKFILL - timedelta(seconds=1) <= when(listed.query["since"]) <= after - BACKFILL
    assert listed.query["per_page"] == "100"
    commits = {c.sha: c for c in rows(Commit, Commit.repository == repo)}
    assert set(commits) == {sha(1), sha(2), sha(3)}  # not sha(4), from before the window
    assert [account(commits[sha(n)].identity_id) for n in (1, 2, 3)] == [
        ("github", "1001"), ("git", "ghost@example.com"), ("github", "1002")]
    assert [commits[sha(n)].author_email for n in (1, 2, 3)] == ["alice@example.com", "ghost@example.com",
                                                                 "bob@example.com"]
    assert commits[sha(1)].message == "Add the widget"
    # The list has no line counts: each commit lacking them is asked for once ("Get a commit").
    assert {(c.additions, c.deletions) for c in commits.values()} == {(10, 2)}
    assert sorted(r.path.rsplit("/", 1)[-1] for r in github.requests if "/commits/" in r.path) == [
        sha(1), sha(2), sha(3)]
    pulls = {p.number: p for p in rows(PullRequest, PullRequest.repository == repo)}
    assert {n: (p.state, p.additions, p.deletions) for n, p in pulls.items()} == {
        7: ("merged", 120, 30), 8: ("open", 5, 1)}
    assert account(pulls[7].identity_id) == ("github", "1001") and pulls[7].head_ref == "feature-7"
    listed_7 = next(p for p in github.pulls[REPO] if p["number"] == 7)
    assert (pulls[7].head_sha, pulls[7].merge_commit_sha) == (listed_7["head"]["sha"], listed_7["merge_commit_sha"])
    assert pulls[7].merge_commit_sha is not None and pulls[8].merge_commit_sha is None
    assert [r.path for r in github.requests if "/pulls/" in r.path] == [
        f"/repos/{REPO}/pulls/8", f"/repos/{REPO}/pulls/8/commits", f"/repos/{REPO}/pulls/8/reviews",
        f"/repos/{REPO}/pulls/7", f"/repos/{REPO}/pulls/7/commits", f"/repos/{REPO}/pulls/7/reviews",  # not #3
        f"/repos/{REPO}/pulls/comments"]
    # When the branch's first commit was authored: the start of part 2's cycle time (none listed for #8).
    assert (pulls[7].first_commit_at, pulls[8].first_commit_at) == (naive(FIRST_COMMIT_OF_7), None)
    reviews = rows(Review, Review.pull_request == pulls[7].id)
    assert [(r.external_id, r.state, account(r.identity_id)) for r in reviews] == [
        ("71", "commented", ("github", "1002")), ("72", "changes_requested", ("github", "1003")),
        ("73", "approved", ("github", "1002"))]
    row = reload(repo)
    assert (row.status, row.last_error, row.rate_limited_until) == ("ok", None, None)
    assert before - OVERLAP <= row.poll_cursor <= after - OVERLAP
    assert before <= row.backfilled_at <= utc_naive() and row.last_polled_at is not None
    assert row.last_poll == {"batches": 1, "commits": 3, "pull_requests": 2, "reviews": 3, "issues": 0,
                             "commit_details": 3, "requests": 13}  # the (empty) issues list, then each commit
    assert len(github.requests) == 13
    assert {(r.headers.get("authorization"), r.headers.get("accept")) for r in github.requests} == {
        (f"Bearer {github.token}", "application/vnd.github+json")}


def test_the_next_poll_starts_where_the_last_one_did_less_five_minutes(
        runtime: Runtime, org: Organization, github: FakeGitHubRepos) -> None:
    repo = add_repository(org, github)
    poll(runtime, repo)
    cursor, backfilled = reload(repo).poll_cursor, reload(repo).backfilled_at
    first = len(github.requests)
    result = poll(runtime, repo)
    assert result["status"] == "ok", result
    second = asked(github, f"/repos/{REPO}/commits")[1]
    assert when(second.query["since"]) == cursor.replace(microsecond=0)  # not the backfill window again
    # Nothing changed since: one page of commits, one of pull requests, one of issues, no pull request read again.
    assert [r.path for r in github.requests[first:]] == [f"/repos/{REPO}/commits", f"/repos/{REPO}/pulls",
                                                          f"/repos/{REPO}/pulls/comments", f"/repos/{REPO}/issues"]
    row = reload(repo)
    assert row.poll_cursor > cursor and row.backfilled_at == backfilled
    assert row.last_poll == {"batches": 0, "commits": 0, "pull_requests": 0, "reviews": 0, "issues": 0,
                             "commit_details": 0, "requests": 4}


def test_review_comments_are_read_for_the_whole_repository_since_the_cursor_and_stored_once(
        runtime: Runtime, org: Organization, github: FakeGitHubRepos) -> None:
    """"List review comments in a repository": one list for every pull request's comments on diffs, changed since
    the cursor; each is a `commented` review of its pull request, by its author."""
    github.review_comments[REPO] = [
        github_review_comment(501, CAROL, ago(days=1), number=7, review_id=72),
        github_review_comment(502, ALICE, ago(hours=2), number=8),
        github_review_comment(400, BOB, ago(days=200), number=3),  # before the window, on a pull request not read
    ]
    repo = add_repository(org, github)
    before = utc_naive()
    result = poll(runtime, repo)
    assert result["status"] == "ok" and result["reviews"] == 3 + 2, result  # #7's three reviews, two comments
    (listed,) = asked(github, f"/repos/{REPO}/pulls/comments")
    assert (listed.query["sort"], listed.query["direction"], listed.query["per_page"]) == ("updated", "desc", "100")
    assert before - BACKFILL - timedelta(seconds=1) <= when(listed.query["since"]) <= utc_naive() - BACKFILL
    pulls = {p.number: p.id for p in rows(PullRequest, PullRequest.repository == repo)}
    comments = {r.external_id: r for r in rows(Review, Review.external_id.startswith("comment-"))}
    assert {key: (r.pull_request_id, r.state, account(r.identity_id)) for key, r in comments.items()} == {
        "comment-501": (pulls[7], "commented", ("github", "1003")),
        "comment-502": (pulls[8], "commented", ("github", "1001"))}
    assert abs(comments["comment-502"].submitted_at - naive(ago(hours=2))) < timedelta(seconds=5)
    with db.connection_context():
        Repository.update(poll_cursor=None).where(Repository.id == repo).execute()
    assert poll(runtime, repo)["status"] == "ok"
    assert len(rows(Review, Review.external_id.startswith("comment-"))) == 2


def test_what_polls_read_again_is_stored_once(runtime: Runtime, org: Organization, github: FakeGitHubRepos) -> None:
    """A commit and a pull request from the last minute fall in the next poll's overlap, and a poll whose cursor is
    lost reads the whole window again: every commit, pull request and review is still one row."""
    github.commits[REPO].append(github_commit(sha(5), ago(minutes=1), user=CAROL, email="carol@example.com"))
    github.pulls[REPO].append(github_pull(9, CAROL, created=ago(minutes=3), updated=ago(minutes=1)))
    github.reviews[(REPO, 9)] = [github_review(91, ALICE, "APPROVED", ago(minutes=1), number=9)]
    repo = add_repository(org, github)
    poll(runtime, repo)
    first = stored(repo)
    assert (len(first["commits"]), len(first["pulls"]), len(first["reviews"])) == (4, 3, 4)
    again = poll(runtime, repo)
    assert (again["commits"], again["pull_requests"], again["reviews"]) == (1, 1, 1)  # read again ...
    assert stored(repo) == first  # ... and stored once
    with db.connection_context():
        Repository.update(poll_cursor=None).where(Repository.id == repo).execute()
    assert poll(runtime, repo)["commits"] == 4
    assert stored(repo) == first
    with db.connection_context():
        assert DeveloperIdentity.select().count() == 4  # alice, bob, carol, and the ghost's email


def test_more_than_a_hundred_commits_are_read_page_by_page(
        runtime: Runtime, org: Organization, github: FakeGitHubRepos) -> None:
    github.commits[REPO] = [github_commit(sha(100 + n), ago(hours=n + 1), user=ALICE) for n in range(250)]
    repo = add_repository(org, github)
    result = poll(runtime, repo)
    assert result["status"] == "ok" and result["commits"] == 250
    pages = asked(github, f"/repos/{REPO}/commits")
    assert [(r.query["page"], r.query["per_page"], r.status) for r in pages] == [
        ("1", "100", 200), ("2", "100", 200), ("3", "100", 200)]
    assert len({r.query["since"] for r in pages}) == 1
    assert {c.sha for c in rows(Commit, Commit.repository == repo)} == {sha(100 + n) for n in range(250)}
    assert reload(repo).last_poll["batches"] == 1  # three pages and two pull requests: fewer than BATCH_RECORDS
    # Line counts come one request a commit, a hundred a poll, newest first: the rest fill in at the next polls.
    counted = [c for c in rows(Commit, Commit.repository == repo) if c.additions is not None]
    newest = sorted(rows(Commit, Commit.repository == repo), key=lambda c: c.authored_at, reverse=True)[:100]
    assert {c.sha for c in counted} == {c.sha for c in newest} and reload(repo).last_poll["commit_details"] == 100


def test_a_secondary_rate_limit_backs_off_keeping_the_cursor_and_what_was_stored(
        runtime: Runtime, org: Organization, github: FakeGitHubRepos) -> None:
    repo = add_repository(org, github)
    poll(runtime, repo)
    cursor = reload(repo).poll_cursor
    github.commits[REPO].append(github_commit(sha(5), ago(seconds=30), user=BOB, email="bob@example.com"))
    github.secondary_limit_after = 1  # the commits are read; the pull requests are refused
    before = utc_naive()
    result = poll(runtime, repo)
    assert result["status"] == "rate_limited", result
    assert github.requests[-1].status == 403 and github.requests[-1].path == f"/repos/{REPO}/pulls"
    row = reload(repo)
    assert row.status == "rate_limited" and "rate limited" in row.last_error
    assert before + timedelta(seconds=59) <= row.rate_limited_until <= utc_naive() + timedelta(seconds=60)
    assert row.next_poll_at == row.rate_limited_until
    assert row.poll_cursor == cursor
    assert row.last_poll == {"batches": 1, "commits": 1, "pull_requests": 0, "reviews": 0, "issues": 0,
                             "commit_details": 0, "requests": 2}
    assert sha(5) in {c.sha for c in rows(Commit, Commit.repository == repo)}  # the page read before is kept
    assert len(stored(repo)["pulls"]) == 2 and len(stored(repo)["reviews"]) == 3
    # The limit lifts (and its time passes): the next poll starts from the same cursor.
    github.secondary_limit_after = None
    with db.connection_context():
        Repository.update(rate_limited_until=None).where(Repository.id == repo).execute()
    assert poll(runtime, repo)["status"] == "ok"
    assert when(asked(github, f"/repos/{REPO}/commits")[-1].query["since"]) == cursor.replace(microsecond=0)
    row = reload(repo)
    assert (row.status, row.last_error, row.rate_limited_until) == ("ok", None, None) and row.poll_cursor > cursor


def test_a_rate_limit_while_reading_line_counts_keeps_the_new_cursor(
        runtime: Runtime, org: Organization, github: FakeGitHubRepos) -> None:
    """Everything since the cursor was read and stored before the line counts were asked for: the cursor moves
    on although the poll stops at the limit, and the next poll asks only for the counts still missing."""
    repo = add_repository(org, github)
    github.secondary_limit_after = 10  # commits, pulls, 2 x (detail, commits, reviews), review comments, issues;
    # then the first "Get a commit" is refused
    before = utc_naive()
    result = poll(runtime, repo)
    assert result["status"] == "rate_limited" and result["commit_details"] == 0
    assert github.requests[-1].status == 403 and "/commits/" in github.requests[-1].path
    row = reload(repo)
    assert row.status == "rate_limited" and row.poll_cursor is not None
    assert before - OVERLAP <= row.poll_cursor <= utc_naive() - OVERLAP and row.backfilled_at is not None
    assert {(c.additions, c.deletions) for c in rows(Commit, Commit.repository == repo)} == {(None, None)}


def test_a_repository_backing_off_is_skipped_without_a_request(
        runtime: Runtime, org: Organization, github: FakeGitHubRepos) -> None:
    until = utc_naive() + timedelta(minutes=10)
    repo = add_repository(org, github, status="rate_limited", rate_limited_until=until)
    result = poll(runtime, repo)
    assert "skipped" in result and "status" not in result
    assert github.requests == []
    row = reload(repo)
    assert (row.status, row.rate_limited_until, row.last_polled_at, row.poll_cursor) == (
        "rate_limited", until, None, None)



@pytest.mark.parametrize(("mode", "after"), [
    ("html", 0), ("object", 0), ("html", 1),  # 1: the commits are read, then the pull requests are garbage
    ("echo", 0),
])
def test_a_garbage_answer_is_an_error_that_keeps_the_data_and_never_shows_the_token(
        runtime: Runtime, org: Organization, github: FakeGitHubRepos, caplog: pytest.LogCaptureFixture,
        mode: str, after: int) -> None:
    caplog.set_level("DEBUG")
    repo = add_repository(org, github)
    poll(runtime, repo)
    kept, cursor = stored(repo), reload(repo).poll_cursor
    github.garbage, github.garbage_after = mode, after
    result = poll(runtime, repo)
    row = reload(repo)
    assert result["status"] == "error" and row.status == "error"
    assert row.last_error and row.last_error == result["error"]
    assert github.requests[-1].status == 200  # the server answered; what it said made no sense
    assert github.token not in row.last_error, row.last_error
    assert [str(r.__dict__) for r in caplog.records if github.token in str(r.__dict__)] == []
    assert stored(repo) == kept and row.poll_cursor == cursor and row.rate_limited_until is None


def test_a_refused_token_is_an_error_naming_the_request_not_the_token(
        runtime: Runtime, org: Organization, github: FakeGitHubRepos) -> None:
    wrong = "ghp_wrong_token_value_0123456789"
    repo = add_repository(org, github, token=wrong)
    assert poll(runtime, repo)["status"] == "error"
    row = reload(repo)
    assert row.last_error == f"GET /repos/{REPO}/commits: HTTP 401: Bad credentials"
    assert row.poll_cursor is None and row.backfilled_at is None


def test_an_api_url_on_127_0_0_1_is_refused_without_poll_allow_private(
        make_app: Any, org: Organization, github: FakeGitHubRepos) -> None:
    strict = make_app().extensions["conveyor"].runtime  # no POLL_ALLOW_PRIVATE
    assert strict.settings.poll_allow_private is False
    repo = add_repository(org, github)
    result = poll(strict, repo)
    assert result["status"] == "error" and result["error"].startswith("refused target"), result
    row = reload(repo)
    assert row.status == "error" and row.last_error.startswith("refused target")
    assert github.token not in row.last_error and row.poll_cursor is None and row.backfilled_at is None
    assert github.requests == []


# GitLab ---------------------------------------------------------------------------------------------------

def test_gitlab_stats_approvals_and_notes_become_line_counts_and_reviews(
        runtime: Runtime, org: Organization, gitlab: FakeGitLabRepos) -> None:
    repo = add_repository(org, gitlab)
    before = utc_naive()
    result = poll(runtime, repo)
    assert result["status"] == "ok", result
    base = "/api/v4/projects/acme%2Fplatform%2Fwidgets"
    assert {r.raw_path.split("?")[0].startswith(base + "/") for r in gitlab.requests} == {True}
    assert {r.headers.get("private-token") for r in gitlab.requests} == {gitlab.token}
    (listed,) = asked(gitlab, "/repository/commits")
    assert listed.query["with_stats"] == "true"
    assert abs(when(listed.query["since"]) - (before - BACKFILL)) < timedelta(seconds=5)
    (merge_requests,) = asked(gitlab, "/merge_requests")
    assert (merge_requests.query["order_by"], merge_requests.query["sort"], merge_requests.query["state"]) == (
        "updated_at", "desc", "all")
    assert abs(when(merge_requests.query["updated_after"]) - (before - BACKFILL)) < timedelta(seconds=5)
    commits = {c.sha: c for c in rows(Commit, Commit.repository == repo)}
    assert {s: (c.additions, c.deletions) for s, c in commits.items()} == {sha(11): (40, 4), sha(12): (3, 0)}
    written = gitlab.commits[PROJECT][0]["authored_date"]  # at UTC+2
    assert written.endswith("+02:00") and commits[sha(11)].authored_at == naive(datetime.fromisoformat(written))
    assert account(commits[sha(12)].identity_id) == ("git", "bob@example.com")
    pulls = {p.number: p for p in rows(PullRequest, PullRequest.repository == repo)}
    assert {n: p.state for n, p in pulls.items()} == {5: "merged", 6: "open"}
    assert (pulls[5].base_ref, pulls[5].head_ref, account(pulls[5].identity_id)) == (
        "main", "feature-5", ("gitlab", "2001"))
    listed_5 = next(m for m in gitlab.merge_requests[PROJECT] if m["iid"] == 5)
    assert (pulls[5].head_sha, pulls[5].merge_commit_sha) == (listed_5["sha"], listed_5["merge_commit_sha"])
    reviews = rows(Review, Review.pull_request == pulls[5].id)
    assert {(r.external_id, r.state, account(r.identity_id)) for r in reviews} == {
        ("approval-2002", "approved", ("gitlab", "2002")), ("note-501", "commented", ("gitlab", "2003"))}
    assert rows(Review, Review.pull_request == pulls[6].id) == []
    row = reload(repo)
    assert row.status == "ok" and row.poll_cursor is not None and row.backfilled_at is not None
    assert row.last_poll == {"batches": 1, "commits": 2, "pull_requests": 2, "reviews": 2, "issues": 0,
                             "commit_details": 0, "requests": len(gitlab.requests)}  # GitLab's list has the counts
    again = poll(runtime, repo)
    assert again["status"] == "ok" and when(asked(gitlab, "/merge_requests")[1].query["updated_after"]) == \
        row.poll_cursor.replace(microsecond=0)


def test_a_gitlab_approval_keeps_its_time_when_the_merge_request_changes_later(
        runtime: Runtime, org: Organization, gitlab: FakeGitLabRepos) -> None:
    """An approval is dated by `approved_by[].approved_at`; a later change to its merge request (a comment) that
    brings the approval back in the next poll does not move it to the merge request's new `updated_at`."""
    repo = add_repository(org, gitlab)
    poll(runtime, repo)
    (approval,) = [r for r in rows(Review) if r.external_id == "approval-2002"]
    given = when(gitlab.approvals[(PROJECT, 5)][0]["approved_at"])
    gitlab.notes[(PROJECT, 5)].append(gitlab_note(504, G_CAROL, ago(minutes=1), body="One more thing.", iid=5,
                                                  project_id=PROJECT))
    gitlab.merge_requests[PROJECT][0]["updated_at"] = gitlab.notes[(PROJECT, 5)][-1]["created_at"]
    poll(runtime, repo)
    (again,) = [r for r in rows(Review) if r.external_id == "approval-2002"]
    assert again.submitted_at == approval.submitted_at
    assert abs(again.submitted_at - given) < timedelta(seconds=1)


def test_gitlab_garbage_is_an_error_that_keeps_the_data(
        runtime: Runtime, org: Organization, gitlab: FakeGitLabRepos) -> None:
    gitlab.merge_requests[PROJECT].append(gitlab_merge_request(
        7, G_CAROL, project_id=PROJECT, created=ago(minutes=2), updated=ago(minutes=1), project_path=GITLAB_PATH))
    repo = add_repository(org, gitlab)
    poll(runtime, repo)
    kept = stored(repo)
    # The next poll reads !7 again (it is in the overlap): its list is fine, its approvals are not.
    gitlab.garbage, gitlab.garbage_after = "object", 2
    result = poll(runtime, repo)
    row = reload(repo)
    assert result["status"] == row.status == "error" and row.last_error
    assert asked(gitlab, "/merge_requests/7/approvals")[-1].status == 200
    assert gitlab.token not in row.last_error and stored(repo) == kept


# The fixture servers ----------------------------------------------------------------------------------------

def test_the_github_fixture_speaks_the_documented_shapes(github: FakeGitHubRepos) -> None:
    headers = {"Authorization": f"Bearer {github.token}", "Accept": "application/vnd.github+json"}

    def get(path: str, **params: Any) -> requests.Response:
        return requests.get(github.url + path, params=params, headers=headers, timeout=5)

    commits = get(f"/repos/{REPO}/commits", per_page=2)
    assert [c["sha"] for c in commits.json()] == [sha(3), sha(2)] and commits.links["next"]["url"].endswith("page=2")
    assert commits.json()[1]["author"] is None and "stats" not in commits.json()[0]
    assert commits.headers["X-RateLimit-Resource"] == "core" and int(commits.headers["X-RateLimit-Remaining"]) > 0
    listed = get(f"/repos/{REPO}/pulls", state="all", sort="updated", direction="desc").json()
    assert [p["number"] for p in listed] == [8, 7, 3] and "additions" not in listed[0]
    detail = get(f"/repos/{REPO}/pulls/7").json()
    assert (detail["merged"], detail["additions"], detail["state"]) == (True, 120, "closed")
    assert [r["state"] for r in get(f"/repos/{REPO}/pulls/7/reviews").json()] == [
        "COMMENTED", "CHANGES_REQUESTED", "APPROVED"]
    anonymous = requests.get(github.url + f"/repos/{REPO}/commits", timeout=5)
    assert (anonymous.status_code, anonymous.json()["message"]) == (401, "Bad credentials")
    github.secondary_limit_after = 0
    refused = get(f"/repos/{REPO}/commits")
    assert (refused.status_code, refused.headers["Retry-After"]) == (403, "60")
    assert refused.json()["message"] == SECONDARY_LIMIT_MESSAGE and refused.headers["X-RateLimit-Remaining"] != "0"


def test_the_gitlab_fixture_speaks_the_documented_shapes(gitlab: FakeGitLabRepos) -> None:
    base = f"{gitlab.url}/api/v4/projects/acme%2Fplatform%2Fwidgets"

    def get(path: str, **params: Any) -> requests.Response:
        return requests.get(base + path, params=params, headers={"PRIVATE-TOKEN": gitlab.token}, timeout=5)

    page = get("/repository/commits", per_page=1)
    assert [c["id"] for c in page.json()] == [sha(12)] and "stats" not in page.json()[0]
    assert (page.headers["X-Total"], page.headers["X-Next-Page"]) == ("3", "2") and "next" in page.links
    assert get("/repository/commits", with_stats="true").json()[0]["stats"] == {"additions": 3, "deletions": 0,
                                                                                 "total": 3}
    recent = get("/merge_requests", updated_after=naive(ago(days=30)).isoformat() + "Z", order_by="updated_at")
    assert [mr["iid"] for mr in recent.json()] == [6, 5] and recent.headers["X-Next-Page"] == ""
    assert get("/merge_requests/5/approvals").json()["approved_by"][0]["user"]["id"] == 2002
    assert [(n["id"], n["system"]) for n in get("/merge_requests/5/notes").json()] == [
        (502, True), (501, False), (503, True)]
    assert requests.get(base + "/repository/commits", timeout=5).status_code == 401
    assert requests.get(f"{gitlab.url}/api/v4/projects/acme/platform/widgets/repository/commits",
                        headers={"PRIVATE-TOKEN": gitlab.token}, timeout=5).status_code == 404


# The backfill as a tracked job ----------------------------------------------------------------------------

def test_the_first_poll_is_a_backfill_whose_progress_and_counts_the_repository_keeps(
        runtime: Runtime, org: Organization, github: FakeGitHubRepos) -> None:
    repo = add_repository(org, github)
    before = utc_naive()
    assert poll(runtime, repo)["status"] == "ok"
    backfill = reload(repo).backfill
    assert {k: backfill[k] for k in ("status", "attempt", "progress", "part", "error", "commits", "pull_requests",
                                     "reviews", "issues")} == {
        "status": "completed", "attempt": 1, "progress": 100, "part": None, "error": None, "commits": 3,
        "pull_requests": 2, "reviews": 3, "issues": 0}
    assert before - BACKFILL - timedelta(seconds=1) <= when(backfill["since"]) <= utc_naive() - BACKFILL
    milli = timedelta(milliseconds=1)  # the times are shown to the millisecond
    assert before - milli <= when(backfill["started_at"]) <= when(backfill["finished_at"]) <= utc_naive()
    # A later poll starts at the cursor: it is no backfill, and leaves the record as it was.
    assert poll(runtime, repo)["status"] == "ok"
    assert reload(repo).backfill == backfill


def test_a_backfill_cut_short_says_how_far_it_got_and_the_next_poll_starts_it_again(
        runtime: Runtime, org: Organization, github: FakeGitHubRepos) -> None:
    """Commits a day apart over the 90-day window, newest first: cut short after the commits, the backfill has
    read its first part whole (progress 50, commits being 0-50); the next poll is attempt 2 and completes."""
    github.commits[REPO] = [github_commit(sha(100 + n), ago(days=n + 0.5), user=ALICE) for n in range(89)]
    github.secondary_limit_after = 1  # the commits are read, the pull requests refused
    repo = add_repository(org, github)
    assert poll(runtime, repo)["status"] == "rate_limited"
    backfill = reload(repo).backfill
    assert (backfill["status"], backfill["attempt"], backfill["part"], backfill["commits"]) == (
        "rate_limited", 1, "commits", 89)
    assert 48 <= backfill["progress"] <= 50 and "rate limited" in backfill["error"]
    assert backfill["finished_at"] is not None and reload(repo).poll_cursor is None
    github.secondary_limit_after = None
    with db.connection_context():
        Repository.update(rate_limited_until=None).where(Repository.id == repo).execute()
    assert poll(runtime, repo)["status"] == "ok"
    backfill = reload(repo).backfill
    assert (backfill["status"], backfill["attempt"], backfill["progress"], backfill["commits"]) == (
        "completed", 2, 100, 89)


def test_a_backfill_shows_its_progress_while_it_runs(runtime: Runtime, org: Organization,
                                                     github: FakeGitHubRepos) -> None:
    """Read from the database by another connection while the poll waits on the provider: each batch stored
    moves the progress on, and the status is running until the end."""
    github.commits[REPO] = [github_commit(sha(100 + n), ago(days=n * 0.06), user=ALICE) for n in range(1500)]
    seen: list[tuple[str, int, int]] = []
    answer = github.answer

    def watching(request: Recorded) -> Any:
        # The commits are read: two batches (1,000, then 500 with what follows). The poll reads ahead while it
        # stores, so the first batch may still be on its way in: wait (holding the reader) for it to land.
        if request.path == f"/repos/{REPO}/pulls":
            deadline = time.monotonic() + 10
            while True:
                with db.connection_context():
                    state = Repository.get_by_id(repo).backfill
                if state["commits"] or time.monotonic() > deadline:
                    break
                time.sleep(0.01)
            seen.append((state["status"], state["progress"], state["commits"]))
        return answer(request)

    github.answer = watching  # type: ignore[method-assign]
    repo = add_repository(org, github)
    assert poll(runtime, repo)["status"] == "ok"
    assert len(seen) == 1 and seen[0][0] == "running" and seen[0][2] == 1000
    assert 0 < seen[0][1] < 50  # the first 1,000 commits reach back 60 of the 90 days: about two thirds of 50
    assert reload(repo).backfill["progress"] == 100


def test_a_backfill_asked_for_while_a_poll_runs_is_not_lost(runtime: Runtime, org: Organization,
                                                           github: FakeGitHubRepos) -> None:
    """Asking for a backfill clears the cursor (`POST .../backfill`); a poll running then must not set it back."""
    repo = add_repository(org, github)
    assert poll(runtime, repo)["status"] == "ok"
    answer = github.answer

    def asking(request: Recorded) -> Any:
        if request.path == f"/repos/{REPO}/pulls":  # half way through the second poll
            with db.connection_context():
                Repository.update(poll_cursor=None, backfill=backfill_requested()).where(
                    Repository.id == repo).execute()
        return answer(request)

    github.answer = asking  # type: ignore[method-assign]
    assert poll(runtime, repo)["status"] == "ok"
    assert reload(repo).poll_cursor is None and reload(repo).backfill["status"] == "queued"
    github.answer = answer  # type: ignore[method-assign]
    assert poll(runtime, repo)["status"] == "ok"
    backfill = reload(repo).backfill
    assert (backfill["status"], backfill["attempt"], backfill["commits"]) == ("completed", 1, 3)
    assert reload(repo).poll_cursor is not None


def test_every_poll_drops_the_cached_repository_view_after_recording_how_it_went(
        runtime: Runtime, org: Organization, github: FakeGitHubRepos) -> None:
    """The repository's detail shows its status and last poll: a poll that stored nothing still changed them (the
    figures, which it did not change, stay cached)."""
    repo = add_repository(org, github)
    assert poll(runtime, repo)["status"] == "ok"
    scope = cache.organization_scope(org.id)
    detail, figures = cache.key("repository", scope, {"id": repo}), cache.key("engineering_figures", scope, {})
    runtime.redis.set(detail, "as it was before the poll", ex=900)
    runtime.redis.set(figures, "still right", ex=300)
    again = poll(runtime, repo)
    assert (again["status"], again["batches"], again["commit_details"]) == ("ok", 0, 0)
    assert runtime.redis.get(detail) is None
    assert runtime.redis.get(figures) == "still right"


def test_a_gitlab_merge_requests_first_commit_time_is_its_earliest_commits(
        runtime: Runtime, org: Organization, gitlab: FakeGitLabRepos) -> None:
    """"Get single MR commits" lists newest first (and a rebase can reorder authored times): the earliest is kept,
    read in its author's offset as UTC."""
    earliest = datetime.now(UTC).replace(microsecond=0) - timedelta(days=6)
    gitlab.mr_commits[(PROJECT, 5)] = [
        gitlab_commit(sha(51), earliest + timedelta(days=1), project_path=GITLAB_PATH),
        gitlab_commit(sha(52), earliest, offset_hours=2, committed=earliest + timedelta(days=2),
                      project_path=GITLAB_PATH),
        gitlab_commit(sha(53), earliest + timedelta(days=3), project_path=GITLAB_PATH)]
    repo = add_repository(org, gitlab)
    assert poll(runtime, repo)["status"] == "ok"
    pulls = {p.number: p for p in rows(PullRequest, PullRequest.repository == repo)}
    assert (pulls[5].first_commit_at, pulls[6].first_commit_at) == (naive(earliest), None)
    assert f"/api/v4/projects/{GITLAB_PATH}/merge_requests/5/commits" in {r.path for r in gitlab.requests}


@pytest.mark.parametrize(("squash", "landed"), [(True, "squash"), (False, "head")])
def test_a_gitlab_merge_without_a_merge_commit_lands_its_squash_or_head_commit(
        runtime: Runtime, org: Organization, gitlab: FakeGitLabRepos, squash: bool, landed: str) -> None:
    """GitLab leaves `merge_commit_sha` empty when a merge made no merge commit: a squash put its
    `squash_commit_sha` on the target branch, a fast-forward its head (`sha`). That is the commit deployments
    are matched against."""
    (merged,) = [m for m in gitlab.merge_requests[PROJECT] if m["iid"] == 5]
    merged["merge_commit_sha"] = None
    merged["squash_commit_sha"] = sha(555) if squash else None
    repo = add_repository(org, gitlab)
    assert poll(runtime, repo)["status"] == "ok"
    (stored,) = rows(PullRequest, PullRequest.repository == repo, PullRequest.number == 5)
    assert stored.merge_commit_sha == (sha(555) if landed == "squash" else merged["sha"])
    assert stored.head_sha == merged["sha"]
