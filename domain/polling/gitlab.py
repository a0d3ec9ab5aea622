"""GitLab CI: `GET /api/v4/projects/:id/pipelines`, and for each changed pipeline its detail (timings) and
`.../pipelines/:id/jobs` (stages, and the commit the list leaves out)."""
from __future__ import annotations

from typing import Any

from domain.polling.http import PollError, json_body, timestamp
from domain.polling.providers import (
    GITLAB_STATUS,
    PER_PAGE,
    Page,
    Provider,
    Run,
    ids,
    stage,
)


class GitLab(Provider):
    @property
    def project(self) -> str:
        return f"/api/v4/projects/{ids(self.repository)}"

    def page(self, number: int, etag: str | None) -> Page:
        path = f"{self.project}/pipelines"
        response = self.fetch(path, {"per_page": PER_PAGE, "page": number}, etag)
        if response.status_code == 304:
            return Page([], etag, not_modified=True)
        body = json_body(response, path) if response.content else []
        if not isinstance(body, list):
            raise PollError(f"GET {path}: unexpected JSON")
        return Page([_run(item) for item in body if isinstance(item, dict)], response.headers.get("ETag"))

    def run(self, external_id: str) -> Run:
        body = self.json(f"{self.project}/pipelines/{external_id}")
        if not isinstance(body, dict):
            raise PollError(f"GET pipeline {external_id}: unexpected JSON")
        return _run(body)

    def stages(self, run: Run) -> list[dict[str, Any]]:
        detail = self.json(f"{self.project}/pipelines/{run.external_id}")
        if isinstance(detail, dict):
            run.started_at = timestamp(detail.get("started_at")) or run.started_at
            run.finished_at = timestamp(detail.get("finished_at")) if run.status in (
                "success", "failed", "cancelled") else None
        jobs = self.json(f"{self.project}/pipelines/{run.external_id}/jobs", {"per_page": 100})
        jobs = [job for job in jobs if isinstance(job, dict)] if isinstance(jobs, list) else []
        commit = next((job.get("commit") for job in jobs if isinstance(job.get("commit"), dict)), None)
        if commit:
            run.commit_message = commit.get("message") or commit.get("title")
            run.commit_author = commit.get("author_email") or commit.get("author_name")
            run.commit_timestamp = timestamp(commit.get("committed_date") or commit.get("created_at"))
        by_stage: dict[str, list[dict[str, Any]]] = {}
        for job in sorted(jobs, key=lambda j: (str(j.get("created_at")), j.get("id") or 0)):
            by_stage.setdefault(job.get("stage") or "test", []).append(job)
        return [stage(name, [GITLAB_STATUS.get(j.get("status") or "", "pending") for j in group],
                      [timestamp(j.get("started_at")) for j in group], [timestamp(j.get("finished_at")) for j in group])
                for name, group in by_stage.items()]


def _run(item: dict[str, Any]) -> Run:
    return Run(external_id=str(item.get("id")), status=GITLAB_STATUS.get(item.get("status") or "", "pending"),
               provider_status=str(item.get("status")), branch=item.get("ref"), commit_sha=item.get("sha"),
               started_at=timestamp(item.get("created_at")), url=item.get("web_url"))
