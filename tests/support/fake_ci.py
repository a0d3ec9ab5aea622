"""Fake GitHub Actions and GitLab CI REST APIs on 127.0.0.1, with the real JSON, paging and headers.

    with FakeGitHub() as github:
        github.runs["octo-org/octo-repo"] = [github_run(11, status="in_progress"), github_run(10)]
        github.jobs[10] = [github_job(101, 10), github_job(102, 10, name="lint", conclusion="failure")]
        ...  # api_url = github.url, header `Authorization: Bearer {github.token}`

    with FakeGitLab() as gitlab:
        gitlab.projects["group/project"] = 7
        gitlab.pipelines[7] = [gitlab_pipeline(501, project_id=7), gitlab_pipeline(502, project_id=7)]
        gitlab.jobs[501] = [gitlab_job(9001, 501, project_id=7)]
        ...  # api_url = gitlab.url, header `PRIVATE-TOKEN: {gitlab.token}`

Both give every 200 a strong `ETag` computed from the body and answer a matching `If-None-Match` with 304 and
no body; a 304 does not use up the rate limit (`rate_remaining`), every other answered request does. The
builders are also reachable as `FakeGitHub.run` / `FakeGitHub.job` and `FakeGitLab.pipeline` / `FakeGitLab.job`.
To make either unreachable, `stop()` it: connections are then refused.
"""
from __future__ import annotations

import ssl
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, unquote

from tests.support.fake_payloads import (
    GITLAB_PIPELINE_LIST_KEYS,
    FakeApiServer,
    JsonObject,
    Recorded,
    Reply,
    conditional,
    github_job,
    github_page,
    github_run,
    gitlab_job,
    gitlab_page,
    gitlab_pipeline,
    gitlab_rate_headers,
    json_reply,
    parse_time,
    presented_token,
)

__all__ = ["FakeGitHub", "FakeGitLab", "github_job", "github_run", "gitlab_job", "gitlab_pipeline"]

GITHUB_TOKEN = "ghp_testtoken"
GITLAB_TOKEN = "glpat-testtoken"
GITHUB_DOCS = "https://docs.github.com/rest"
BAD_CREDENTIALS = {"message": "Bad credentials", "documentation_url": GITHUB_DOCS}
GITHUB_NOT_FOUND = {"message": "Not Found", "documentation_url": GITHUB_DOCS}
SECONDARY_LIMIT = {"message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try "
                              "again.", "documentation_url": GITHUB_DOCS + "/overview/rate-limits-for-the-rest-api"}
GITHUB_HEADERS = {"Content-Type": "application/json; charset=utf-8", "X-GitHub-Api-Version-Selected": "2022-11-28",
                  "Cache-Control": "private, max-age=60, s-maxage=60", "Vary": "Accept, Authorization, Cookie"}


def _date_bound(text: str, *, end: bool) -> float:
    """A `created` bound as epoch seconds; a bare date means the start (or, with `end`, the end) of that day."""
    moment = parse_time(text).timestamp()
    return moment + 86_399.999 if end and len(text) == 10 else moment


def created_matches(created_at: str, spec: str) -> bool:
    """GitHub's `created` filter: `2026-01-01`, `>=2026-01-01T10:00:00Z`, `<2026-01-02`, `2026-01-01..2026-01-03`."""
    moment = parse_time(created_at).timestamp()
    if ".." in spec:
        low, high = spec.split("..", 1)
        return (low in ("", "*") or moment >= _date_bound(low, end=False)) and \
            (high in ("", "*") or moment <= _date_bound(high, end=True))
    tests: list[tuple[str, Callable[[str], bool]]] = [
        (">=", lambda bound: moment >= _date_bound(bound, end=False)),
        ("<=", lambda bound: moment <= _date_bound(bound, end=True)),
        (">", lambda bound: moment > _date_bound(bound, end=True)),
        ("<", lambda bound: moment < _date_bound(bound, end=False)),
    ]
    for operator, test in tests:
        if spec.startswith(operator):
            return test(spec[len(operator):])
    return _date_bound(spec, end=False) <= moment <= _date_bound(spec, end=True)


def _run_matches(run: JsonObject, query: dict[str, str]) -> bool:
    fields = {"branch": run["head_branch"], "event": run["event"], "head_sha": run["head_sha"],
              "actor": (run.get("actor") or {}).get("login")}
    if any(name in query and query[name] != value for name, value in fields.items()):
        return False
    if query.get("status") and query["status"] not in (run["status"], run["conclusion"]):
        return False
    return not query.get("created") or created_matches(run["created_at"], query["created"])


class FakeGitHub(FakeApiServer):
    """GitHub's REST API for workflow runs and jobs. `runs` maps "owner/repo" to its runs (served newest
    first), `jobs` maps a run id to its jobs. `rate_remaining` counts down from `rate_limit`; at 0 requests
    answer 403 "API rate limit exceeded" until a test raises it again. `/rate_limit` is free, as on GitHub."""

    run = staticmethod(github_run)
    job = staticmethod(github_job)

    def __init__(self, token: str | None = None, ssl_context: ssl.SSLContext | None = None) -> None:
        super().__init__(token or GITHUB_TOKEN, ssl_context)
        self.runs: dict[str, list[JsonObject]] = {}
        self.jobs: dict[int, list[JsonObject]] = {}
        self.rate_limit = 5000
        self.rate_remaining = 5000
        self.rate_reset = int(time.time()) + 3600

    def answer(self, request: Recorded) -> Reply:
        reply = self._answer(request)
        reply.headers.update({"X-RateLimit-Limit": str(self.rate_limit),
                              "X-RateLimit-Remaining": str(max(self.rate_remaining, 0)),
                              "X-RateLimit-Reset": str(self.rate_reset),
                              "X-RateLimit-Used": str(self.rate_limit - max(self.rate_remaining, 0)),
                              "X-RateLimit-Resource": "core"})
        if reply.status != 304:
            reply.headers.update(GITHUB_HEADERS)
        return reply

    def _answer(self, request: Recorded) -> Reply:
        if presented_token(request.headers) != self.token:
            return json_reply(401, BAD_CREDENTIALS)
        seconds = self.throttled()
        if seconds is not None:
            return json_reply(429, SECONDARY_LIMIT, {"Retry-After": str(seconds)})
        if request.path.rstrip("/") == "/rate_limit":
            return json_reply(200, self._rate_limit_body())
        if self.rate_remaining <= 0:
            return json_reply(403, {"message": "API rate limit exceeded for user ID 1.",
                                    "documentation_url": GITHUB_DOCS + "/overview/rate-limits-for-the-rest-api"})
        reply = conditional(request, self._route(request))
        if reply.status != 304:
            self.rate_remaining -= 1
        return reply

    def _rate_limit_body(self) -> JsonObject:
        core = {"limit": self.rate_limit, "remaining": max(self.rate_remaining, 0), "reset": self.rate_reset,
                "used": self.rate_limit - max(self.rate_remaining, 0), "resource": "core"}
        return {"resources": {"core": core}, "rate": core}

    def _route(self, request: Recorded) -> Reply:
        match request.path.strip("/").split("/"):
            case ["repos", owner, name, "actions", "runs"]:
                runs = self._repo_runs(f"{owner}/{name}")
                if runs is not None:
                    chosen = [run for run in runs if _run_matches(run, request.query)]
                    chosen.sort(key=lambda run: (parse_time(run["created_at"]), run["id"]), reverse=True)
                    return self._paged(request, "workflow_runs", chosen)
            case ["repos", owner, name, "actions", "runs", run_id] if run_id.isdigit():
                found = [run for run in self._repo_runs(f"{owner}/{name}") or [] if run["id"] == int(run_id)]
                if found:
                    return json_reply(200, found[0])
            case ["repos", owner, name, "actions", "runs", run_id, "jobs"] if run_id.isdigit():
                runs = self._repo_runs(f"{owner}/{name}")
                if runs is not None and (int(run_id) in self.jobs or any(run["id"] == int(run_id) for run in runs)):
                    return self._paged(request, "jobs", self._run_jobs(int(run_id), request.query))
        return json_reply(404, GITHUB_NOT_FOUND)

    def _repo_runs(self, full_name: str) -> list[JsonObject] | None:
        """Owner and repository names are case-insensitive on GitHub."""
        for key, runs in self.runs.items():
            if key.lower() == full_name.lower():
                return runs
        return None

    def _run_jobs(self, run_id: int, query: dict[str, str]) -> list[JsonObject]:
        """`filter=latest` (the default) keeps the jobs of the latest attempt; `filter=all` keeps them all."""
        jobs = self.jobs.get(run_id, [])
        if query.get("filter", "latest") == "all" or not jobs:
            return list(jobs)
        latest = max(job.get("run_attempt", 1) for job in jobs)
        return [job for job in jobs if job.get("run_attempt", 1) == latest]

    def _paged(self, request: Recorded, key: str, items: list[JsonObject]) -> Reply:
        chosen, headers = github_page(self.url, request, items)
        return json_reply(200, {"total_count": len(items), key: chosen}, headers)


def _pipeline_matches(pipeline: JsonObject, query: dict[str, str]) -> bool:
    if any(query.get(name) and query[name] != pipeline[name] for name in ("status", "ref", "sha", "source")):
        return False
    updated = parse_time(pipeline["updated_at"])
    if query.get("updated_after") and updated <= parse_time(query["updated_after"]):
        return False
    return not query.get("updated_before") or updated < parse_time(query["updated_before"])


def _pipeline_order(order_by: str) -> Callable[[JsonObject], Any] | None:
    orders: dict[str, Callable[[JsonObject], Any]] = {
        "id": lambda pipeline: pipeline["id"], "status": lambda pipeline: pipeline["status"],
        "ref": lambda pipeline: pipeline["ref"], "user_id": lambda pipeline: (pipeline.get("user") or {}).get("id", 0),
        "updated_at": lambda pipeline: parse_time(pipeline["updated_at"]),
    }
    return orders.get(order_by)


class FakeGitLab(FakeApiServer):
    """GitLab's REST API (under /api/v4) for pipelines and their jobs. `projects` maps a project path
    ("group/project") to its numeric id, `pipelines` maps a project id to its pipelines, `jobs` maps a
    pipeline id to its jobs. When `rate_remaining` reaches 0 requests answer 429 "Retry later" with a
    `Retry-After` of the seconds left until `rate_reset`, as GitLab does."""

    pipeline = staticmethod(gitlab_pipeline)
    job = staticmethod(gitlab_job)

    def __init__(self, token: str | None = None, ssl_context: ssl.SSLContext | None = None) -> None:
        super().__init__(token or GITLAB_TOKEN, ssl_context)
        self.projects: dict[str, int] = {}
        self.pipelines: dict[int, list[JsonObject]] = {}
        self.jobs: dict[int, list[JsonObject]] = {}
        self.rate_limit = 2000
        self.rate_remaining = 2000
        self.rate_reset = int(time.time()) + 60

    def answer(self, request: Recorded) -> Reply:
        reply = self._answer(request)
        reply.headers.update(gitlab_rate_headers(self.rate_limit, self.rate_remaining, self.rate_reset))
        return reply

    def _answer(self, request: Recorded) -> Reply:
        offered = request.headers.get("private-token") or presented_token(request.headers)
        if offered != self.token:
            return json_reply(401, {"message": "401 Unauthorized"})
        seconds = self.throttled()
        if seconds is None and self.rate_remaining <= 0:
            seconds = max(1, self.rate_reset - int(time.time()))
        if seconds is not None:
            return Reply(429, b"Retry later\n", {"Content-Type": "text/plain", "Retry-After": str(seconds)})
        reply = conditional(request, self._route(request))
        if reply.status != 304:
            self.rate_remaining -= 1
        return reply

    def _route(self, request: Recorded) -> Reply:
        """Split the raw path first: `group%2Fproject` is one segment, `group/project` is two (and a 404)."""
        match [unquote(segment) for segment in request.raw_path.strip("/").split("/")]:
            case ["api", "v4", "projects", project, "pipelines", *rest]:
                project_id = self._project_id(project)
                if project_id is None:
                    return json_reply(404, {"message": "404 Project Not Found"})
                return self._pipelines(request, project_id, rest)
        return json_reply(404, {"error": "404 Not Found"})

    def _pipelines(self, request: Recorded, project_id: int, rest: list[str]) -> Reply:
        pipelines = self.pipelines.get(project_id, [])
        if not rest:
            return self._list_pipelines(request, pipelines)
        found = [item for item in pipelines if rest[0].isdigit() and item["id"] == int(rest[0])]
        match rest:
            case [_] if found:
                return json_reply(200, found[0])
            case [_, "jobs"] if found:
                return self._paged(request, self._pipeline_jobs(found[0]["id"], request.raw_query))
        return json_reply(404, {"message": "404 Not found"})

    def _project_id(self, ref: str) -> int | None:
        if ref.isdigit():
            known = int(ref) in self.pipelines or int(ref) in self.projects.values()
            return int(ref) if known else None
        return {path.lower(): pid for path, pid in self.projects.items()}.get(ref.lower())

    def _list_pipelines(self, request: Recorded, pipelines: list[JsonObject]) -> Reply:
        order = _pipeline_order(request.query.get("order_by", "id"))
        if order is None:
            return json_reply(400, {"error": "order_by does not have a valid value"})
        chosen = sorted((item for item in pipelines if _pipeline_matches(item, request.query)), key=order,
                        reverse=request.query.get("sort", "desc") != "asc")
        return self._paged(request, [{key: item.get(key) for key in GITLAB_PIPELINE_LIST_KEYS} for item in chosen])

    def _pipeline_jobs(self, pipeline_id: int, raw_query: str) -> list[JsonObject]:
        """Newest first; `scope[]=failed&scope[]=success` (or `scope=failed`) keeps those statuses."""
        params = parse_qs(raw_query)
        scopes = set(params.get("scope[]", []) + params.get("scope", []))
        jobs = [job for job in self.jobs.get(pipeline_id, []) if not scopes or job["status"] in scopes]
        return sorted(jobs, key=lambda job: job["id"], reverse=True)

    def _paged(self, request: Recorded, items: list[JsonObject]) -> Reply:
        return gitlab_page(self.url, request, items)
