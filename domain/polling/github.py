"""GitHub Actions: `GET /repos/{owner}/{repo}/actions/runs` and, for stages, `.../runs/{id}/jobs`."""
from __future__ import annotations

from typing import Any

from domain.polling.http import PollError, json_body, timestamp
from domain.polling.providers import (
    GITHUB_CONCLUSION,
    GITHUB_STATUS,
    PER_PAGE,
    Page,
    Provider,
    Run,
    stage,
)

HEADERS = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}


def status_of(status: str | None, conclusion: str | None) -> str:
    if status == "completed":
        return GITHUB_CONCLUSION.get(conclusion or "", "failed")
    return GITHUB_STATUS.get(status or "", "pending")


class GitHub(Provider):
    def page(self, number: int, etag: str | None) -> Page:
        path = f"/repos/{self.repository}/actions/runs"
        response = self.fetch(path, {"per_page": PER_PAGE, "page": number}, etag)
        if response.status_code == 304:
            return Page([], etag, not_modified=True)
        body = json_body(response, path) if response.content else {}
        if not isinstance(body, dict):
            raise PollError(f"GET {path}: unexpected JSON")
        return Page([_run(item) for item in body.get("workflow_runs") or []], response.headers.get("ETag"))

    def run(self, external_id: str) -> Run:
        body = self.json(f"/repos/{self.repository}/actions/runs/{external_id}")
        if not isinstance(body, dict):
            raise PollError(f"GET run {external_id}: unexpected JSON")
        return _run(body)

    def stages(self, run: Run) -> list[dict[str, Any]]:
        body = self.json(f"/repos/{self.repository}/actions/runs/{run.external_id}/jobs", {"per_page": 100})
        jobs = body.get("jobs") or [] if isinstance(body, dict) else []
        return [stage(job.get("name") or "job", [status_of(job.get("status"), job.get("conclusion"))],
                      [timestamp(job.get("started_at"))], [timestamp(job.get("completed_at"))]) for job in jobs]


def _run(item: dict[str, Any]) -> Run:
    commit = item.get("head_commit") or {}
    author = commit.get("author") or {}
    status = status_of(item.get("status"), item.get("conclusion"))
    started = timestamp(item.get("run_started_at") or item.get("created_at"))
    finished = timestamp(item.get("updated_at")) if status in ("success", "failed", "cancelled") else None
    return Run(external_id=str(item.get("id")), status=status,
               provider_status="/".join(str(p) for p in (item.get("status"), item.get("conclusion")) if p),
               branch=item.get("head_branch"), workflow=item.get("name"), workflow_path=item.get("path"),
               started_at=started, finished_at=finished, commit_sha=item.get("head_sha"),
               commit_message=commit.get("message"), commit_author=author.get("email") or author.get("name"),
               commit_timestamp=timestamp(commit.get("timestamp")), url=item.get("html_url"))
