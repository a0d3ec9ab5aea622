"""A repository's backfill (its first complete poll, reaching back `backfill_days`) as a tracked job: its status,
how far it has got (0-100), the part it is reading, what it has stored, and how it ended, kept on the repository
(`Repository.backfill`) after every batch, so the API shows it while it runs.

A poll reads commits, then pull requests (with their reviews), then review comments and issues, each newest
first. Progress is the share of the window the part being read has reached back to, scaled into that part's
span: commits 0-50, pull requests 50-90, the rest 90-99; 100 once everything since the window's start is stored.
A backfill cut short (a rate limit, an error) says so; the next poll starts it again from the window's start,
as attempt 2 (ingestion is idempotent, so what was stored stays one row)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from core.timeutil import isoformat
from domain.engineering.records import Activity
from models.db import utc_naive
from models.repository import Repository

SPANS = {"commits": (0, 50), "pull_requests": (50, 90), "issues": (90, 99)}
ENDINGS = ("completed", "rate_limited", "failed")


def backfill_requested() -> dict[str, Any]:
    """What a repository shows between asking for a backfill and the poll that runs it."""
    return {"status": "queued", "attempt": 0, "progress": 0, "part": None, "requested_at": isoformat(utc_naive())}


class Backfill:
    def __init__(self, repo: Repository, since: datetime, started: datetime) -> None:
        self.repo_id, self.since, self.started = repo.id, since, started
        previous = repo.backfill or {}
        # Another try of a backfill cut short is its next attempt; a backfill asked for anew starts at 1.
        attempt = 1 if previous.get("status") in (None, "queued", "completed") else int(previous.get("attempt", 0)) + 1
        self.state: dict[str, Any] = {
            "status": "running", "attempt": attempt, "progress": 0, "part": "commits", "since": isoformat(since),
            "started_at": isoformat(started), "finished_at": None, "error": None,
            "commits": 0, "pull_requests": 0, "reviews": 0, "issues": 0}
        self._save()

    @classmethod
    def of(cls, repo: Repository, since: datetime, started: datetime) -> Backfill | None:
        """The tracker of this poll when it is a backfill (no cursor yet), else None."""
        return cls(repo, since, started) if repo.poll_cursor is None else None

    def stored(self, activity: Activity, counts: dict[str, int]) -> None:
        """One batch stored: its counts, and how far back the part it reached has got."""
        for key in ("commits", "pull_requests", "reviews", "issues"):
            self.state[key] += counts.get(key, 0)
        part, reached = self._reached(activity)
        low, high = SPANS[part]
        window = (self.started - self.since).total_seconds() or 1.0
        share = 1.0 if reached is None else min(max((self.started - reached).total_seconds() / window, 0.0), 1.0)
        self.state["part"] = part
        self.state["progress"] = max(self.state["progress"], int(low + (high - low) * share))
        self._save()

    def end(self, status: str, error: str | None = None) -> None:
        """How it ended; the first ending stands (a rate limit on line counts, after, does not undo it)."""
        assert status in ENDINGS
        if self.state["status"] != "running":
            return
        self.state.update(status=status, error=error, finished_at=isoformat(utc_naive()))
        if status == "completed":
            self.state.update(progress=100, part=None)
        self._save()

    @staticmethod
    def _reached(activity: Activity) -> tuple[str, datetime | None]:
        """The part a batch ends in, and the oldest time it holds of that part (lists are newest first)."""
        if activity.issues or (activity.reviews and not activity.pulls):  # review comments come after pulls
            times = [*(i.updated_at for i in activity.issues), *(r.submitted_at for r in activity.reviews)]
            return "issues", min((t for t in times if t), default=None)
        if activity.pulls:
            return "pull_requests", min((p.updated_at for p in activity.pulls if p.updated_at), default=None)
        times = [c.committed_at or c.authored_at for c in activity.commits]
        return "commits", min((t for t in times if t), default=None)

    def _save(self) -> None:
        Repository.update(backfill=dict(self.state)).where(Repository.id == self.repo_id).execute()
