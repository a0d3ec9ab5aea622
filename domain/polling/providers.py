"""GitHub Actions and GitLab CI, read into one pipeline shape.

A provider turns the source's API into `Run`s: normalised status (pending running success failed
cancelled), branch, commit, timings and stages. Requests send the stored ETag (`If-None-Match`: a 304
costs nothing), page with `per_page`, and `RateLimited` says until when the provider asked us to wait.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

import requests

from domain.polling.http import Api, PollError, failure, json_body

PER_PAGE = 50
MAX_PAGES = 5

GITHUB_STATUS = {"queued": "pending", "requested": "pending", "waiting": "pending", "pending": "pending",
                 "in_progress": "running"}
GITHUB_CONCLUSION = {"success": "success", "neutral": "success", "failure": "failed", "timed_out": "failed",
                     "startup_failure": "failed", "cancelled": "cancelled", "skipped": "cancelled",
                     "stale": "cancelled", "action_required": "pending"}
GITLAB_STATUS = {"created": "pending", "waiting_for_resource": "pending", "preparing": "pending",
                 "pending": "pending", "scheduled": "pending", "manual": "pending", "running": "running",
                 "success": "success", "failed": "failed", "canceled": "cancelled", "canceling": "running",
                 "skipped": "cancelled"}


class RateLimited(PollError):
    def __init__(self, until: datetime, message: str) -> None:
        super().__init__(message)
        self.until = until


@dataclass
class Run:
    external_id: str
    status: str
    provider_status: str
    branch: str | None = None
    workflow: str | None = None
    workflow_path: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    commit_sha: str | None = None
    commit_message: str | None = None
    commit_author: str | None = None
    commit_timestamp: datetime | None = None
    url: str | None = None


@dataclass
class Page:
    runs: list[Run]
    etag: str | None
    not_modified: bool = False


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


MAX_WAIT = 86_400  # however long a provider asks us to wait, we ask again after a day at most
_DIGITS = re.compile(r"[0-9]{1,12}")


def _reset_at(headers: Any) -> datetime:
    """When the rate limit resets: `X-RateLimit-Reset` (epoch seconds), bounded to [now, now + a day]."""
    reset = (headers.get("X-RateLimit-Reset", headers.get("RateLimit-Reset")) or "").strip()
    seconds = int(reset) - time.time() if _DIGITS.fullmatch(reset) else 60
    return _now() + timedelta(seconds=min(max(seconds, 0), MAX_WAIT))


def _retry_after(value: str) -> datetime | None:
    """`Retry-After` in seconds or as an HTTP date, bounded to a day; None when absent or unreadable."""
    value = value.strip()
    if _DIGITS.fullmatch(value):
        return _now() + timedelta(seconds=min(int(value), MAX_WAIT))
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    wait = (moment - datetime.now(UTC)).total_seconds()
    return _now() + timedelta(seconds=min(max(wait, 0), MAX_WAIT))


def _exhausted(headers: Any) -> bool:
    remaining = headers.get("X-RateLimit-Remaining", headers.get("RateLimit-Remaining"))
    return remaining is not None and remaining.strip() == "0"


class Provider:
    """One source's API. `exhausted_until` is set when a response said no requests are left."""

    def __init__(self, api: Api, repository: str) -> None:
        self.api, self.repository = api, repository
        self.exhausted_until: datetime | None = None
        self.requests = 0

    def fetch(self, path: str, params: dict[str, Any] | None = None, etag: str | None = None) -> requests.Response:
        """A 200 or 304; RateLimited when refused for the rate limit (Retry-After or none left); else PollError."""
        if self.exhausted_until is not None:
            raise RateLimited(self.exhausted_until, "rate limit exhausted until "
                                                    f"{self.exhausted_until.isoformat(timespec='seconds')}Z")
        response = self.api.get(path, params, {"If-None-Match": etag} if etag else None)
        self.requests += 1
        retry_after = _retry_after(response.headers.get("Retry-After") or "")
        if response.status_code in (403, 429) and (retry_after or _exhausted(response.headers)):
            until = retry_after or _reset_at(response.headers)
            raise RateLimited(until, f"GET {path}: HTTP {response.status_code}, rate limited until "
                                     f"{until.isoformat(timespec='seconds')}Z")
        if response.status_code not in (200, 304):
            error = failure(response, path)
            secrets = [value.split()[-1] for value in self.api.headers.values() if len(value) >= 6]
            if any(secret in str(error) for secret in secrets):  # an API that quotes what it was sent
                raise PollError(f"GET {path}: HTTP {response.status_code}", response.status_code)
            raise error
        if _exhausted(response.headers):
            self.exhausted_until = _reset_at(response.headers)
        return response

    def json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return json_body(self.fetch(path, params), path)

    def page(self, number: int, etag: str | None) -> Page:
        """Runs, newest first; `etag` only on the first page."""
        raise NotImplementedError

    def run(self, external_id: str) -> Run:
        """One run by id (one that fell off the first page while unfinished)."""
        raise NotImplementedError

    def stages(self, run: Run) -> list[dict[str, Any]]:
        """The run's stages (jobs grouped by stage), and fills the run's commit details where the list lacks them."""
        raise NotImplementedError


def stage(name: str, statuses: list[str], starts: list[datetime | None], ends: list[datetime | None]) -> dict[str, Any]:
    """One stage from its jobs: failed if any failed, running if any runs, ..., timed from first start to last end."""
    status = next((s for s in ("failed", "running", "pending", "cancelled") if s in statuses), "success")
    started = min((s for s in starts if s), default=None)
    finished = max((e for e in ends if e), default=None) if status not in ("running", "pending") else None
    return {"name": name, "status": status, "started_at": started, "finished_at": finished,
            "duration": duration(started, finished)}


def duration(started: datetime | None, finished: datetime | None) -> int | None:
    return int((finished - started).total_seconds()) if started and finished else None


def ids(value: Any) -> str:
    return quote(str(value), safe="")
