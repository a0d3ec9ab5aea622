"""Hook deliveries from GitHub and GitLab: their signatures, and the activity their bodies carry.

GitHub (docs.github.com, "Webhook events and payloads"): `X-Hub-Signature-256: sha256=<HMAC-SHA256 of the body
with the hook secret>`, `X-GitHub-Event`, `X-GitHub-Delivery`; events `push`, `pull_request`,
`pull_request_review`, `pull_request_review_comment`, `issues` (and `ping` when the hook is made). GitLab
(docs.gitlab.com, "Webhook events"):
`X-Gitlab-Token: <the secret>`, `X-Gitlab-Event`, `Idempotency-Key` or `X-Gitlab-Event-UUID`; bodies
`object_kind` push, merge_request (approvals are its `approved` / `unapproved` actions), note and issue."""
from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from typing import Any

from domain.engineering.milestones import github_milestone, gitlab_hook_sprint
from domain.engineering.records import (
    Activity,
    CommitRecord,
    IssueRecord,
    PayloadError,
    Person,
    PullRecord,
    ReviewRecord,
    first_line,
    moment,
    obj,
    points_of,
    text,
    whole,
)

GITHUB_EVENTS = ("push", "pull_request", "pull_request_review", "pull_request_review_comment", "issues", "milestone")
GITLAB_KINDS = ("push", "merge_request", "note", "issue")


def github_signature_ok(secret: str, body: bytes, header: str | None) -> bool:
    if not header or not header.startswith("sha256="):
        return False
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), header.encode("utf-8", "surrogateescape"))


def gitlab_token_ok(secret: str, header: str | None) -> bool:
    return bool(header) and hmac.compare_digest(secret.encode(), (header or "").encode())


def _name_and_email(author: dict[str, Any]) -> tuple[str | None, str | None]:
    return (text(author.get("name"), "author.name", required=False),
            text(author.get("email"), "author.email", required=False))


def _number(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise PayloadError(f"{what} must be a number")
    return value


# GitHub ---------------------------------------------------------------------------------------------------

def _github_user(user: Any) -> Person:
    if user is None:
        return Person("github")
    user = obj(user, "user")
    login = text(user.get("login"), "user.login", required=False)
    user_id = user.get("id")
    return Person("github", user_id=str(_number(user_id, "user.id")) if user_id is not None else None, login=login,
                  bot=user.get("type") == "Bot")


def _github_pull(pull: Any) -> PullRecord:
    pull = obj(pull, "pull_request")
    merged_at = moment(pull.get("merged_at"))
    state = text(pull.get("state"), "pull_request.state")
    return PullRecord(
        number=_number(pull.get("number"), "pull_request.number"),
        title=text(pull.get("title"), "pull_request.title", limit=1024) or "", author=_github_user(pull.get("user")),
        state="merged" if merged_at or pull.get("merged") is True else ("open" if state == "open" else "closed"),
        opened_at=moment(pull.get("created_at")), updated_at=moment(pull.get("updated_at")), merged_at=merged_at,
        closed_at=moment(pull.get("closed_at")), additions=whole(pull.get("additions")),
        deletions=whole(pull.get("deletions")), base_ref=_ref(pull.get("base"), "base"),
        head_ref=_ref(pull.get("head"), "head"),
        head_sha=text(obj(pull.get("head") or {}, "head").get("sha"), "head.sha", required=False),
        merge_commit_sha=text(pull.get("merge_commit_sha"), "merge_commit_sha", required=False),
        url=text(pull.get("html_url"), "html_url", required=False, limit=2048))


def _ref(branch: Any, what: str) -> str | None:
    return text(obj(branch or {}, what).get("ref"), f"{what}.ref", required=False)


def _push(payload: dict[str, Any], author_of: Callable[[dict[str, Any]], Person]) -> Activity:
    """A push's commits (GitHub's and GitLab's have the same shape: id, message or title, timestamp, author)."""
    commits = payload.get("commits")
    if not isinstance(commits, list):
        raise PayloadError("commits must be a list")
    records = []
    for commit in commits:
        commit = obj(commit, "commit")
        when = moment(commit.get("timestamp"))
        records.append(CommitRecord(
            sha=text(commit.get("id"), "commit.id") or "", author=author_of(obj(commit.get("author") or {},
                                                                                "commit.author")),
            authored_at=when, committed_at=when, message=first_line(commit.get("title") or commit.get("message"))))
    return Activity(commits=records)


def _github_pusher(author: dict[str, Any]) -> Person:
    # GitHub names the account only when the email belongs to it: that email is the account's, verified.
    login = text(author.get("username"), "commit.author.username", required=False)
    name, email = _name_and_email(author)
    return Person("github", login=login, name=name, email=email, email_verified=True) if login \
        else Person("git", name=name, email=email)


def _git_author(author: dict[str, Any]) -> Person:
    name, email = _name_and_email(author)
    return Person("git", name=name, email=email)


def github_issue(item: Any) -> IssueRecord:
    """An issue as GitHub's `issues` hook and its issues list give it (points from a `points:N` label)."""
    issue = obj(item, "issue")
    labels = tuple(text(obj(label, "label").get("name"), "label.name") or "" for label in issue.get("labels") or [])
    return IssueRecord(
        number=whole(issue.get("number")) or 0, title=text(issue.get("title"), "title", limit=1024) or "",
        author=_github_user(issue.get("user")), state="open" if issue.get("state") == "open" else "closed",
        opened_at=moment(issue.get("created_at")), updated_at=moment(issue.get("updated_at")),
        closed_at=moment(issue.get("closed_at")), labels=labels, points=points_of(labels),
        milestone=github_milestone(issue["milestone"]) if issue.get("milestone") is not None else None)


def github_activity(event: str, payload: Any) -> Activity | None:
    """The activity of one GitHub delivery; None for an event this does not read (ping, workflow runs, ...)."""
    if event not in GITHUB_EVENTS:
        return None
    payload = obj(payload, "body")
    if event == "push":
        return _push(payload, _github_pusher)
    if event == "issues":
        return Activity(issues=[github_issue(payload.get("issue"))])
    if event == "milestone":  # created, edited (its dates), closed, opened; a deleted one keeps its issues' history
        return Activity(milestones=[github_milestone(payload.get("milestone"))])
    pull = _github_pull(payload.get("pull_request"))
    if event == "pull_request":
        return Activity(pulls=[pull])
    if event == "pull_request_review_comment":  # created or edited: the comment; deleted: kept, as it was made
        if payload.get("action") == "deleted":
            return Activity(pulls=[pull])
        comment = obj(payload.get("comment"), "comment")
        return Activity(pulls=[pull], reviews=[ReviewRecord(
            pull_number=pull.number, external_id=f"comment-{_number(comment.get('id'), 'comment.id')}",
            author=_github_user(comment.get("user")), state="commented",
            submitted_at=moment(comment.get("created_at")))])
    review = obj(payload.get("review"), "review")
    return Activity(pulls=[pull], reviews=[ReviewRecord(
        pull_number=pull.number, external_id=str(_number(review.get("id"), "review.id")),
        author=_github_user(review.get("user")), state=(text(review.get("state"), "review.state") or "").lower(),
        submitted_at=moment(review.get("submitted_at")))])


# GitLab ---------------------------------------------------------------------------------------------------

def _gitlab_user(user: Any) -> Person:
    user = obj(user or {}, "user")
    user_id = user.get("id")
    email = user.get("email")
    return Person("gitlab", user_id=str(_number(user_id, "user.id")) if user_id is not None else None,
                  login=text(user.get("username"), "user.username", required=False),
                  name=text(user.get("name"), "user.name", required=False),
                  email=text(email, "user.email") if isinstance(email, str) and "@" in email else None,  # "[REDACTED]"
                  bot=str(user.get("username") or "").endswith("-bot") or user.get("bot") is True)


_GITLAB_STATES = {"opened": "open", "locked": "open", "merged": "merged", "closed": "closed"}


def _gitlab_merge_request(attributes: Any, user: Person) -> PullRecord:
    mr = obj(attributes, "merge_request")
    author_id = mr.get("author_id")
    author = user if author_id is not None and user.user_id == str(author_id) else Person(
        "gitlab", user_id=str(_number(author_id, "author_id")) if author_id is not None else None)
    state = _GITLAB_STATES.get(text(mr.get("state"), "state") or "")
    if state is None:
        raise PayloadError("an unknown merge request state")
    updated = moment(mr.get("updated_at"))
    last_commit: dict[str, Any] = mr["last_commit"] if isinstance(mr.get("last_commit"), dict) else {}
    return PullRecord(
        number=_number(mr.get("iid"), "iid"), title=text(mr.get("title"), "title", limit=1024) or "", author=author,
        state=state,
        opened_at=moment(mr.get("created_at")), updated_at=updated,
        merged_at=moment(mr.get("merged_at")) or (updated if state == "merged" else None),
        closed_at=moment(mr.get("closed_at")) or (updated if state == "closed" else None),
        base_ref=text(mr.get("target_branch"), "target_branch", required=False),
        head_ref=text(mr.get("source_branch"), "source_branch", required=False),
        head_sha=text(last_commit.get("id"), "last_commit.id", required=False),
        merge_commit_sha=text(mr.get("merge_commit_sha") or (last_commit.get("id") if state == "merged" else None),
                              "merge_commit_sha", required=False),
        url=text(mr.get("url"), "url", required=False, limit=2048))


def _gitlab_issue(attributes: dict[str, Any], user: Person) -> IssueRecord:
    """An issue hook names its milestone by id only (the title comes with the next poll), its points as
    `weight`, its labels as objects."""
    author_id = attributes.get("author_id")
    author = user if author_id is not None and user.user_id == str(author_id) else Person(
        "gitlab", user_id=str(_number(author_id, "author_id")) if author_id is not None else None)
    labels = tuple(text(obj(label, "label").get("title"), "label.title") or ""
                   for label in attributes.get("labels") or [])
    return IssueRecord(
        number=_number(attributes.get("iid"), "iid"), title=text(attributes.get("title"), "title", limit=1024) or "",
        author=author, state="open" if attributes.get("state") == "opened" else "closed",
        opened_at=moment(attributes.get("created_at")), updated_at=moment(attributes.get("updated_at")),
        closed_at=moment(attributes.get("closed_at")), labels=labels, points=whole(attributes.get("weight")),
        milestone=gitlab_hook_sprint(attributes))


def gitlab_activity(payload: Any) -> Activity | None:
    """The activity of one GitLab delivery; None for a kind this does not read (pipeline, tag push, ...)."""
    payload = obj(payload, "body")
    kind = payload.get("object_kind")
    if kind not in GITLAB_KINDS:
        return None
    if kind == "push":
        return _push(payload, _git_author)
    user = _gitlab_user(payload.get("user"))
    attributes = obj(payload.get("object_attributes"), "object_attributes")
    if kind == "issue":
        return Activity(issues=[_gitlab_issue(attributes, user)])
    if kind == "merge_request":
        pull = _gitlab_merge_request(attributes, user)
        action = attributes.get("action")
        reviews = [ReviewRecord(pull.number, f"approval-{user.user_id}", user,
                                "approved" if action in ("approved", "approval") else "dismissed", pull.updated_at)
                   ] if action in ("approved", "approval", "unapproved", "unapproval") else []
        return Activity(pulls=[pull], reviews=reviews)
    if attributes.get("noteable_type") != "MergeRequest":
        return None  # a comment on an issue, a commit or a snippet
    pull = _gitlab_merge_request(payload.get("merge_request"), user)
    note_id = _number(attributes.get("id"), "object_attributes.id")
    return Activity(pulls=[pull], reviews=[ReviewRecord(pull.number, f"note-{note_id}", user, "commented",
                                                        moment(attributes.get("created_at")))])
