"""Fixture servers for a repository's activity on GitHub and GitLab, built on `FakeApiServer` like the CI fakes
(tests/support/fake_ci.py): real HTTP on 127.0.0.1, every request recorded (`requests`, `hits`), the documented
JSON shapes and headers, written from the providers' REST references (made-up values).

`FakeGitHubRepos` (docs.github.com/rest, API version 2022-11-28):
- `GET /repos/{owner}/{repo}/commits?since=&until=&per_page=&page=`: "List commits", newest first by commit
  date, `since`/`until` on that date; no `stats` or `files` (only "Get a commit" has them);
- `GET /repos/{owner}/{repo}/commits/{sha}`: "Get a commit", with `stats` (from `stats`, else 10 and 2) and `files`;
- `GET /repos/{owner}/{repo}/issues?state=&since=&sort=`: "List repository issues" (`issues`);
- `GET /repos/{owner}/{repo}/pulls?state=&sort=&direction=`: "List pull requests", without the fields only the
  pull request itself has (additions, deletions, changed_files, merged, mergeable, commits, comments, ...);
- `GET /repos/{owner}/{repo}/pulls/{number}`: "Get a pull request", with them;
- `GET /repos/{owner}/{repo}/pulls/{number}/reviews`: "List reviews for a pull request", oldest first, states
  in upper case (APPROVED, CHANGES_REQUESTED, COMMENTED, DISMISSED, PENDING);
- `GET /repos/{owner}/{repo}/pulls/{number}/commits`: "List commits on a pull request" (`pull_commits`), in order;
- `GET /repos/{owner}/{repo}/pulls/comments?since=&sort=&direction=`: "List review comments in a repository",
  every pull request's comments on diffs (`review_comments`), ascending by id unless sorted (created|updated),
  `since` on the update time.
Lists page with `per_page` (default 30, at most 100) and `page`, and a `Link` header (rel next, last, prev,
first). `Authorization: Bearer <token>` (or `token <token>`) is required when a token is configured (else 401
"Bad credentials"); every answer carries `X-RateLimit-*`.

`FakeGitLabRepos` (docs.gitlab.com/api, v4; a project by its id or URL-encoded path, `group%2Fproject`):
- `GET /api/v4/projects/{id}/repository/commits?since=&until=&with_stats=`: newest first, `stats` only with
  `with_stats=true`;
- `GET /api/v4/projects/{id}/merge_requests?state=&order_by=&sort=&updated_after=&updated_before=`;
- `GET .../merge_requests/{iid}/approvals`: the approval state, `approved_by: [{user, approved_at}]`;
- `GET .../merge_requests/{iid}/notes?sort=&order_by=`: comments and system notes (`system: true`);
- `GET .../merge_requests/{iid}/commits`: the merge request's commits (`mr_commits`), newest first.
Lists page with `per_page` (default 20, at most 100) and `page`, and say so in `X-Page`, `X-Per-Page`,
`X-Total`, `X-Total-Pages`, `X-Next-Page`, `X-Prev-Page` and `Link`. `PRIVATE-TOKEN` (or a Bearer token) is
required when a token is configured (else 401); every answer carries `RateLimit-*`.

Switches, on both: `garbage` ("html": a 200 page that is not JSON; "object": a JSON object where a list belongs,
echoing the request's headers as an echo service would; "echo": the right shape, but every time in it replaced
by the credential the request carried) after `garbage_after` more normal answers. GitHub's
`secondary_limit_after`: after that many more normal answers, every request is refused as GitHub refuses one
over a secondary rate limit (403, `Retry-After: 60`, its message). GitLab's `retry_after` (from FakeApiServer):
429 "Retry later" with `Retry-After`.
"""
from __future__ import annotations

import json
import ssl
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from operator import itemgetter
from typing import Any
from urllib.parse import unquote

from tests.support.fake_payloads import (
    FakeApiServer,
    JsonObject,
    Recorded,
    Reply,
    conditional,
    github_page,
    gitlab_page,
    gitlab_rate_headers,
    iso,
    json_reply,
    parse_time,
    presented_token,
    stable_sha,
)

__all__ = ["FakeGitHubRepos", "FakeGitLabRepos", "github_commit", "github_issue", "github_milestone", "github_pull",
           "github_review", "github_user", "gitlab_commit", "gitlab_issue", "gitlab_merge_request", "gitlab_milestone",
           "gitlab_note", "gitlab_user"]

Moment = datetime | str
GITHUB_TOKEN = "ghp_scmFixtureToken0123456789abcdef"
GITLAB_TOKEN = "glpat-scmFixtureToken0123"
GITHUB_API = "https://api.github.com"
GITHUB_WEB = "https://github.com"
GITLAB_WEB = "https://gitlab.example.com"
GITHUB_DOCS = "https://docs.github.com/rest"
GITHUB_HEADERS = {"Content-Type": "application/json; charset=utf-8", "X-GitHub-Api-Version-Selected": "2022-11-28",
                  "X-GitHub-Media-Type": "github.v3; format=json", "Vary": "Accept, Authorization, Cookie",
                  "Cache-Control": "private, max-age=60, s-maxage=60", "Server": "github.com"}
BAD_CREDENTIALS = {"message": "Bad credentials", "documentation_url": GITHUB_DOCS, "status": "401"}
GITHUB_NOT_FOUND = {"message": "Not Found", "documentation_url": GITHUB_DOCS, "status": "404"}
SECONDARY_LIMIT_MESSAGE = ("You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "
                           "If you reach out to GitHub Support for help, please include the request ID "
                           "E198:4063:33BD6:375FF:652AAB04.")
RATE_LIMIT_DOCS = GITHUB_DOCS + "/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"
# Fields "Get a pull request" has and "List pull requests" leaves out.
PULL_DETAIL_ONLY = ("additions", "deletions", "changed_files", "commits", "comments", "review_comments", "merged",
                    "mergeable", "mergeable_state", "rebaseable", "merged_by", "maintainer_can_modify")
GARBAGE_MODES = ("html", "object", "echo")


def _utc(when: datetime) -> datetime:
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _at(when: Moment, *, millis: bool = False) -> str:
    """A time as the provider writes it (a naive datetime is UTC; a string is kept as given)."""
    return when if isinstance(when, str) else iso(_utc(when), millis=millis)


def _countdown(server: Any, name: str) -> bool:
    """Whether the switch counted by `server.<name>` (answers still normal; None: never) has run out; counts one."""
    left = getattr(server, name)
    if left is None:
        return False
    if left > 0:
        setattr(server, name, left - 1)
        return False
    return True


def _time_key(key: str) -> bool:
    return key.endswith(("_at", "_date")) or key == "date"


def _poison(value: Any, echo: str) -> Any:
    """`value` with every time (a string under `*_at`, `*_date` or `date`) replaced by `echo`."""
    if isinstance(value, dict):
        return {k: echo if _time_key(k) and isinstance(v, str) else _poison(v, echo) for k, v in value.items()}
    if isinstance(value, list):
        return [_poison(item, echo) for item in value]
    return value


def garbled(mode: str, request: Recorded, reply: Reply, credential: str) -> Reply:
    """What a misbehaving endpoint answers instead of `reply` (see the module's docstring)."""
    if mode == "html":
        page = (f"<html><head><title>Proxy</title></head><body><h1>It works!</h1><p>{request.method} {request.path}"
                f"</p><pre>authorization: {credential}</pre></body></html>")
        return Reply(200, page.encode(), {"Content-Type": "text/html; charset=utf-8"})
    if mode == "object":
        return json_reply(200, {"url": request.raw_path, "args": request.query, "headers": request.headers})
    if mode == "echo":
        try:
            body = json.loads(reply.body)
        except ValueError:
            body = None
        return json_reply(200, _poison(body, credential), {k: v for k, v in reply.headers.items()
                                                           if k not in ("Content-Type", "ETag")})
    raise ValueError(f"unknown garbage mode {mode!r}; one of {GARBAGE_MODES}")


# GitHub ---------------------------------------------------------------------------------------------------

def github_user(login: str, user_id: int | None = None, kind: str = "User") -> JsonObject:
    """A "simple user" (the `author` of a commit, the `user` of a pull request or review); `kind` "Bot" for apps."""
    user_id = user_id if user_id is not None else int(stable_sha(f"user-{login}")[:7], 16)
    return {"login": login, "id": user_id, "node_id": f"MDQ6VXNlcj{user_id}",
            "avatar_url": f"https://avatars.githubusercontent.com/u/{user_id}?v=4", "gravatar_id": "",
            "url": f"{GITHUB_API}/users/{login}", "html_url": f"{GITHUB_WEB}/{login}", "type": kind,
            "site_admin": False}


def github_commit(sha: str, when: Moment, *, message: str = "Fix the flux capacitor\n\nIt was off by one.",
                  name: str = "Alice Liddell", email: str = "alice@example.com", user: JsonObject | None = None,
                  committed: Moment | None = None, repo: str = "acme/widgets") -> JsonObject:
    """One item of "List commits". `user` is the account GitHub linked the author's email to (None: it knows no
    such account, and `author` and `committer` are null); `committed` (the commit date) defaults to `when`."""
    api = f"{GITHUB_API}/repos/{repo}"
    person = {"name": name, "email": email}
    parent = stable_sha(f"parent-{sha}")
    return {
        "sha": sha, "node_id": f"C_kwDOAJy2KtoAKD{sha[:16]}", "url": f"{api}/commits/{sha}",
        "html_url": f"{GITHUB_WEB}/{repo}/commit/{sha}", "comments_url": f"{api}/commits/{sha}/comments",
        "commit": {
            "url": f"{api}/git/commits/{sha}", "author": {**person, "date": _at(when)},
            "committer": {**person, "date": _at(committed or when)}, "message": message,
            "tree": {"url": f"{api}/git/trees/{stable_sha(f'tree-{sha}')}", "sha": stable_sha(f"tree-{sha}")},
            "comment_count": 0,
            "verification": {"verified": False, "reason": "unsigned", "signature": None, "payload": None,
                             "verified_at": None},
        },
        "author": user, "committer": user,
        "parents": [{"url": f"{api}/commits/{parent}", "sha": parent,
                     "html_url": f"{GITHUB_WEB}/{repo}/commit/{parent}"}],
    }


def github_pull(number: int, user: JsonObject, *, title: str | None = None, state: str = "open",
                created: Moment = "2026-01-01T00:00:00Z", updated: Moment | None = None,
                merged_at: Moment | None = None, closed_at: Moment | None = None, additions: int = 10,
                deletions: int = 2, changed_files: int = 1, base: str = "main", head: str | None = None,
                merged_by: JsonObject | None = None, repo: str = "acme/widgets") -> JsonObject:
    """A pull request as "Get a pull request" answers it (the list leaves out PULL_DETAIL_ONLY). A merged one is
    `state` "closed" with `merged_at` (and `closed_at`, the same moment, unless given)."""
    api = f"{GITHUB_API}/repos/{repo}"
    merged = merged_at is not None
    closed = closed_at if closed_at is not None else merged_at
    head = head or f"feature-{number}"
    head_sha, base_sha = stable_sha(f"head-{repo}-{number}"), stable_sha(f"base-{repo}-{number}")
    owner = repo.split("/", 1)[0]
    return {
        "url": f"{api}/pulls/{number}", "id": 1_000_000 + number, "node_id": f"PR_kwDOAJy2Ks{number}",
        "html_url": f"{GITHUB_WEB}/{repo}/pull/{number}", "diff_url": f"{GITHUB_WEB}/{repo}/pull/{number}.diff",
        "patch_url": f"{GITHUB_WEB}/{repo}/pull/{number}.patch", "issue_url": f"{api}/issues/{number}",
        "commits_url": f"{api}/pulls/{number}/commits", "review_comments_url": f"{api}/pulls/{number}/comments",
        "comments_url": f"{api}/issues/{number}/comments", "statuses_url": f"{api}/statuses/{head_sha}",
        "number": number, "state": "closed" if merged else state, "locked": False,
        "title": title or f"Change number {number}", "user": user, "body": "What it changes, and why.",
        "labels": [], "milestone": None, "active_lock_reason": None, "created_at": _at(created),
        "updated_at": _at(updated or created), "closed_at": None if closed is None else _at(closed),
        "merged_at": None if merged_at is None else _at(merged_at),
        "merge_commit_sha": stable_sha(f"merge-{repo}-{number}") if merged else None, "assignee": None,
        "assignees": [], "requested_reviewers": [], "requested_teams": [], "draft": False,
        "head": {"label": f"{owner}:{head}", "ref": head, "sha": head_sha, "user": user},
        "base": {"label": f"{owner}:{base}", "ref": base, "sha": base_sha, "user": user},
        "author_association": "MEMBER", "auto_merge": None,
        "merged": merged, "mergeable": None if merged else True, "rebaseable": None if merged else True,
        "mergeable_state": "unknown" if merged else "clean", "merged_by": merged_by if merged else None,
        "comments": 0, "review_comments": 0, "maintainer_can_modify": False, "commits": 1,
        "additions": additions, "deletions": deletions, "changed_files": changed_files,
    }


def github_review(review_id: int, user: JsonObject, state: str, submitted: Moment | None, *, number: int = 1,
                  body: str = "", repo: str = "acme/widgets") -> JsonObject:
    """One item of "List reviews for a pull request"; `state` as GitHub writes it (APPROVED, ...). A PENDING
    review has no `submitted_at`."""
    return {
        "id": review_id, "node_id": f"PRR_kwDOAJy2Ks{review_id}", "user": user, "body": body, "state": state,
        "html_url": f"{GITHUB_WEB}/{repo}/pull/{number}#pullrequestreview-{review_id}",
        "pull_request_url": f"{GITHUB_API}/repos/{repo}/pulls/{number}", "author_association": "MEMBER",
        "_links": {"html": {"href": f"{GITHUB_WEB}/{repo}/pull/{number}#pullrequestreview-{review_id}"},
                   "pull_request": {"href": f"{GITHUB_API}/repos/{repo}/pulls/{number}"}},
        **({} if submitted is None else {"submitted_at": _at(submitted)}),
        "commit_id": stable_sha(f"head-{repo}-{number}"),
    }


def github_review_comment(comment_id: int, user: JsonObject, created: Moment, *, number: int = 1,
                          review_id: int | None = None, body: str = "Great stuff!",
                          repo: str = "acme/widgets") -> JsonObject:
    """One item of "List review comments in a repository": a comment on a line of a pull request's diff."""
    api, web = f"{GITHUB_API}/repos/{repo}", f"{GITHUB_WEB}/{repo}/pull/{number}#discussion_r{comment_id}"
    return {
        "url": f"{api}/pulls/comments/{comment_id}", "pull_request_review_id": review_id, "id": comment_id,
        "node_id": f"PRRC_kwDOAJy2Ks{comment_id}", "diff_hunk": "@@ -1,3 +1,4 @@\n # Widgets", "path": "README.md",
        "position": 2, "original_position": 2, "commit_id": stable_sha(f"head-{repo}-{number}"),
        "original_commit_id": stable_sha(f"head-{repo}-{number}"), "user": user, "body": body,
        "created_at": _at(created), "updated_at": _at(created), "html_url": web,
        "pull_request_url": f"{api}/pulls/{number}", "author_association": "MEMBER",
        "_links": {"self": {"href": f"{api}/pulls/comments/{comment_id}"}, "html": {"href": web},
                   "pull_request": {"href": f"{api}/pulls/{number}"}},
        "start_line": None, "original_start_line": None, "start_side": None, "line": 2, "original_line": 2,
        "side": "RIGHT", "subject_type": "line",
    }


_COMMENT_SORTS: dict[str, Callable[[JsonObject], Any]] = {
    "created": lambda c: parse_time(c["created_at"]), "updated": lambda c: parse_time(c["updated_at"])}

_PULL_SORTS: dict[str, Callable[[JsonObject], Any]] = {
    "created": lambda pull: parse_time(pull["created_at"]), "updated": lambda pull: parse_time(pull["updated_at"]),
    "popularity": lambda pull: pull.get("comments", 0),
    "long-running": lambda pull: -parse_time(pull["created_at"]).timestamp(),
}


def _validation_failed(field: str, value: str) -> Reply:
    return json_reply(422, {"message": "Validation Failed", "errors": [{"resource": "Search", "field": field,
                                                                        "code": "invalid", "value": value}],
                            "documentation_url": GITHUB_DOCS, "status": "422"})


def _window(items: list[JsonObject], query: dict[str, str], time_of: Callable[[JsonObject], str],
            since: str, until: str) -> list[JsonObject] | None:
    """The items whose time is on or after `since` and on or before `until` (None: a bound is not a time)."""
    try:
        low = parse_time(query[since]) if query.get(since) else None
        high = parse_time(query[until]) if query.get(until) else None
    except ValueError:
        return None
    return [item for item in items if (low is None or parse_time(time_of(item)) >= low)
            and (high is None or parse_time(time_of(item)) <= high)]


class FakeGitHubRepos(FakeApiServer):
    """GitHub's REST API for a repository's commits, pull requests and reviews (see the module's docstring).
    `commits` and `pulls` map "owner/repo" (case-insensitive, as on GitHub) to its commits and pull requests (any
    order: they are served as the API sorts them), `reviews` maps ("owner/repo", number) to that pull request's
    reviews. `token=""` configures none (anonymous requests only, as for a public repository)."""

    user = staticmethod(github_user)
    commit = staticmethod(github_commit)
    pull = staticmethod(github_pull)
    review = staticmethod(github_review)

    def __init__(self, token: str | None = None, ssl_context: ssl.SSLContext | None = None) -> None:
        super().__init__(GITHUB_TOKEN if token is None else token, ssl_context)
        self.commits: dict[str, list[JsonObject]] = {}
        self.pulls: dict[str, list[JsonObject]] = {}
        self.reviews: dict[tuple[str, int], list[JsonObject]] = {}
        self.issues: dict[str, list[JsonObject]] = {}  # "List repository issues": pull requests are issues too
        self.review_comments: dict[str, list[JsonObject]] = {}
        # ("owner/repo", number) -> "List commits on a pull request", oldest first (none when not set)
        self.pull_commits: dict[tuple[str, int], list[JsonObject]] = {}
        self.stats: dict[str, tuple[int, int]] = {}  # sha -> (additions, deletions) that "Get a commit" says
        self.rate_limit = 5000
        self.rate_remaining = 5000
        self.rate_reset = int(time.time()) + 3600
        self.secondary_limit_after: int | None = None
        self.garbage: str | None = None
        self.garbage_after = 0

    def answer(self, request: Recorded) -> Reply:
        reply = self._answer(request)
        used = self.rate_limit - max(self.rate_remaining, 0)
        reply.headers.update({"X-RateLimit-Limit": str(self.rate_limit),
                              "X-RateLimit-Remaining": str(max(self.rate_remaining, 0)),
                              "X-RateLimit-Reset": str(self.rate_reset), "X-RateLimit-Used": str(used),
                              "X-RateLimit-Resource": "core",
                              "X-GitHub-Request-Id": f"E198:4063:{len(self.requests):05X}"})
        if reply.status != 304 and reply.headers.get("Content-Type", "").startswith("application/json"):
            reply.headers.update(GITHUB_HEADERS)
        return reply

    def _answer(self, request: Recorded) -> Reply:
        offered = presented_token(request.headers)
        if offered != (self.token or None):
            return json_reply(401, BAD_CREDENTIALS)
        if _countdown(self, "secondary_limit_after"):
            return json_reply(403, {"message": SECONDARY_LIMIT_MESSAGE, "documentation_url": RATE_LIMIT_DOCS},
                              {"Retry-After": "60"})
        if self.rate_remaining <= 0:
            return json_reply(403, {"message": "API rate limit exceeded for user ID 1.",
                                    "documentation_url": GITHUB_DOCS + "/overview/rate-limits-for-the-rest-api"})
        reply = self._route(request)
        if reply.status == 200 and self.garbage and _countdown(self, "garbage_after"):
            reply = garbled(self.garbage, request, reply, request.headers.get("authorization", ""))
        reply = conditional(request, reply)
        if reply.status != 304:
            self.rate_remaining -= 1
        return reply

    def _route(self, request: Recorded) -> Reply:
        match request.path.strip("/").split("/"):
            case ["repos", owner, name, "commits"]:
                commits = self._of(self.commits, f"{owner}/{name}")
                if commits is not None:
                    chosen = _window(commits, request.query, lambda c: c["commit"]["committer"]["date"], "since",
                                     "until")
                    if chosen is None:
                        return _validation_failed("since", request.query.get("since", ""))
                    chosen.sort(key=lambda c: parse_time(c["commit"]["committer"]["date"]), reverse=True)
                    return self._paged(request, chosen)
            case ["repos", owner, name, "commits", sha]:
                found = [c for c in self._of(self.commits, f"{owner}/{name}") or [] if c["sha"] == sha]
                if found:
                    additions, deletions = self.stats.get(sha, (10, 2))
                    stats = {"total": additions + deletions, "additions": additions, "deletions": deletions}
                    return json_reply(200, {**found[0], "stats": stats,
                                            "files": [{"sha": stable_sha(f"blob-{sha}"), "filename": "README.md",
                                                       "status": "modified", "additions": additions,
                                                       "deletions": deletions, "changes": additions + deletions}]})
            case ["repos", owner, name, "issues"]:
                issues = self._of(self.issues, f"{owner}/{name}")
                if issues is not None:
                    chosen = _window(issues, request.query, lambda i: i["updated_at"], "since", "until")
                    if chosen is None:
                        return _validation_failed("since", request.query.get("since", ""))
                    if request.query.get("state", "open") != "all":
                        chosen = [i for i in chosen if i["state"] == request.query.get("state", "open")]
                    chosen.sort(key=lambda i: parse_time(i["updated_at"]), reverse=True)
                    return self._paged(request, chosen)
            case ["repos", owner, name, "pulls"]:
                pulls = self._of(self.pulls, f"{owner}/{name}")
                if pulls is not None:
                    return self._list_pulls(request, pulls)
            case ["repos", owner, name, "pulls", "comments"]:
                comments = self._of(self.review_comments, f"{owner}/{name}")
                if comments is not None:
                    return self._list_review_comments(request, comments)
            case ["repos", owner, name, "pulls", number] if number.isdigit():
                found = [p for p in self._of(self.pulls, f"{owner}/{name}") or [] if p["number"] == int(number)]
                if found:
                    return json_reply(200, found[0])
            case ["repos", owner, name, "pulls", number, "reviews" | "commits" as listed] if number.isdigit():
                full_name = self._name(f"{owner}/{name}")
                if any(p["number"] == int(number) for p in self._of(self.pulls, full_name) or []):
                    table = self.reviews if listed == "reviews" else self.pull_commits
                    return self._paged(request, list(table.get((full_name, int(number)), [])))
        return json_reply(404, GITHUB_NOT_FOUND)

    def _name(self, full_name: str) -> str:
        """The repository's key as the test wrote it (owner and repository names are case-insensitive)."""
        for key in (*self.commits, *self.pulls):
            if key.lower() == full_name.lower():
                return key
        return full_name

    def _of(self, table: dict[str, list[JsonObject]], full_name: str) -> list[JsonObject] | None:
        """The repository's list in `table`; None when the repository is unknown (404)."""
        key = self._name(full_name)
        if key not in self.commits and key not in self.pulls:
            return None
        return table.get(key, [])

    def _list_review_comments(self, request: Recorded, comments: list[JsonObject]) -> Reply:
        """Ascending by id unless `sort` (created, updated) says; `direction` asc when sorting, as documented."""
        chosen = _window(comments, request.query, lambda c: c["updated_at"], "since", "until")
        if chosen is None:
            return _validation_failed("since", request.query.get("since", ""))
        sort = request.query.get("sort")
        if sort is not None and sort not in _COMMENT_SORTS:
            return _validation_failed("sort", sort)
        descending = request.query.get("direction", "asc") == "desc"
        chosen.sort(key=_COMMENT_SORTS[sort] if sort else (lambda c: c["id"]), reverse=descending)
        return self._paged(request, chosen)

    def _list_pulls(self, request: Recorded, pulls: list[JsonObject]) -> Reply:
        """`state` open (default), closed or all; `sort` created (default), updated, popularity, long-running;
        `direction` desc when sorting by creation (or not sorting), else asc, as documented."""
        state = request.query.get("state", "open")
        sort = request.query.get("sort", "created")
        if state not in ("open", "closed", "all"):
            return _validation_failed("state", state)
        if sort not in _PULL_SORTS:
            return _validation_failed("sort", sort)
        direction = request.query.get("direction", "desc" if sort == "created" else "asc")
        chosen = sorted((p for p in pulls if state == "all" or p["state"] == state), key=_PULL_SORTS[sort],
                        reverse=direction == "desc")
        return self._paged(request, [{k: v for k, v in p.items() if k not in PULL_DETAIL_ONLY} for p in chosen])

    def _paged(self, request: Recorded, items: list[JsonObject]) -> Reply:
        chosen, headers = github_page(self.url, request, items)
        return json_reply(200, chosen, headers)


# GitLab ---------------------------------------------------------------------------------------------------

def gitlab_user(username: str, name: str | None = None, user_id: int | None = None, bot: bool = False) -> JsonObject:
    """A user as GitLab embeds one (`author`, `approved_by[].user`, a note's `author`)."""
    user_id = user_id if user_id is not None else int(stable_sha(f"user-{username}")[:6], 16)
    return {"id": user_id, "username": username, "name": name or username.title(), "state": "active",
            "locked": False, "avatar_url": f"https://secure.gravatar.com/avatar/{stable_sha(username)}?s=80&d=identicon",
            "web_url": f"{GITLAB_WEB}/{username}", **({"bot": True} if bot else {})}


def _gitlab_commit_time(when: Moment, offset_hours: int) -> str:
    """A commit's time as GitLab writes it: milliseconds and the committer's own UTC offset."""
    if isinstance(when, str):
        return when
    return _utc(when).astimezone(timezone(timedelta(hours=offset_hours))).isoformat(timespec="milliseconds")


def gitlab_commit(sha: str, when: Moment, *, message: str = "Fix the flux capacitor\n\nIt was off by one.",
                  author_name: str = "Alice Liddell", author_email: str = "alice@example.com", additions: int = 10,
                  deletions: int = 2, committed: Moment | None = None, offset_hours: int = 0,
                  project_path: str = "acme/widgets") -> JsonObject:
    """One item of "List repository commits" with `with_stats=true` (without it, the list has no `stats`); times
    in the author's UTC offset (`offset_hours`)."""
    authored = _gitlab_commit_time(when, offset_hours)
    committed_at = _gitlab_commit_time(committed or when, offset_hours)
    return {"id": sha, "short_id": sha[:8], "created_at": committed_at, "parent_ids": [stable_sha(f"parent-{sha}")],
            "title": message.split("\n", 1)[0], "message": message, "author_name": author_name,
            "author_email": author_email, "authored_date": authored, "committer_name": author_name,
            "committer_email": author_email, "committed_date": committed_at, "trailers": {},
            "extended_trailers": {}, "web_url": f"{GITLAB_WEB}/{project_path}/-/commit/{sha}",
            "stats": {"additions": additions, "deletions": deletions, "total": additions + deletions}}


def gitlab_merge_request(iid: int, author: JsonObject, *, project_id: int = 1, title: str | None = None,
                         state: str = "opened", created: Moment = "2026-01-01T00:00:00.000Z",
                         updated: Moment | None = None, merged_at: Moment | None = None,
                         closed_at: Moment | None = None, source_branch: str | None = None,
                         target_branch: str = "main", merged_by: JsonObject | None = None,
                         project_path: str = "acme/widgets") -> JsonObject:
    """A merge request as "List project merge requests" answers it; `state` opened, closed, locked or merged."""
    merged = state == "merged"
    return {
        "id": 90_000 + project_id * 1000 + iid, "iid": iid, "project_id": project_id,
        "title": title or f"Change number {iid}", "description": "What it changes, and why.", "state": state,
        "created_at": _at(created, millis=True), "updated_at": _at(updated or created, millis=True),
        "merged_by": merged_by if merged else None, "merge_user": merged_by if merged else None,
        "merged_at": None if merged_at is None else _at(merged_at, millis=True),
        "closed_by": author if state == "closed" else None,
        "closed_at": None if closed_at is None else _at(closed_at, millis=True),
        "target_branch": target_branch, "source_branch": source_branch or f"feature-{iid}", "user_notes_count": 0,
        "upvotes": 0, "downvotes": 0, "author": author, "assignees": [], "assignee": None, "reviewers": [],
        "source_project_id": project_id, "target_project_id": project_id, "labels": [], "draft": False,
        "work_in_progress": False, "milestone": None, "merge_when_pipeline_succeeds": False,
        "merge_status": "can_be_merged", "detailed_merge_status": "mergeable" if state == "opened" else "not_open",
        "sha": stable_sha(f"mr-head-{project_id}-{iid}"),
        "merge_commit_sha": stable_sha(f"mr-merge-{project_id}-{iid}") if merged else None,
        "squash_commit_sha": None, "discussion_locked": None, "should_remove_source_branch": None,
        "force_remove_source_branch": True, "reference": f"!{iid}",
        "references": {"short": f"!{iid}", "relative": f"!{iid}", "full": f"{project_path}!{iid}"},
        "web_url": f"{GITLAB_WEB}/{project_path}/-/merge_requests/{iid}",
        "time_stats": {"time_estimate": 0, "total_time_spent": 0, "human_time_estimate": None,
                       "human_total_time_spent": None},
        "squash": False, "squash_on_merge": False,
        "task_completion_status": {"count": 0, "completed_count": 0}, "has_conflicts": False,
        "blocking_discussions_resolved": True,
    }


def gitlab_note(note_id: int, author: JsonObject, created: Moment, *, body: str = "Looks good to me.",
                system: bool = False, iid: int = 1, project_id: int = 1) -> JsonObject:
    """One item of "List all merge request notes": a comment, or (`system`) a note GitLab wrote itself
    ("approved this merge request", "added 1 commit", ...)."""
    at = _at(created, millis=True)
    return {"id": note_id, "type": None, "body": body, "attachment": None, "author": author, "created_at": at,
            "updated_at": at, "system": system, "noteable_id": 90_000 + project_id * 1000 + iid,
            "noteable_type": "MergeRequest", "project_id": project_id, "noteable_iid": iid, "resolvable": False,
            "confidential": False, "internal": False, "imported": False, "imported_from": "none",
            "commands_changes": {}}


_MR_ORDERS: dict[str, Callable[[JsonObject], Any]] = {
    "created_at": lambda mr: parse_time(mr["created_at"]), "updated_at": lambda mr: parse_time(mr["updated_at"]),
    "title": lambda mr: mr["title"], "merged_at": lambda mr: parse_time(mr["merged_at"] or "1970-01-01"),
}


class FakeGitLabRepos(FakeApiServer):
    """GitLab's REST API (under /api/v4) for a project's commits, merge requests, approvals and notes (see the
    module's docstring). `projects` maps a project path ("group/sub/project") to its id; `commits` and
    `merge_requests` map a project id to its commits and merge requests (any order); `approvals` maps
    (project id, iid) to who approved, as `{"user": ..., "approved_at": ...}`; `notes` maps (project id, iid) to
    the merge request's notes. `token=""` configures none."""

    user = staticmethod(gitlab_user)
    commit = staticmethod(gitlab_commit)
    merge_request = staticmethod(gitlab_merge_request)
    note = staticmethod(gitlab_note)

    def __init__(self, token: str | None = None, ssl_context: ssl.SSLContext | None = None) -> None:
        super().__init__(GITLAB_TOKEN if token is None else token, ssl_context)
        self.projects: dict[str, int] = {}
        self.commits: dict[int, list[JsonObject]] = {}
        self.merge_requests: dict[int, list[JsonObject]] = {}
        self.approvals: dict[tuple[int, int], list[JsonObject]] = {}
        self.notes: dict[tuple[int, int], list[JsonObject]] = {}
        self.mr_commits: dict[tuple[int, int], list[JsonObject]] = {}  # (project id, iid) -> the MR's commits
        self.issues: dict[int, list[JsonObject]] = {}
        self.rate_limit = 2000
        self.rate_remaining = 2000
        self.rate_reset = int(time.time()) + 60
        self.garbage: str | None = None
        self.garbage_after = 0

    def approve(self, project_id: int, iid: int, user: JsonObject, approved_at: Moment) -> None:
        self.approvals.setdefault((project_id, iid), []).append({"user": user,
                                                                 "approved_at": _at(approved_at, millis=True)})

    def answer(self, request: Recorded) -> Reply:
        reply = self._answer(request)
        reply.headers.update(gitlab_rate_headers(self.rate_limit, self.rate_remaining, self.rate_reset))
        return reply

    def _answer(self, request: Recorded) -> Reply:
        offered = request.headers.get("private-token") or presented_token(request.headers)
        if offered != (self.token or None):
            return json_reply(401, {"message": "401 Unauthorized"})
        seconds = self.throttled()
        if seconds is None and self.rate_remaining <= 0:
            seconds = max(1, self.rate_reset - int(time.time()))
        if seconds is not None:
            return Reply(429, b"Retry later\n", {"Content-Type": "text/plain", "Retry-After": str(seconds)})
        reply = self._route(request)
        if reply.status == 200 and self.garbage and _countdown(self, "garbage_after"):
            reply = garbled(self.garbage, request, reply, offered or "")
        reply = conditional(request, reply)
        if reply.status != 304:
            self.rate_remaining -= 1
        return reply

    def _route(self, request: Recorded) -> Reply:
        """Split the raw path first: `group%2Fproject` is one segment, `group/project` is two (and a 404)."""
        match [unquote(segment) for segment in request.raw_path.strip("/").split("/")]:
            case ["api", "v4", "projects", project, *rest]:
                project_id = self._project_id(project)
                if project_id is None:
                    return json_reply(404, {"message": "404 Project Not Found"})
                return self._project(request, project_id, rest)
        return json_reply(404, {"error": "404 Not Found"})

    def _project_id(self, ref: str) -> int | None:
        if ref.isdigit():
            known = int(ref) in self.projects.values() or int(ref) in self.commits or int(ref) in self.merge_requests
            return int(ref) if known else None
        return {path.lower(): pid for path, pid in self.projects.items()}.get(ref.lower())

    def _project(self, request: Recorded, project_id: int, rest: list[str]) -> Reply:
        merge_requests = self.merge_requests.get(project_id, [])
        found = [mr for mr in merge_requests if len(rest) > 1 and rest[1].isdigit() and mr["iid"] == int(rest[1])]
        match rest:
            case ["repository", "commits"]:
                return self._list_commits(request, self.commits.get(project_id, []))
            case ["merge_requests"]:
                return self._list_merge_requests(request, merge_requests)
            case ["issues"]:
                chosen = _window(self.issues.get(project_id, []), request.query, lambda i: i["updated_at"],
                                 "updated_after", "updated_before")
                if chosen is None:
                    return json_reply(400, {"error": "updated_after is invalid"})
                if request.query.get("state", "all") != "all":
                    chosen = [i for i in chosen if i["state"] == request.query["state"]]
                chosen.sort(key=lambda i: parse_time(i["updated_at"]), reverse=True)
                return self._paged(request, chosen)
            case ["merge_requests", _] if found:
                return json_reply(200, found[0])
            case ["merge_requests", _, "approvals"] if found:
                return json_reply(200, self._approval_state(found[0]))
            case ["merge_requests", _, "notes"] if found:
                return self._list_notes(request, self.notes.get((project_id, found[0]["iid"]), []))
            case ["merge_requests", _, "commits"] if found:  # newest first, as "Get single MR commits" lists them
                commits = self.mr_commits.get((project_id, found[0]["iid"]), [])
                return self._paged(request, sorted(commits, key=lambda c: parse_time(c["created_at"]), reverse=True))
            case ["merge_requests", *_]:
                return json_reply(404, {"message": "404 Not found"})
        return json_reply(404, {"error": "404 Not Found"})

    def _list_commits(self, request: Recorded, commits: list[JsonObject]) -> Reply:
        chosen = _window(commits, request.query, lambda c: c["committed_date"], "since", "until")
        if chosen is None:
            return json_reply(400, {"error": "since is invalid"})
        chosen.sort(key=lambda c: parse_time(c["committed_date"]), reverse=True)
        stats = request.query.get("with_stats", "false").lower() == "true"
        return self._paged(request, [c if stats else {k: v for k, v in c.items() if k != "stats"} for c in chosen])

    def _list_merge_requests(self, request: Recorded, merge_requests: list[JsonObject]) -> Reply:
        state = request.query.get("state", "all")
        order = _MR_ORDERS.get(request.query.get("order_by", "created_at"))
        if order is None:
            return json_reply(400, {"error": "order_by does not have a valid value"})
        if state not in ("opened", "closed", "locked", "merged", "all"):
            return json_reply(400, {"error": "state does not have a valid value"})
        chosen = [mr for mr in merge_requests if state == "all" or mr["state"] == state]
        for prefix, field in (("updated", "updated_at"), ("created", "created_at")):
            within = _window(chosen, request.query, itemgetter(field), f"{prefix}_after", f"{prefix}_before")
            if within is None:
                return json_reply(400, {"error": f"{prefix}_after is invalid"})
            chosen = within
        chosen.sort(key=order, reverse=request.query.get("sort", "desc") != "asc")
        return self._paged(request, chosen)

    def _approval_state(self, mr: JsonObject) -> JsonObject:
        approved_by = list(self.approvals.get((mr["project_id"], mr["iid"]), []))
        return {"id": mr["id"], "iid": mr["iid"], "project_id": mr["project_id"], "title": mr["title"],
                "description": mr["description"], "state": mr["state"], "created_at": mr["created_at"],
                "updated_at": mr["updated_at"], "merge_status": mr["merge_status"], "approved": bool(approved_by),
                "approvals_required": 0, "approvals_left": 0, "require_password_to_approve": False,
                "approved_by": approved_by, "suggested_approvers": [], "approvers": [], "approver_groups": [],
                "user_has_approved": False, "user_can_approve": True, "approval_rules_left": [],
                "has_approval_rules": False, "merge_request_approvers_available": False,
                "multiple_approval_rules_available": False, "invalid_approvers_rules": []}

    def _list_notes(self, request: Recorded, notes: list[JsonObject]) -> Reply:
        field = request.query.get("order_by", "created_at")
        if field not in ("created_at", "updated_at"):
            return json_reply(400, {"error": "order_by does not have a valid value"})
        chosen = sorted(notes, key=lambda note: (parse_time(note[field]), note["id"]),
                        reverse=request.query.get("sort", "desc") != "asc")
        return self._paged(request, chosen)

    def _paged(self, request: Recorded, items: list[JsonObject]) -> Reply:
        return gitlab_page(self.url, request, items)


def github_issue(number: int, user: JsonObject, *, title: str | None = None, state: str = "open",
                 created: Moment = "2026-01-01T00:00:00Z", updated: Moment | None = None,
                 closed: Moment | None = None, labels: tuple[str, ...] = (), milestone: JsonObject | None = None,
                 repo: str = "acme/widgets", pull_request: bool = False) -> JsonObject:
    """One item of "List repository issues" (also the `issue` of an `issues` hook); `pull_request` True makes it
    a pull request as that list shows one (with a `pull_request` object)."""
    api = f"{GITHUB_API}/repos/{repo}"
    item: JsonObject = {
        "url": f"{api}/issues/{number}", "id": 2_000_000 + number, "node_id": f"I_kwDOAJy2Ks{number}",
        "number": number, "title": title or f"Issue number {number}", "user": user, "state": state,
        "labels": [{"id": 100 + i, "name": name, "color": "ededed", "default": False} for i, name in enumerate(labels)],
        "milestone": milestone, "comments": 0, "created_at": _at(created), "updated_at": _at(updated or created),
        "closed_at": None if closed is None else _at(closed), "author_association": "MEMBER", "body": "Details.",
        "html_url": f"{GITHUB_WEB}/{repo}/issues/{number}", "locked": False, "assignee": None, "assignees": [],
    }
    if pull_request:
        item["pull_request"] = {"url": f"{api}/pulls/{number}", "html_url": f"{GITHUB_WEB}/{repo}/pull/{number}"}
    return item


def github_milestone(milestone_id: int, number: int, title: str, *, state: str = "open",
                     due_on: Moment | None = None, created: Moment = "2026-01-01T00:00:00Z") -> JsonObject:
    return {"id": milestone_id, "number": number, "title": title, "state": state, "description": "",
            "open_issues": 1, "closed_issues": 0, "created_at": _at(created),
            "due_on": None if due_on is None else _at(due_on)}


def gitlab_issue(iid: int, author: JsonObject, *, project_id: int = 1, title: str | None = None,
                 state: str = "opened", created: Moment = "2026-01-01T00:00:00Z", updated: Moment | None = None,
                 closed: Moment | None = None, weight: int | None = None, labels: tuple[str, ...] = (),
                 milestone: JsonObject | None = None, iteration: JsonObject | None = None) -> JsonObject:
    """One item of "List project issues" (`weight` is GitLab's points)."""
    return {"id": 3_000 + iid, "iid": iid, "project_id": project_id, "title": title or f"Issue {iid}",
            "description": "Details.", "state": state, "created_at": _at(created, millis=True),
            "updated_at": _at(updated or created, millis=True),
            "closed_at": None if closed is None else _at(closed, millis=True), "labels": list(labels),
            "milestone": milestone, "iteration": iteration, "author": author, "assignees": [], "weight": weight,
            "user_notes_count": 0,
            "web_url": f"https://gitlab.example.com/acme/platform/widgets/-/issues/{iid}"}


def gitlab_milestone(milestone_id: int, iid: int, title: str, *, state: str = "active",
                     due_date: str | None = None, start_date: str | None = None) -> JsonObject:
    return {"id": milestone_id, "iid": iid, "project_id": 1, "title": title, "description": "", "state": state,
            "due_date": due_date, "start_date": start_date, "created_at": "2026-01-01T00:00:00.000Z"}


def gitlab_iteration(iteration_id: int, iid: int, start_date: str, due_date: str, *, title: str | None = None,
                     state: int = 2) -> JsonObject:
    """An issue's `iteration` (GitLab Premium): automatic cadences leave the title null; state 1 upcoming,
    2 current, 3 closed."""
    return {"id": iteration_id, "iid": iid, "sequence": iid, "group_id": 9, "title": title, "description": None,
            "state": state, "created_at": "2026-01-01T00:00:00.000Z", "updated_at": "2026-01-01T00:00:00.000Z",
            "start_date": start_date, "due_date": due_date,
            "web_url": f"https://gitlab.example.com/groups/acme/-/iterations/{iteration_id}"}
