"""Reading a repository's activity from GitHub's and GitLab's REST APIs, page by page, since a moment.

GitHub (docs.github.com/rest): `GET /repos/{owner}/{repo}/commits?since=` (newest first; the list has no line
counts: `GET .../commits/{sha}` has them), `GET /repos/{owner}/{repo}/pulls?state=all&sort=updated&direction=desc`,
and for each pull request updated since: `GET .../pulls/{number}` (additions, deletions, merged),
`GET .../pulls/{number}/commits` (the first commit's time) and `GET .../pulls/{number}/reviews`; then
`GET /repos/{owner}/{repo}/pulls/comments?since=&sort=updated` (review comments on the diffs, all pull requests at
once) and `GET /repos/{owner}/{repo}/issues?state=all&since=` (without the pull requests it also lists). GitLab
(docs.gitlab.com/api): `GET /api/v4/projects/{id}/repository/commits?since=&with_stats=true`,
`GET /projects/{id}/merge_requests?updated_after=&order_by=updated_at&sort=desc&state=all`, and for each:
`.../merge_requests/{iid}/approvals`, `.../notes` (comments by people, not system notes) and `.../commits` (the
first commit's time); then `GET /projects/{id}/issues?updated_after=&state=all`.
Requests go through `domain.polling.providers.Provider.fetch`: SSRF-pinned, rate-limit aware, bounded."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from typing import Any
from urllib.parse import quote

from domain.engineering.hooks import github_issue
from domain.engineering.milestones import gitlab_sprint
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
    pull_number_of,
    text,
    whole,
)
from domain.polling.http import PollError, json_body
from domain.polling.providers import Provider

PER_PAGE = 100
MAX_PAGES = 2000  # 200,000 commits in one poll; a repository with more is read over several polls


def _iso(when: datetime) -> str:
    return when.replace(microsecond=0).isoformat() + "Z"


def _list(provider: Provider, path: str, params: dict[str, Any]) -> Iterator[list[Any]]:
    """The pages of a list, until a short page."""
    for number in range(1, MAX_PAGES + 1):
        body = json_body(provider.fetch(path, {**params, "per_page": PER_PAGE, "page": number}), path)
        if not isinstance(body, list):
            raise PollError(f"GET {path}: not a JSON list")
        yield body
        if len(body) < PER_PAGE:
            return


def _records(build: Any, items: list[Any]) -> list[Any]:
    try:
        return [build(item) for item in items]
    except PayloadError as exc:
        raise PollError(f"an answer of an unexpected shape: {exc}") from None


# GitHub ---------------------------------------------------------------------------------------------------

def _github_person(user: Any, name: Any = None, email: Any = None) -> Person:
    if isinstance(user, dict) and user.get("id") is not None:
        return Person("github", user_id=str(user["id"]), login=text(user.get("login"), "login", required=False),
                      name=name, email=email, email_verified=bool(email), bot=user.get("type") == "Bot")
    return Person("git", name=name, email=email)


def _github_commit(item: Any) -> CommitRecord:
    item = obj(item, "commit")
    commit = obj(item.get("commit"), "commit.commit")
    author = obj(commit.get("author") or {}, "commit.author")
    name = text(author.get("name"), "author.name", required=False)
    email = text(author.get("email"), "author.email", required=False)
    stats: dict[str, Any] = item["stats"] if isinstance(item.get("stats"), dict) else {}
    return CommitRecord(sha=text(item.get("sha"), "sha") or "", author=_github_person(item.get("author"), name, email),
                        authored_at=moment(author.get("date")),
                        committed_at=moment(obj(commit.get("committer") or {}, "committer").get("date")),
                        message=first_line(commit.get("message")), additions=whole(stats.get("additions")),
                        deletions=whole(stats.get("deletions")))


def _github_pull(item: Any) -> PullRecord:
    pull = obj(item, "pull request")
    merged_at = moment(pull.get("merged_at"))
    return PullRecord(
        number=whole(pull.get("number")) or 0, title=text(pull.get("title"), "title", limit=1024) or "",
        author=_github_person(pull.get("user")),
        state="merged" if merged_at else ("open" if pull.get("state") == "open" else "closed"),
        opened_at=moment(pull.get("created_at")), updated_at=moment(pull.get("updated_at")), merged_at=merged_at,
        closed_at=moment(pull.get("closed_at")), additions=whole(pull.get("additions")),
        deletions=whole(pull.get("deletions")),
        base_ref=text(obj(pull.get("base") or {}, "base").get("ref"), "base.ref", required=False),
        head_ref=text(obj(pull.get("head") or {}, "head").get("ref"), "head.ref", required=False),
        head_sha=text(obj(pull.get("head") or {}, "head").get("sha"), "head.sha", required=False),
        merge_commit_sha=text(pull.get("merge_commit_sha"), "merge_commit_sha", required=False),
        url=text(pull.get("html_url"), "html_url", required=False, limit=2048))


def _github_review(number: int) -> Any:
    def build(item: Any) -> ReviewRecord:
        review = obj(item, "review")
        return ReviewRecord(pull_number=number, external_id=str(whole(review.get("id"))),
                            author=_github_person(review.get("user")),
                            state=(text(review.get("state"), "state") or "").lower(),
                            submitted_at=moment(review.get("submitted_at")))
    return build


def _github_review_comment(item: Any) -> ReviewRecord:
    """A comment on a pull request's diff ("List review comments in a repository"): a `commented` review of its
    own, as GitLab's notes are, whose pull request is the last part of its `pull_request_url`."""
    comment = obj(item, "review comment")
    return ReviewRecord(pull_number=pull_number_of(comment.get("pull_request_url")),
                        external_id=f"comment-{whole(comment.get('id'))}", author=_github_person(comment.get("user")),
                        state="commented", submitted_at=moment(comment.get("created_at")))


def github_activity(provider: Provider, since: datetime) -> Iterator[Activity]:
    base = f"/repos/{provider.repository}"
    for page in _list(provider, f"{base}/commits", {"since": _iso(since)}):
        yield Activity(commits=_records(_github_commit, page))
    for page in _list(provider, f"{base}/pulls", {"state": "all", "sort": "updated", "direction": "desc"}):
        pulls = [p for p in _records(_github_pull, page) if p.updated_at is None or p.updated_at >= since]
        for listed in pulls:  # the list has no line counts: the pull request itself has
            detail = _records(_github_pull, [provider.json(f"{base}/pulls/{listed.number}")])[0]
            detail = replace(detail, first_commit_at=_github_first_commit(provider, f"{base}/pulls/{listed.number}"))
            reviews = [r for review_page in _list(provider, f"{base}/pulls/{listed.number}/reviews", {})
                       for r in _records(_github_review(listed.number), review_page)]
            yield Activity(pulls=[detail], reviews=reviews)
        if len(pulls) < len(page):  # sorted by update, newest first: the rest is older than `since`
            break
    # Comments on the diffs of every pull request, changed since: one list for the repository, after the pull
    # requests they belong to are stored (a new comment updates its pull request).
    for page in _list(provider, f"{base}/pulls/comments", {"since": _iso(since), "sort": "updated",
                                                            "direction": "desc"}):
        yield Activity(reviews=_records(_github_review_comment, page))
    yield from _github_issues(provider, since)


def _earliest(commits: list[CommitRecord]) -> datetime | None:
    return min((c.authored_at for c in commits if c.authored_at is not None), default=None)


def _github_first_commit(provider: Provider, pull: str) -> datetime | None:
    """When the pull request's earliest commit was authored: "List commits on a pull request" lists them oldest
    first, so its first page holds it (GitHub lists 250 at most)."""
    return _earliest(_records(_github_commit, next(_list(provider, f"{pull}/commits", {}))))


def github_commit_details(provider: Provider, shas: list[str]) -> Iterator[Activity]:
    """"Get a commit" for each sha: the list leaves out line counts, which only the commit itself has."""
    for sha in shas:
        yield Activity(commits=_records(_github_commit, [provider.json(f"/repos/{provider.repository}/commits/{sha}")]))


def _github_issues(provider: Provider, since: datetime) -> Iterator[Activity]:
    params = {"state": "all", "since": _iso(since), "sort": "updated", "direction": "desc"}
    for page in _list(provider, f"/repos/{provider.repository}/issues", params):
        # The list has pull requests too (with a `pull_request` object): they are read as pull requests.
        yield Activity(issues=_records(github_issue, [i for i in page
                                                      if not (isinstance(i, dict) and "pull_request" in i)]))


# GitLab ---------------------------------------------------------------------------------------------------

def _gitlab_person(user: Any) -> Person:
    user = obj(user or {}, "user")
    return Person("gitlab", user_id=str(user["id"]) if user.get("id") is not None else None,
                  login=text(user.get("username"), "username", required=False),
                  name=text(user.get("name"), "name", required=False),
                  bot=user.get("bot") is True or str(user.get("username") or "").endswith("-bot"))


def _gitlab_commit(item: Any) -> CommitRecord:
    commit = obj(item, "commit")
    stats: dict[str, Any] = commit["stats"] if isinstance(commit.get("stats"), dict) else {}
    return CommitRecord(
        sha=text(commit.get("id"), "id") or "",
        author=Person("git", name=text(commit.get("author_name"), "author_name", required=False),
                      email=text(commit.get("author_email"), "author_email", required=False)),
        authored_at=moment(commit.get("authored_date")), committed_at=moment(commit.get("committed_date")),
        message=first_line(commit.get("title") or commit.get("message")), additions=whole(stats.get("additions")),
        deletions=whole(stats.get("deletions")))


_STATES = {"opened": "open", "locked": "open", "merged": "merged", "closed": "closed"}


def _gitlab_merge_request(item: Any) -> PullRecord:
    mr = obj(item, "merge request")
    state = _STATES.get(str(mr.get("state")))
    if state is None:
        raise PayloadError("an unknown merge request state")
    return PullRecord(
        number=whole(mr.get("iid")) or 0, title=text(mr.get("title"), "title", limit=1024) or "",
        author=_gitlab_person(mr.get("author")), state=state, opened_at=moment(mr.get("created_at")),
        updated_at=moment(mr.get("updated_at")), merged_at=moment(mr.get("merged_at")),
        closed_at=moment(mr.get("closed_at")),
        base_ref=text(mr.get("target_branch"), "target_branch", required=False),
        head_ref=text(mr.get("source_branch"), "source_branch", required=False),
        head_sha=text(mr.get("sha"), "sha", required=False),
        merge_commit_sha=_gitlab_landed(mr, state),
        url=text(mr.get("web_url"), "web_url", required=False, limit=2048))


def _gitlab_landed(mr: dict[str, Any], state: str) -> str | None:
    """The commit a merged merge request put on its target branch: the merge commit, or the squash commit (a
    squash without a merge commit), or its head itself (a fast-forward merge, rebased first)."""
    landed = mr.get("merge_commit_sha") or mr.get("squash_commit_sha") or (mr.get("sha") if state == "merged" else None)
    return text(landed, "merge_commit_sha", required=False)


def _gitlab_reviews(provider: Provider, project: str, pull: PullRecord) -> list[ReviewRecord]:
    approvals = obj(provider.json(f"/api/v4/projects/{project}/merge_requests/{pull.number}/approvals"),
                    "approvals")
    reviews = [ReviewRecord(pull.number, f"approval-{_gitlab_person(a.get('user')).user_id}",
                            _gitlab_person(a.get("user")), "approved", moment(a.get("approved_at")) or pull.updated_at)
               for a in (obj(a, "approval") for a in approvals.get("approved_by") or [])]
    for page in _list(provider, f"/api/v4/projects/{project}/merge_requests/{pull.number}/notes", {}):
        for note in page:
            note = obj(note, "note")
            if note.get("system") is not True:
                reviews.append(ReviewRecord(pull.number, f"note-{whole(note.get('id'))}",
                                            _gitlab_person(note.get("author")), "commented",
                                            moment(note.get("created_at"))))
    return reviews


def _gitlab_issue(item: Any) -> IssueRecord:
    issue = obj(item, "issue")
    labels = tuple(text(label, "label") or "" for label in issue.get("labels") or [])
    return IssueRecord(
        number=whole(issue.get("iid")) or 0, title=text(issue.get("title"), "title", limit=1024) or "",
        author=_gitlab_person(issue.get("author")), state="open" if issue.get("state") == "opened" else "closed",
        opened_at=moment(issue.get("created_at")), updated_at=moment(issue.get("updated_at")),
        closed_at=moment(issue.get("closed_at")), labels=labels, points=whole(issue.get("weight")),
        milestone=gitlab_sprint(issue))


def gitlab_activity(provider: Provider, since: datetime) -> Iterator[Activity]:
    project = quote(provider.repository, safe="")
    for page in _list(provider, f"/api/v4/projects/{project}/repository/commits",
                      {"since": _iso(since), "with_stats": "true"}):
        yield Activity(commits=_records(_gitlab_commit, page))
    for page in _list(provider, f"/api/v4/projects/{project}/merge_requests",
                      {"updated_after": _iso(since), "order_by": "updated_at", "sort": "desc", "state": "all"}):
        for pull in _records(_gitlab_merge_request, page):
            try:
                reviews = _gitlab_reviews(provider, project, pull)
            except PayloadError as exc:
                raise PollError(f"an answer of an unexpected shape: {exc}") from None
            commits = [c for page in _list(provider, f"/api/v4/projects/{project}/merge_requests/{pull.number}/commits",
                                           {}) for c in _records(_gitlab_commit, page)]
            yield Activity(pulls=[replace(pull, first_commit_at=_earliest(commits))], reviews=reviews)
    for page in _list(provider, f"/api/v4/projects/{project}/issues",
                      {"updated_after": _iso(since), "order_by": "updated_at", "sort": "desc", "state": "all"}):
        yield Activity(issues=_records(_gitlab_issue, page))
