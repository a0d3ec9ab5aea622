"""Hook deliveries from GitHub and GitLab (domain/engineering/hooks.py): the signature and token checks, and
the activity each documented event carries, normalised (who, which shas and numbers, naive UTC times, states);
events not read are None and malformed bodies are a PayloadError (answered 400, nothing stored)."""
from __future__ import annotations

import copy
import hashlib
import hmac
import json
from datetime import datetime
from typing import Any

import pytest

from domain.engineering.hooks import github_activity, github_signature_ok, gitlab_activity, gitlab_token_ok
from domain.engineering.records import Activity, CommitRecord, PayloadError, Person, ReviewRecord
from tests.domain.engineering import payloads as p

SECRET = "whsec-3f9a1c7e5b"


def signed(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def github(event: str, payload: Any) -> Activity:
    activity = github_activity(event, payload)
    assert activity is not None
    return activity


def gitlab(payload: Any) -> Activity:
    activity = gitlab_activity(payload)
    assert activity is not None
    return activity


# Signatures -----------------------------------------------------------------------------------------------

def test_a_github_body_signed_with_the_hook_secret_is_accepted() -> None:
    body = json.dumps(p.github_push([p.github_commit(p.sha(1))])).encode()
    assert github_signature_ok(SECRET, body, signed(body))


@pytest.mark.parametrize("header", [
    pytest.param(None, id="missing"),
    pytest.param("", id="empty"),
    pytest.param("sha256=", id="no-digest"),
    pytest.param("OTHER", id="garbage"),
])
def test_a_github_delivery_without_a_usable_signature_is_refused(header: str | None) -> None:
    assert not github_signature_ok(SECRET, b'{"zen": "x"}', header)


def test_a_github_signature_made_with_another_secret_or_over_another_body_is_refused() -> None:
    body = json.dumps(p.github_ping()).encode()
    assert not github_signature_ok(SECRET, body, signed(body, secret="another-secret"))
    assert not github_signature_ok(SECRET, body + b" ", signed(body))
    assert github_signature_ok(SECRET, body, signed(body))  # the same check, with the right pair, passes


def test_a_github_signature_header_must_carry_the_sha256_prefix() -> None:
    """The bare hex digest (or GitHub's older `sha1=` header) is not the sha256 signature."""
    body = b'{"zen": "Design for failure."}'
    digest = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    sha1 = "sha1=" + hmac.new(SECRET.encode(), body, hashlib.sha1).hexdigest()
    assert not github_signature_ok(SECRET, body, digest)
    assert not github_signature_ok(SECRET, body, sha1)
    assert not github_signature_ok(SECRET, body, "SHA256=" + digest)
    assert github_signature_ok(SECRET, body, "sha256=" + digest)


def test_a_github_signature_header_with_non_ascii_characters_is_refused_not_an_error() -> None:
    body = b'{"zen": "x"}'
    assert not github_signature_ok(SECRET, body, "sha256=" + "\u00e9" * 64)


def test_a_gitlab_token_must_be_the_hook_secret() -> None:
    assert gitlab_token_ok(SECRET, SECRET)
    assert not gitlab_token_ok(SECRET, SECRET + "x")
    assert not gitlab_token_ok(SECRET, SECRET.upper())
    assert not gitlab_token_ok(SECRET, "")
    assert not gitlab_token_ok(SECRET, None)


# GitHub push ----------------------------------------------------------------------------------------------

def test_a_github_push_maps_each_commit_with_its_author_and_naive_utc_time() -> None:
    # given: one commit whose email GitHub tied to an account (username), one whose email it did not
    linked = p.github_commit(p.sha(1), message="Fix the flux capacitor\n\nIt was off by one.")
    loose = p.github_commit(p.sha(2), message="Update README", timestamp="2026-11-30T23:30:00-05:00",
                            name="Bob Builder", email="bob@laptop.local", username=None)
    # when
    activity = github("push", p.github_push([linked, loose]))
    # then
    assert activity.pulls == [] and activity.reviews == []
    assert activity.commits == [
        CommitRecord(sha=p.sha(1), author=Person("github", login="alice", name="Alice Liddell",
                                                 email="alice@example.com", email_verified=True),
                     authored_at=datetime(2026, 11, 30, 9, 15), committed_at=datetime(2026, 11, 30, 9, 15),
                     message="Fix the flux capacitor"),
        CommitRecord(sha=p.sha(2), author=Person("git", name="Bob Builder", email="bob@laptop.local"),
                     authored_at=datetime(2026, 12, 1, 4, 30), committed_at=datetime(2026, 12, 1, 4, 30),
                     message="Update README"),
    ]
    assert activity.commits[0].authored_at is not None and activity.commits[0].authored_at.tzinfo is None


def test_a_github_push_that_deletes_a_branch_carries_no_commits() -> None:
    payload = p.github_push([], ref="refs/heads/old")
    payload.update(deleted=True, after=p.ZERO_SHA)
    assert github("push", payload) == Activity()


# GitHub pull requests and reviews ----------------------------------------------------------------------

def test_an_opened_github_pull_request_maps_its_number_author_refs_and_counts() -> None:
    pull = p.github_pull(number=42, created_at="2026-11-30T09:00:00Z", updated_at="2026-11-30T10:30:00+01:00")
    [record] = github("pull_request", p.github_pull_request_event(pull)).pulls
    assert (record.number, record.title, record.state) == (42, "Teach the widget to fly", "open")
    assert record.author == Person("github", user_id="583231", login="octocat")
    assert (record.opened_at, record.updated_at) == (datetime(2026, 11, 30, 9), datetime(2026, 11, 30, 9, 30))
    assert (record.merged_at, record.closed_at, record.merge_commit_sha) == (None, None, None)
    assert (record.additions, record.deletions) == (120, 30)
    assert (record.base_ref, record.head_ref, record.head_sha) == ("main", "feature/fly", p.sha(42 + 500))
    assert record.url == "https://github.com/acme/widgets/pull/42"


def test_a_closed_github_pull_request_is_merged_only_when_github_says_so() -> None:
    merged = p.github_pull(state="closed", updated_at="2026-11-30T15:00:01Z", closed_at="2026-11-30T15:00:00Z",
                           merged_at="2026-11-30T15:00:00Z", merged=True, merge_commit_sha=p.sha(77))
    abandoned = p.github_pull(number=8, state="closed", closed_at="2026-11-30T16:00:00Z")
    [was_merged] = github("pull_request", p.github_pull_request_event(merged, action="closed")).pulls
    [was_closed] = github("pull_request", p.github_pull_request_event(abandoned, action="closed")).pulls
    assert (was_merged.state, was_merged.merged_at) == ("merged", datetime(2026, 11, 30, 15))
    assert (was_merged.closed_at, was_merged.merge_commit_sha) == (datetime(2026, 11, 30, 15), p.sha(77))
    assert (was_closed.state, was_closed.merged_at, was_closed.closed_at) == (
        "closed", None, datetime(2026, 11, 30, 16))


def test_a_reopened_github_pull_request_is_open_again() -> None:
    pull = p.github_pull(state="open", updated_at="2026-12-01T08:00:00Z")
    [record] = github("pull_request", p.github_pull_request_event(pull, action="reopened")).pulls
    assert record.state == "open"


def test_a_github_pull_request_by_a_bot_account_is_marked_as_a_bot() -> None:
    pull = p.github_pull(user=p.github_user("renovate", 29139614, kind="Bot"))
    [record] = github("pull_request", p.github_pull_request_event(pull)).pulls
    assert record.author == Person("github", user_id="29139614", login="renovate", bot=True)


@pytest.mark.parametrize("state", ["approved", "changes_requested", "commented"])
def test_a_github_review_maps_to_a_review_of_its_pull_request(state: str) -> None:
    pull = p.github_pull(number=9)
    payload = p.github_review_event(pull, review_id=80, state=state,
                                    reviewer=p.github_user("hubot", 2002), submitted_at="2026-11-30T12:30:00+01:00")
    activity = github("pull_request_review", payload)
    assert activity.reviews == [ReviewRecord(pull_number=9, external_id="80",
                                             author=Person("github", user_id="2002", login="hubot"), state=state,
                                             submitted_at=datetime(2026, 11, 30, 11, 30))]
    [record] = activity.pulls
    # The review's short pull request has no counts: None (unknown), not 0.
    assert (record.number, record.state, record.additions, record.deletions) == (9, "open", None, None)


def test_a_github_review_state_in_capitals_is_lower_cased() -> None:
    payload = p.github_review_event(p.github_pull(), state="APPROVED")
    assert github("pull_request_review", payload).reviews[0].state == "approved"


@pytest.mark.parametrize("action", ["created", "edited"])
def test_a_github_review_comment_is_a_commented_review_of_its_pull_request(action: str) -> None:
    pull = p.github_pull(number=9)
    payload = p.github_review_comment_event(pull, comment_id=90, action=action, author=p.github_user("hubot", 2002),
                                            created_at="2026-11-30T12:20:00+01:00")
    activity = github("pull_request_review_comment", payload)
    assert activity.reviews == [ReviewRecord(pull_number=9, external_id="comment-90",
                                             author=Person("github", user_id="2002", login="hubot"), state="commented",
                                             submitted_at=datetime(2026, 11, 30, 11, 20))]
    assert [record.number for record in activity.pulls] == [9]


def test_a_deleted_github_review_comment_brings_only_its_pull_request() -> None:
    activity = github("pull_request_review_comment", p.github_review_comment_event(p.github_pull(), action="deleted"))
    assert activity.reviews == [] and [record.number for record in activity.pulls] == [7]


@pytest.mark.parametrize("event", ["ping", "issue_comment", "workflow_run", "check_suite", ""])
def test_github_events_not_read_carry_nothing(event: str) -> None:
    body = p.github_ping() if event == "ping" else {"action": "opened", "repository": p.github_repository()}
    assert github_activity(event, body) is None


def _without(payload: dict[str, Any], *path: str | int) -> dict[str, Any]:
    changed = copy.deepcopy(payload)
    target: Any = changed
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return changed


def _with(payload: dict[str, Any], value: Any, *path: str | int) -> dict[str, Any]:
    changed = copy.deepcopy(payload)
    target: Any = changed
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return changed


PUSH = p.github_push([p.github_commit(p.sha(1))])
PULL_EVENT = p.github_pull_request_event(p.github_pull())
REVIEW_EVENT = p.github_review_event(p.github_pull())
COMMENT_EVENT = p.github_review_comment_event(p.github_pull())


@pytest.mark.parametrize(("event", "body"), [
    pytest.param("push", _with(PUSH, None, "commits"), id="push-commits-null"),
    pytest.param("push", _with(PUSH, {"0": PUSH["commits"][0]}, "commits"), id="push-commits-object"),
    pytest.param("push", _without(PUSH, "commits"), id="push-commits-missing"),
    pytest.param("push", _with(PUSH, "abc", "commits", 0), id="push-commit-not-object"),
    pytest.param("push", _without(PUSH, "commits", 0, "id"), id="push-commit-sha-missing"),
    pytest.param("push", _with(PUSH, "yesterday", "commits", 0, "timestamp"), id="push-time-not-a-time"),
    pytest.param("push", [PUSH], id="push-body-a-list"),
    pytest.param("pull_request", _without(PULL_EVENT, "pull_request", "number"), id="pull-number-missing"),
    pytest.param("pull_request", _with(PULL_EVENT, "42", "pull_request", "number"), id="pull-number-text"),
    pytest.param("pull_request", _with(PULL_EVENT, True, "pull_request", "number"), id="pull-number-bool"),
    pytest.param("pull_request", _with(PULL_EVENT, -3, "pull_request", "additions"), id="pull-count-negative"),
    pytest.param("pull_request", _with(PULL_EVENT, "12", "pull_request", "deletions"), id="pull-count-text"),
    pytest.param("pull_request", _with(PULL_EVENT, "last tuesday", "pull_request", "created_at"),
                 id="pull-time-not-a-time"),
    pytest.param("pull_request", _with(PULL_EVENT, 1764493200, "pull_request", "updated_at"),
                 id="pull-time-a-number"),
    pytest.param("pull_request", _without(PULL_EVENT, "pull_request"), id="pull-missing"),
    pytest.param("pull_request", _with(PULL_EVENT, "u", "pull_request", "user"), id="pull-user-not-object"),
    pytest.param("pull_request", _with(PULL_EVENT, "583231", "pull_request", "user", "id"), id="user-id-text"),
    pytest.param("pull_request", [PULL_EVENT], id="pull-body-a-list"),
    pytest.param("pull_request_review", _without(REVIEW_EVENT, "review"), id="review-missing"),
    pytest.param("pull_request_review", _without(REVIEW_EVENT, "review", "id"), id="review-id-missing"),
    pytest.param("pull_request_review", _with(REVIEW_EVENT, "soon", "review", "submitted_at"),
                 id="review-time-not-a-time"),
    pytest.param("pull_request_review_comment", _without(COMMENT_EVENT, "comment"), id="comment-missing"),
    pytest.param("pull_request_review_comment", _with(COMMENT_EVENT, "90", "comment", "id"), id="comment-id-text"),
    pytest.param("pull_request_review_comment", _with(COMMENT_EVENT, "x", "comment", "user"),
                 id="comment-user-not-object"),
    pytest.param("pull_request_review_comment", _with(COMMENT_EVENT, "now", "comment", "created_at"),
                 id="comment-time-not-a-time"),
])
def test_a_malformed_github_body_is_a_payload_error(event: str, body: Any) -> None:
    with pytest.raises(PayloadError):
        github_activity(event, body)


def test_a_github_pull_request_whose_base_is_not_an_object_is_a_payload_error() -> None:
    with pytest.raises(PayloadError):
        github_activity("pull_request", _with(PULL_EVENT, "main", "pull_request", "base"))


def test_a_github_push_whose_author_email_is_not_a_string_is_a_payload_error() -> None:
    with pytest.raises(PayloadError):
        github_activity("push", _with(PUSH, 42, "commits", 0, "author", "email"))


# GitLab push --------------------------------------------------------------------------------------------

def test_a_gitlab_push_maps_commits_to_git_authors_with_naive_utc_times() -> None:
    commit = p.gitlab_commit(p.sha(3), message="Add wings\n\nThey flap.\n", timestamp="2026-11-30T10:15:00+01:00",
                             name="Alice Liddell", email="Alice@Example.com")
    activity = gitlab(p.gitlab_push([commit]))
    assert activity == Activity(commits=[CommitRecord(
        sha=p.sha(3), author=Person("git", name="Alice Liddell", email="Alice@Example.com"),
        authored_at=datetime(2026, 11, 30, 9, 15), committed_at=datetime(2026, 11, 30, 9, 15), message="Add wings")])


@pytest.mark.parametrize(("body", "what"), [
    pytest.param(_with(p.gitlab_push([p.gitlab_commit(p.sha(3))]), None, "commits"), "commits-null"),
    pytest.param(_with(p.gitlab_push([p.gitlab_commit(p.sha(3))]), "x", "commits"), "commits-text"),
    pytest.param(_with(p.gitlab_push([p.gitlab_commit(p.sha(3))]), "noon", "commits", 0, "timestamp"),
                 "time-not-a-time"),
    pytest.param([p.gitlab_push([])], "body-a-list"),
    pytest.param("push", "body-a-string"),
])
def test_a_malformed_gitlab_push_is_a_payload_error(body: Any, what: str) -> None:
    with pytest.raises(PayloadError):
        gitlab_activity(body)


# GitLab merge requests ----------------------------------------------------------------------------------

AUTHOR = p.gitlab_user(51, "alice", "Alice Liddell", "alice@example.com")


@pytest.mark.parametrize("created_at", ["2026-11-30T09:00:00Z", "2026-11-30 09:00:00 UTC",
                                        "2026-11-30T10:00:00+01:00"])
def test_an_opened_gitlab_merge_request_maps_its_iid_author_and_times(created_at: str) -> None:
    """Both time spellings GitLab has used (ISO 8601, and the older `... UTC`) read as the same naive UTC time."""
    attributes = p.gitlab_merge_request_attributes(iid=3, author_id=51, created_at=created_at,
                                                   updated_at="2026-11-30 09:05:00 UTC")
    activity = gitlab(p.gitlab_merge_request(attributes, user=AUTHOR))
    [record] = activity.pulls
    assert activity.reviews == [] and activity.commits == []
    assert (record.number, record.title, record.state) == (3, "Teach the widget to fly", "open")
    assert record.author == Person("gitlab", user_id="51", login="alice", name="Alice Liddell",
                                   email="alice@example.com")
    assert (record.opened_at, record.updated_at) == (datetime(2026, 11, 30, 9), datetime(2026, 11, 30, 9, 5))
    assert (record.base_ref, record.head_ref) == ("main", "feature/fly")
    assert (record.merged_at, record.closed_at, record.merge_commit_sha) == (None, None, None)
    assert record.url == "https://gitlab.example.com/acme/widgets/-/merge_requests/3"


def test_a_redacted_gitlab_email_is_no_email() -> None:
    attributes = p.gitlab_merge_request_attributes(author_id=51)
    user = p.gitlab_user(51, "alice", "Alice Liddell", "[REDACTED]")
    [record] = gitlab(p.gitlab_merge_request(attributes, user=user)).pulls
    assert record.author.email is None and record.author.login == "alice"


@pytest.mark.parametrize(("state", "action", "expected"), [
    ("opened", "open", "open"), ("opened", "update", "open"), ("locked", "update", "open"),
    ("merged", "merge", "merged"), ("closed", "close", "closed"), ("opened", "reopen", "open"),
])
def test_gitlab_merge_request_states_map_to_open_merged_and_closed(state: str, action: str, expected: str) -> None:
    attributes = p.gitlab_merge_request_attributes(state=state, action=action)
    assert gitlab(p.gitlab_merge_request(attributes)).pulls[0].state == expected


def test_a_merged_gitlab_merge_request_takes_its_merge_time_and_sha() -> None:
    """GitLab's hook has no merged_at: the update that merged it is the time; the sha is merge_commit_sha, or the
    last commit's when merged without a merge commit (fast-forward)."""
    with_merge_commit = p.gitlab_merge_request_attributes(state="merged", action="merge", merge_commit_sha=p.sha(90),
                                                          updated_at="2026-11-30T14:00:00Z")
    fast_forward = p.gitlab_merge_request_attributes(iid=4, state="merged", action="merge",
                                                     updated_at="2026-11-30T15:00:00Z", last_commit_sha=p.sha(91))
    [merged] = gitlab(p.gitlab_merge_request(with_merge_commit)).pulls
    [forwarded] = gitlab(p.gitlab_merge_request(fast_forward)).pulls
    assert (merged.merged_at, merged.closed_at, merged.merge_commit_sha) == (datetime(2026, 11, 30, 14), None,
                                                                             p.sha(90))
    assert (forwarded.merged_at, forwarded.merge_commit_sha) == (datetime(2026, 11, 30, 15), p.sha(91))
    assert (merged.head_sha, forwarded.head_sha) == (p.sha(3 + 700), p.sha(91))  # the last commit: the head


def test_a_closed_gitlab_merge_request_is_closed_at_its_update() -> None:
    attributes = p.gitlab_merge_request_attributes(state="closed", action="close", updated_at="2026-11-30T16:00:00Z")
    [record] = gitlab(p.gitlab_merge_request(attributes)).pulls
    assert (record.state, record.closed_at, record.merged_at, record.merge_commit_sha) == (
        "closed", datetime(2026, 11, 30, 16), None, None)


def test_a_gitlab_merge_request_acted_on_by_someone_else_keeps_its_author_id() -> None:
    attributes = p.gitlab_merge_request_attributes(author_id=51, action="update")
    [record] = gitlab(p.gitlab_merge_request(attributes, user=p.gitlab_user(60, "maint", "Maintainer"))).pulls
    assert record.author == Person("gitlab", user_id="51")


@pytest.mark.parametrize(("action", "state"), [("approved", "approved"), ("unapproved", "dismissed")])
def test_a_gitlab_approval_is_a_review_by_the_approver(action: str, state: str) -> None:
    """One approval per user: approving and unapproving are the same review (`approval-<user id>`)."""
    approver = p.gitlab_user(60, "maint", "Maintainer")
    attributes = p.gitlab_merge_request_attributes(iid=5, author_id=51, action=action,
                                                   updated_at="2026-11-30T13:00:00+01:00")
    activity = gitlab(p.gitlab_merge_request(attributes, user=approver))
    assert activity.reviews == [ReviewRecord(
        pull_number=5, external_id="approval-60", author=Person("gitlab", user_id="60", login="maint",
                                                                name="Maintainer"),
        state=state, submitted_at=datetime(2026, 11, 30, 12))]
    assert activity.pulls[0].author == Person("gitlab", user_id="51")


@pytest.mark.parametrize("action", ["open", "update", "merge", "close", None])
def test_gitlab_merge_request_actions_other_than_approvals_carry_no_review(action: str | None) -> None:
    attributes = p.gitlab_merge_request_attributes(action=action, state="merged" if action == "merge" else "opened")
    assert gitlab(p.gitlab_merge_request(attributes)).reviews == []


def test_a_gitlab_note_on_a_merge_request_is_a_commented_review() -> None:
    commenter = p.gitlab_user(52, "reviewer", "Rita Reviewer")
    merge_request = p.gitlab_merge_request_attributes(iid=6, author_id=51, action=None,
                                                      updated_at="2026-11-30 12:00:00 UTC")
    activity = gitlab(p.gitlab_note_on_merge_request(merge_request, note_id=1244, user=commenter,
                                                     created_at="2026-11-30 12:00:00 UTC"))
    assert activity.reviews == [ReviewRecord(
        pull_number=6, external_id="note-1244", author=Person("gitlab", user_id="52", login="reviewer",
                                                               name="Rita Reviewer"),
        state="commented", submitted_at=datetime(2026, 11, 30, 12))]
    [pull] = activity.pulls
    assert (pull.number, pull.state, pull.author) == (6, "open", Person("gitlab", user_id="51"))


def test_a_gitlab_note_on_an_issue_carries_nothing() -> None:
    assert gitlab_activity(p.gitlab_note_on_issue()) is None


@pytest.mark.parametrize("kind", ["pipeline", "build", "work_item", "tag_push", "wiki_page", None])
def test_gitlab_kinds_not_read_carry_nothing(kind: str | None) -> None:
    assert gitlab_activity({"object_kind": kind, "project": p.gitlab_project()}) is None


MR_HOOK = p.gitlab_merge_request(p.gitlab_merge_request_attributes())
NOTE_HOOK = p.gitlab_note_on_merge_request(p.gitlab_merge_request_attributes(action=None))


@pytest.mark.parametrize("body", [
    pytest.param(_without(MR_HOOK, "object_attributes"), id="mr-attributes-missing"),
    pytest.param(_without(MR_HOOK, "object_attributes", "iid"), id="mr-iid-missing"),
    pytest.param(_with(MR_HOOK, "3", "object_attributes", "iid"), id="mr-iid-text"),
    pytest.param(_with(MR_HOOK, "reopened", "object_attributes", "state"), id="mr-state-unknown"),
    pytest.param(_without(MR_HOOK, "object_attributes", "state"), id="mr-state-missing"),
    pytest.param(_with(MR_HOOK, "2026-13-45 99:00:00 UTC", "object_attributes", "created_at"),
                 id="mr-time-not-a-time"),
    pytest.param(_with(MR_HOOK, "60", "object_attributes", "author_id"), id="mr-author-id-text"),
    pytest.param(_with(MR_HOOK, "root", "user"), id="mr-user-not-object"),
    pytest.param([MR_HOOK], id="mr-body-a-list"),
    pytest.param(_without(NOTE_HOOK, "merge_request"), id="note-merge-request-missing"),
    pytest.param(_without(NOTE_HOOK, "object_attributes", "id"), id="note-id-missing"),
    pytest.param(_with(NOTE_HOOK, "whenever", "object_attributes", "created_at"), id="note-time-not-a-time"),
])
def test_a_malformed_gitlab_body_is_a_payload_error(body: Any) -> None:
    with pytest.raises(PayloadError):
        gitlab_activity(body)


def test_provider_text_loses_its_nul_characters_and_fits_its_column() -> None:
    """A provider's strings are stored, not refused: PostgreSQL takes no NUL in text, and a column has a size."""
    commit = p.github_commit(p.sha(1), message="Fix\x00 it\nmore", name="Al\x00ice", username="alice")
    pull = {**p.github_pull(), "title": "T" * 5000, "html_url": "https://github.com/" + "x" * 5000}
    pushed = github("push", p.github_push([commit])).commits[0]
    pulled = github("pull_request", p.github_pull_request_event(pull)).pulls[0]
    assert pushed.message == "Fix it" and pushed.author.name == "Alice"
    assert len(pulled.title) == 1024 and len(pulled.url or "") == 2048
