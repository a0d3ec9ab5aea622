"""Shared pieces of the fake API servers in tests/support/fake_kubernetes.py and tests/support/fake_ci.py.

`FakeApiServer` is a real HTTP server on 127.0.0.1 (port 0, daemon threads) that records every request and
lets a subclass answer it. It speaks HTTP/1.0, so every response closes its connection: stopping the server
makes it unreachable at once (connection refused), with no pooled keep-alive connection left to reach it.
The helpers below do what the real APIs do with ETags, page numbers and `Link` headers.
"""
from __future__ import annotations

import hashlib
import json
import ssl
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import parse_qs, parse_qsl, unquote, urlencode, urlsplit

JsonObject = dict[str, Any]
T = TypeVar("T")


@dataclass
class Recorded:
    """One request as the server saw it; `status` is what it answered."""

    method: str
    path: str  # percent-decoded, without the query
    raw_path: str  # as sent, without the query (a GitLab project path stays `group%2Fproject` here)
    raw_query: str
    query: dict[str, str]  # the last value of each parameter
    headers: dict[str, str]  # lower-cased names
    status: int = 0
    form: dict[str, str] = field(default_factory=dict)  # a POST's url-encoded body, the last value of each field


@dataclass
class Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def json_reply(status: int, payload: Any, headers: dict[str, str] | None = None) -> Reply:
    body = json.dumps(payload, separators=(",", ":")).encode()
    return Reply(status, body, {"Content-Type": "application/json", **(headers or {})})


def etag_for(body: bytes) -> str:
    """A strong validator computed from the body, quoted as HTTP wants."""
    return '"' + hashlib.sha256(body).hexdigest()[:40] + '"'


def conditional(request: Recorded, reply: Reply) -> Reply:
    """Give a 200 its ETag; answer 304 with no body when the request's If-None-Match names that ETag."""
    if reply.status != 200:
        return reply
    etag = etag_for(reply.body)
    offered = {tag.strip().removeprefix("W/") for tag in request.headers.get("if-none-match", "").split(",")}
    if etag in offered or "*" in offered:
        kept = {name: value for name, value in reply.headers.items() if name != "Content-Type"}
        return Reply(304, b"", {**kept, "ETag": etag})
    reply.headers["ETag"] = etag
    return reply


def query_int(query: dict[str, str], name: str, default: int, *, low: int = 1, high: int | None = None) -> int:
    """An integer parameter as the APIs read it: junk means the default, out of range is clamped."""
    try:
        value = max(int(query.get(name, "")), low)
    except ValueError:
        return default
    return min(value, high) if high is not None else value


def paginate(items: Sequence[T], page: int, per_page: int) -> tuple[list[T], int]:
    """The items of one numbered page, and the number of the last page (at least 1)."""
    last = max(1, -(-len(items) // per_page))
    start = (page - 1) * per_page
    return list(items[start:start + per_page]), last


def link_header(base: str, raw_query: str, per_page: int, rels: list[tuple[str, int]]) -> str:
    """RFC 8288 `Link` value, `<base?...&per_page=P&page=N>; rel="next", ...`, keeping the other parameters."""
    kept = [(name, value) for name, value in parse_qsl(raw_query, keep_blank_values=True)
            if name not in ("page", "per_page")]
    return ", ".join(f'<{base}?{urlencode([*kept, ("per_page", per_page), ("page", page)])}>; rel="{rel}"'
                     for rel, page in rels)


def parse_time(text: str) -> datetime:
    """An ISO 8601 time (`Z`, offsets, milliseconds, or a bare date meaning midnight UTC)."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def iso(moment: datetime, *, millis: bool = False) -> str:
    """GitHub and Kubernetes write `2026-01-01T00:00:00Z`; GitLab writes `2026-01-01T00:00:00.000Z`."""
    moment = moment.astimezone(UTC)
    if millis:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def shift_time(text: str, seconds: float, *, millis: bool = False) -> str:
    return iso(parse_time(text) + timedelta(seconds=seconds), millis=millis)


def presented_token(headers: dict[str, str]) -> str | None:
    """The token of `Authorization: Bearer T` (or GitHub's older `token T`)."""
    scheme, _, token = headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() in ("bearer", "token") else None


def stable_sha(seed: str) -> str:
    """A 40-hex-digit git-like SHA that is the same on every run for the same seed."""
    return hashlib.sha1(seed.encode(), usedforsecurity=False).hexdigest()


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    ssl_context: ssl.SSLContext | None = None

    def finish_request(self, request: Any, client_address: Any) -> None:
        """TLS handshakes happen here, in the connection's own thread, so a slow client blocks nobody."""
        if self.ssl_context is None:
            super().finish_request(request, client_address)
            return
        request.settimeout(10)
        try:
            tls = self.ssl_context.wrap_socket(request, server_side=True)
        except OSError:  # a failed handshake (the client does not trust the cert): nothing to answer
            return
        with tls:
            super().finish_request(tls, client_address)


class FakeApiServer:
    """Base of the fakes: a subclass implements `answer(request) -> Reply`, which runs under `lock`.

    Use it as a context manager, or `start()` / `stop()`. Pass an `ssl_context` (e.g. from trustme's
    `ca.issue_cert("127.0.0.1").configure_cert(ctx)`) to serve HTTPS; `url` then starts with `https://`.
    `retry_after` (seconds), when set, makes every request answer 429 with a `Retry-After` header; with
    `retry_after_times` also set, only that many requests do, then `retry_after` clears itself.
    """

    def __init__(self, token: str, ssl_context: ssl.SSLContext | None = None) -> None:
        self.token = token
        self.requests: list[Recorded] = []
        self.lock = threading.RLock()
        self.retry_after: int | None = None
        self.retry_after_times: int | None = None
        self.server = _HttpServer(("127.0.0.1", 0), self._handler())
        self.server.ssl_context = ssl_context
        scheme = "https" if ssl_context is not None else "http"
        self.url = f"{scheme}://127.0.0.1:{self.server.server_address[1]}"
        self._thread: threading.Thread | None = None

    def answer(self, request: Recorded) -> Reply:
        raise NotImplementedError

    def start(self) -> Self:
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket: from now on connecting to `url` is refused."""
        if self._thread is not None:
            self.server.shutdown()
            self._thread.join()
            self._thread = None
        self.server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def hits(self, path_prefix: str = "", status: int | None = None) -> int:
        """Requests whose decoded or raw path starts with `path_prefix` (and that answered `status`)."""
        with self.lock:
            return sum(1 for request in self.requests
                       if (request.path.startswith(path_prefix) or request.raw_path.startswith(path_prefix))
                       and status in (None, request.status))

    def not_modified(self, path_prefix: str = "") -> int:
        """How many requests were answered 304 Not Modified."""
        return self.hits(path_prefix, status=304)

    def throttled(self) -> int | None:
        """The Retry-After seconds when this request is to be answered 429, else None."""
        seconds = self.retry_after
        if seconds is not None and self.retry_after_times is not None:
            self.retry_after_times -= 1
            if self.retry_after_times <= 0:
                self.retry_after = self.retry_after_times = None
        return seconds

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            timeout = 10

            def do_GET(self) -> None:
                owner._serve(self)

            def do_POST(self) -> None:
                owner._serve(self)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        request = Recorded(handler.command, unquote(parts.path), parts.path, parts.query,
                           {name: values[-1] for name, values in parse_qs(parts.query, keep_blank_values=True).items()},
                           {name.lower(): value for name, value in handler.headers.items()})
        if handler.command == "POST":
            body = handler.rfile.read(int(handler.headers.get("Content-Length") or 0)).decode("utf-8", "replace")
            request.form = {name: values[-1] for name, values in parse_qs(body, keep_blank_values=True).items()}
        with self.lock:
            self.requests.append(request)
            reply = self.answer(request)
            request.status = reply.status
        try:
            handler.send_response(reply.status)
            for name, value in reply.headers.items():
                handler.send_header(name, value)
            if reply.status != 304:
                handler.send_header("Content-Length", str(len(reply.body)))
            handler.end_headers()
            handler.wfile.write(reply.body)
        except OSError:  # the client gave up
            pass


# GitHub Actions objects, as in "List workflow runs for a repository" and "List jobs for a workflow run".

GITHUB_API = "https://api.github.com"
GITHUB_WEB = "https://github.com"


def _github_account(login: str) -> JsonObject:
    account_id = int(stable_sha(f"user-{login}")[:7], 16)
    return {"login": login, "id": account_id, "node_id": f"MDQ6VXNlcn{account_id}", "type": "User",
            "site_admin": False, "avatar_url": f"https://avatars.githubusercontent.com/u/{account_id}?v=4",
            "url": f"{GITHUB_API}/users/{login}", "html_url": f"{GITHUB_WEB}/{login}"}


def _github_repository(full_name: str) -> JsonObject:
    owner, name = full_name.split("/", 1)
    repo_id = int(stable_sha(f"repo-{full_name}")[:8], 16)
    return {"id": repo_id, "node_id": f"R_kgDO{repo_id}", "name": name, "full_name": full_name, "private": False,
            "owner": {**_github_account(owner), "type": "Organization"}, "html_url": f"{GITHUB_WEB}/{full_name}",
            "url": f"{GITHUB_API}/repos/{full_name}", "fork": False}


def github_run(run_id: int, name: str = "CI", path: str = ".github/workflows/ci.yml", branch: str = "main",
               status: str = "completed", conclusion: str | None = "success", sha: str | None = None,
               message: str = "Fix the flaky test\n\nIt waited on a clock.", author_name: str = "Dev Example",
               author_email: str = "dev@example.com", commit_timestamp: str | None = None,
               created_at: str = "2026-01-01T00:00:00Z", run_started_at: str | None = None,
               updated_at: str | None = None, repo: str = "octo-org/octo-repo", event: str = "push",
               run_number: int | None = None, run_attempt: int = 1, workflow_id: int = 161335) -> JsonObject:
    """A workflow run. `conclusion` is null unless `status` is "completed" (as on GitHub); `updated_at`
    defaults to five minutes after the start for a completed run, else to the start."""
    sha = sha or stable_sha(f"run-{run_id}")
    started = run_started_at or created_at
    done = status == "completed"
    api = f"{GITHUB_API}/repos/{repo}/actions/runs/{run_id}"
    actor = _github_account(author_email.split("@", 1)[0])
    person = {"name": author_name, "email": author_email}
    return {
        "id": run_id, "name": name, "node_id": f"WFR_kwLO{run_id}", "head_branch": branch, "head_sha": sha,
        "path": path, "display_title": message.split("\n", 1)[0], "run_number": run_number or run_id,
        "event": event, "status": status, "conclusion": conclusion if done else None, "workflow_id": workflow_id,
        "check_suite_id": run_id * 3, "check_suite_node_id": f"CS_kwDO{run_id * 3}", "url": api,
        "html_url": f"{GITHUB_WEB}/{repo}/actions/runs/{run_id}", "pull_requests": [], "created_at": created_at,
        "updated_at": updated_at or (shift_time(started, 300) if done else started), "actor": actor,
        "triggering_actor": actor, "run_attempt": run_attempt, "referenced_workflows": [],
        "run_started_at": started, "jobs_url": f"{api}/jobs", "logs_url": f"{api}/logs",
        "check_suite_url": f"{GITHUB_API}/repos/{repo}/check-suites/{run_id * 3}",
        "artifacts_url": f"{api}/artifacts", "cancel_url": f"{api}/cancel", "rerun_url": f"{api}/rerun",
        "previous_attempt_url": f"{api}/attempts/{run_attempt - 1}" if run_attempt > 1 else None,
        "workflow_url": f"{GITHUB_API}/repos/{repo}/actions/workflows/{workflow_id}",
        "head_commit": {"id": sha, "tree_id": stable_sha(f"tree-{sha}"), "message": message,
                        "timestamp": commit_timestamp or created_at, "author": person, "committer": dict(person)},
        "repository": _github_repository(repo), "head_repository": _github_repository(repo),
    }


def _github_steps(status: str, conclusion: str | None, started: str, completed: str | None) -> list[JsonObject]:
    if status in ("queued", "waiting", "pending"):
        return []
    steps = []
    for number, name in enumerate(("Set up job", "Run actions/checkout@v4", "Run tests", "Complete job"), 1):
        if status == "completed" or number < 3:
            step_status, step_conclusion = "completed", conclusion if name == "Run tests" else "success"
        else:
            step_status, step_conclusion = ("in_progress" if number == 3 else "queued"), None
        steps.append({"name": name, "status": step_status, "conclusion": step_conclusion, "number": number,
                      "started_at": started if step_status != "queued" else None,
                      "completed_at": (completed or started) if step_status == "completed" else None})
    return steps


def github_job(job_id: int, run_id: int, name: str = "build", status: str = "completed",
               conclusion: str | None = "success", started_at: str = "2026-01-01T00:00:10Z",
               completed_at: str | None = None, created_at: str | None = None, head_sha: str | None = None,
               repo: str = "octo-org/octo-repo", workflow_name: str = "CI", head_branch: str = "main",
               run_attempt: int = 1, labels: list[str] | None = None, runner_name: str | None = "GitHub Actions 2",
               steps: list[JsonObject] | None = None) -> JsonObject:
    """A workflow job. `head_sha` defaults to the one `github_run(run_id)` uses; `completed_at` to two minutes
    after `started_at` when completed (null otherwise); steps are made up from the status unless given."""
    done = status == "completed"
    completed = (completed_at or shift_time(started_at, 120)) if done else None
    queued = status in ("queued", "waiting", "pending")
    return {
        "id": job_id, "run_id": run_id, "workflow_name": workflow_name, "head_branch": head_branch,
        "run_url": f"{GITHUB_API}/repos/{repo}/actions/runs/{run_id}", "run_attempt": run_attempt,
        "node_id": f"CR_kwDO{job_id}", "head_sha": head_sha or stable_sha(f"run-{run_id}"),
        "url": f"{GITHUB_API}/repos/{repo}/actions/jobs/{job_id}",
        "html_url": f"{GITHUB_WEB}/{repo}/actions/runs/{run_id}/job/{job_id}", "status": status,
        "conclusion": conclusion if done else None, "created_at": created_at or shift_time(started_at, -5),
        "started_at": started_at, "completed_at": completed, "name": name,
        "steps": steps if steps is not None else _github_steps(status, conclusion, started_at, completed),
        "check_run_url": f"{GITHUB_API}/repos/{repo}/check-runs/{job_id}",
        "labels": labels if labels is not None else ["ubuntu-latest"],
        "runner_id": None if queued else 2, "runner_name": None if queued else runner_name,
        "runner_group_id": None if queued else 2, "runner_group_name": None if queued else "GitHub Actions",
    }


# GitLab CI objects, as in "Get a single pipeline" and "List pipeline jobs".

GITLAB_WEB = "https://gitlab.com"
GITLAB_PIPELINE_LIST_KEYS = ("id", "iid", "project_id", "sha", "ref", "status", "source", "created_at",
                             "updated_at", "web_url")
_GITLAB_STARTED = {"running", "success", "failed", "canceled"}
_GITLAB_FINISHED = {"success", "failed", "canceled"}
_GITLAB_TEXT = {"success": "passed", "manual": "manual action", "scheduled": "delayed"}


def _gitlab_user(username: str, name: str) -> JsonObject:
    user_id = int(stable_sha(f"user-{username}")[:6], 16)
    return {"id": user_id, "username": username, "name": name, "state": "active", "locked": False,
            "avatar_url": f"https://secure.gravatar.com/avatar/{stable_sha(username)}?s=80&d=identicon",
            "web_url": f"{GITLAB_WEB}/{username}"}


def _gitlab_times(status: str, created_at: str, started_at: str | None, finished_at: str | None,
                  duration: float | None) -> tuple[str | None, str | None]:
    """Start 4 s after creation and finish `duration` (default 120 s) later, when the status implies it."""
    started = started_at or (shift_time(created_at, 4, millis=True) if status in _GITLAB_STARTED else None)
    if finished_at or status not in _GITLAB_FINISHED:
        return started, finished_at
    return started, shift_time(started or created_at, duration or 120, millis=True)


def _seconds_between(start: str | None, end: str | None) -> float | None:
    return (parse_time(end) - parse_time(start)).total_seconds() if start and end else None


def gitlab_pipeline(pipeline_id: int, project_id: int = 1, status: str = "success", ref: str = "main",
                    sha: str | None = None, source: str = "push", created_at: str = "2026-01-01T00:00:00.000Z",
                    started_at: str | None = None, finished_at: str | None = None, updated_at: str | None = None,
                    duration: int | None = None, queued_duration: float | None = None, coverage: str | None = None,
                    iid: int | None = None, project_path: str = "group/project", username: str = "dev",
                    user_name: str = "Dev Example", tag: bool = False) -> JsonObject:
    """A pipeline as "Get a single pipeline" returns it (the list endpoint shows GITLAB_PIPELINE_LIST_KEYS).
    Start/finish times, `duration` and `queued_duration` are derived from `status` unless given."""
    started, finished = _gitlab_times(status, created_at, started_at, finished_at, duration)
    elapsed, queued = _seconds_between(started, finished), _seconds_between(created_at, started)
    text = _GITLAB_TEXT.get(status, status)
    web_url = f"{GITLAB_WEB}/{project_path}/-/pipelines/{pipeline_id}"
    return {
        "id": pipeline_id, "iid": iid or pipeline_id % 10_000, "project_id": project_id,
        "sha": sha or stable_sha(f"pipeline-{pipeline_id}"), "ref": ref, "status": status, "source": source,
        "created_at": created_at, "updated_at": updated_at or finished or started or created_at,
        "web_url": web_url, "before_sha": "0" * 40, "tag": tag, "yaml_errors": None,
        "user": _gitlab_user(username, user_name), "started_at": started, "finished_at": finished,
        "committed_at": None, "duration": duration if duration is not None else elapsed and int(elapsed),
        "queued_duration": queued_duration if queued_duration is not None else queued, "coverage": coverage,
        "detailed_status": {"icon": f"status_{status}", "text": text, "label": text, "group": status,
                            "tooltip": text, "has_details": True, "details_path": web_url.removeprefix(GITLAB_WEB),
                            "illustration": None, "favicon": f"/assets/ci_favicons/favicon_status_{status}.png"},
    }


def gitlab_job(job_id: int, pipeline_id: int, name: str = "test", stage: str = "test", status: str = "success",
               project_id: int = 1, ref: str = "main", sha: str | None = None,
               created_at: str = "2026-01-01T00:00:00.000Z", started_at: str | None = None,
               finished_at: str | None = None, duration: float | None = None, queued_duration: float | None = None,
               failure_reason: str | None = None, pipeline_status: str | None = None,
               project_path: str = "group/project", message: str = "Fix the flaky test\n\nIt waited on a clock.",
               author_name: str = "Dev Example", author_email: str = "dev@example.com",
               allow_failure: bool = False) -> JsonObject:
    """A job as "List pipeline jobs" returns it. `sha` defaults to the one `gitlab_pipeline(pipeline_id)` uses;
    a failed job gets `failure_reason` "script_failure" unless given."""
    sha = sha or stable_sha(f"pipeline-{pipeline_id}")
    started, finished = _gitlab_times(status, created_at, started_at, finished_at, duration)
    elapsed, queued = _seconds_between(started, finished), _seconds_between(created_at, started)
    job: JsonObject = {
        "id": job_id, "status": status, "stage": stage, "name": name, "ref": ref, "tag": False, "coverage": None,
        "allow_failure": allow_failure, "created_at": created_at, "started_at": started, "finished_at": finished,
        "erased_at": None, "duration": duration if duration is not None else elapsed,
        "queued_duration": queued_duration if queued_duration is not None else queued,
        "user": _gitlab_user(author_email.split("@", 1)[0], author_name),
        "commit": {"id": sha, "short_id": sha[:8], "created_at": created_at,
                   "parent_ids": [stable_sha(f"parent-{sha}")], "title": message.split("\n", 1)[0],
                   "message": message, "author_name": author_name, "author_email": author_email,
                   "authored_date": created_at, "committer_name": author_name, "committer_email": author_email,
                   "committed_date": created_at, "trailers": {}, "extended_trailers": {},
                   "web_url": f"{GITLAB_WEB}/{project_path}/-/commit/{sha}"},
        "pipeline": {"id": pipeline_id, "project_id": project_id, "ref": ref, "sha": sha,
                     "status": pipeline_status or status},
        "web_url": f"{GITLAB_WEB}/{project_path}/-/jobs/{job_id}", "project": {"ci_job_token_scope_enabled": False},
        "artifacts": [], "runner": None if started is None else {
            "id": 12270859, "description": "1-blue.saas-linux-small-amd64", "ip_address": None, "active": True,
            "paused": False, "is_shared": True, "runner_type": "instance_type", "name": "gitlab-runner",
            "online": True, "status": "online"},
        "artifacts_expire_at": None, "archived": False, "tag_list": [],
    }
    if status == "failed":
        job["failure_reason"] = failure_reason or "script_failure"
    return job


def github_page(base_url: str, request: Recorded, items: list[JsonObject]) -> tuple[list[JsonObject], dict[str, str]]:
    """One page of a GitHub list (`per_page` 30 by default, 100 at most) and its `Link` header (rel prev, next,
    last, first; none on a single page)."""
    per_page = query_int(request.query, "per_page", 30, high=100)
    page = query_int(request.query, "page", 1)
    chosen, last = paginate(items, page, per_page)
    rels = [("prev", page - 1)] if page > 1 else []
    rels += [("next", page + 1), ("last", last)] if page < last else []
    rels += [("first", 1)] if page > 1 else []
    return chosen, {"Link": link_header(base_url + request.raw_path, request.raw_query, per_page, rels)} if rels else {}


def gitlab_page(base_url: str, request: Recorded, items: list[JsonObject]) -> Reply:
    """One page of a GitLab list (`per_page` 20 by default, 100 at most), with `X-Page`, `X-Per-Page`,
    `X-Total`, `X-Total-Pages`, `X-Next-Page`, `X-Prev-Page` and `Link`."""
    per_page = query_int(request.query, "per_page", 20, high=100)
    page = query_int(request.query, "page", 1)
    chosen, last = paginate(items, page, per_page)
    rels = [("prev", page - 1)] if page > 1 else []
    rels += [("next", page + 1)] if page < last else []
    rels += [("first", 1), ("last", last)]
    link = link_header(base_url + request.raw_path, request.raw_query, per_page, rels)
    return json_reply(200, chosen, {
        "X-Page": str(page), "X-Per-Page": str(per_page), "X-Total": str(len(items)), "X-Total-Pages": str(last),
        "X-Next-Page": str(page + 1) if page < last else "", "X-Prev-Page": str(page - 1) if page > 1 else "",
        "Link": link})


def gitlab_rate_headers(limit: int, remaining: int, reset: int) -> dict[str, str]:
    """GitLab's `RateLimit-*` headers on every answer."""
    return {"RateLimit-Limit": str(limit), "RateLimit-Observed": str(limit - max(remaining, 0)),
            "RateLimit-Remaining": str(max(remaining, 0)), "RateLimit-Reset": str(reset),
            "RateLimit-ResetTime": formatdate(reset, usegmt=True)}
