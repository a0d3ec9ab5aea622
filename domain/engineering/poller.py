"""Polling one repository: everything since its cursor (the first poll, a tracked backfill, reaches back
`backfill_days`), ingested in batches of at least BATCH_RECORDS, so a poll that stops half way (rate limit,
error, worker killed) keeps what it stored and the next one starts from the same cursor (ingestion is
idempotent). The cursor moves once everything since it
is read (before GitHub's line counts, which come last), to that poll's start less an overlap for clocks and
late pushes. A provider answering garbage or an error marks the repository `error` with the message and keeps
the data it had."""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

from core.prefetch import prefetched
from core.runtime import Runtime
from core.settings import Settings
from domain import cache_views
from domain.engineering import sources
from domain.engineering.backfill import Backfill
from domain.engineering.ingest import People, ingest
from domain.engineering.records import Activity, gathered
from domain.polling.github import HEADERS as GITHUB_HEADERS
from domain.polling.http import Api, PollError
from domain.polling.observed import observed
from domain.polling.providers import Provider, RateLimited
from models.activity import Commit
from models.db import page_cache, utc_naive
from models.repository import Repository

log = logging.getLogger(__name__)
OVERLAP = timedelta(minutes=5)
# GitHub's commit list has no line counts: each poll asks for this many commits that lack them, newest first, one
# request each, so a backfill's counts fill in over the following polls without spending the rate limit at once.
COMMIT_DETAILS_PER_POLL = 100
# Records stored a transaction: a poll cut short keeps every batch before the cut, and reads the rest again.
BATCH_RECORDS = 1000
# SQLite's page cache while a poll runs: a backfill's writes land all over the commit table's indexes, and with
# the default 2 MB each batch read pages back that it had just written (a third of the time storing took).
PAGE_CACHE_KIB = 16_000
VIEWS_DROPPED_EVERY = 2.0  # seconds: how often a long poll drops its organization's cached views while it stores
READERS: dict[str, Callable[[Provider, datetime], Iterator[Activity]]] = {
    "github": sources.github_activity, "gitlab": sources.gitlab_activity}


def _provider(settings: Settings, repo: Repository) -> Provider:
    if repo.provider == "github":
        headers = {**GITHUB_HEADERS, **({"Authorization": f"Bearer {repo.token}"} if repo.token else {})}
    else:
        headers = {"Accept": "application/json", **({"PRIVATE-TOKEN": repo.token} if repo.token else {})}
    api = Api(repo.api_url, headers, timeout=settings.poll_timeout_seconds, verify=True,
              allow_private=settings.poll_allow_private)
    return Provider(api, repo.full_name)


def poll(rt: Runtime, repo: Repository) -> dict[str, Any]:
    with page_cache(PAGE_CACHE_KIB):
        return observed(rt.redis, repo.provider, lambda: _poll(rt, repo))


def _poll(rt: Runtime, repo: Repository) -> dict[str, Any]:
    started = utc_naive()
    if repo.rate_limited_until and repo.rate_limited_until > started:
        return {"repository": repo.id, "skipped": f"rate limited until {repo.rate_limited_until.isoformat()}Z"}
    since = repo.poll_cursor or started - timedelta(days=repo.backfill_days)
    counts = {"batches": 0, "commits": 0, "pull_requests": 0, "reviews": 0, "issues": 0, "commit_details": 0,
              "requests": 0}
    backfill = Backfill.of(repo, since, started)
    dropped = time.monotonic()
    try:
        provider = _provider(rt.settings, repo)
        try:
            people = People(repo.organization_id, rt.settings.bot_logins)
            # The next batches are read (fetched and parsed) while this one is stored: two ahead smooths the pages
            # that take longer to read than a batch takes to store.
            with prefetched(gathered(READERS[repo.provider](provider, since), BATCH_RECORDS),
                            depth=2, name=f"poll-repository-{repo.id}") as batches:
                for activity in batches:
                    stored = ingest(repo, activity, people=people)
                    for key, value in stored.items():
                        counts[key] += value
                    counts["batches"] += 1
                    if backfill is not None:
                        backfill.stored(activity, stored)
                    # What members see changes as batches land: a backfill's activity and progress show while it
                    # runs (each drop walks the cache's keys, hence not every batch; `_record` drops them at the
                    # end).
                    if time.monotonic() - dropped >= VIEWS_DROPPED_EVERY:
                        cache_views.organization_changed(rt.redis, repo.organization_id)
                        dropped = time.monotonic()
            # Everything since the cursor is stored: the next poll starts here even if the line counts below
            # run into the rate limit (they are asked for again, by what still lacks them).
            # (Unless a backfill was asked for meanwhile, which cleared the cursor: the next poll runs it.)
            cursor = {"poll_cursor": started - OVERLAP, "backfilled_at": repo.backfilled_at or utc_naive()}
            unchanged = (Repository.poll_cursor.is_null() if repo.poll_cursor is None
                         else Repository.poll_cursor == repo.poll_cursor)
            Repository.update(**cursor).where(Repository.id == repo.id, unchanged).execute()
            if backfill is not None:
                backfill.end("completed")
                cache_views.organization_changed(rt.redis, repo.organization_id)
            for activity in gathered(_line_counts(repo, provider), BATCH_RECORDS):
                counts["commit_details"] += ingest(repo, activity, people=people)["commits"]
        finally:
            counts["requests"] = provider.requests
            provider.api.close()
    except RateLimited as exc:
        _record(rt, repo, "rate_limited", str(exc), counts, backfill, rate_limited_until=exc.until,
                next_poll_at=exc.until)
        return {"repository": repo.id, **counts, "status": "rate_limited", "error": str(exc)}
    except PollError as exc:
        _record(rt, repo, "error", str(exc), counts, backfill)
        return {"repository": repo.id, **counts, "status": "error", "error": str(exc)}
    except Exception as exc:  # an answer we could not make sense of; its text may quote what we sent
        error = f"unreadable answer: {type(exc).__name__}"
        log.exception("repository poll failed", extra={"repository_id": repo.id})
        _record(rt, repo, "error", error, counts, backfill)
        return {"repository": repo.id, **counts, "status": "error", "error": error}
    _record(rt, repo, "ok", None, counts, backfill)
    return {"repository": repo.id, **counts, "status": "ok", "since": since.isoformat() + "Z"}


def _line_counts(repo: Repository, provider: Provider) -> Iterator[Activity]:
    """GitHub's commits that lack line counts, newest first, read one by one (up to COMMIT_DETAILS_PER_POLL)."""
    if repo.provider != "github":
        return iter(())
    lacking = (Commit.select(Commit.sha).where(Commit.repository == repo.id, Commit.additions.is_null())
               .order_by(Commit.authored_at.desc(nulls="LAST")).limit(COMMIT_DETAILS_PER_POLL))
    return sources.github_commit_details(provider, [c.sha for c in lacking])


def _record(rt: Runtime, repo: Repository, status: str, error: str | None, counts: dict[str, int],
            backfill: Backfill | None, **fields: Any) -> None:
    """How the poll went, on the repository; then the cached views that show it are dropped: all of them when the
    poll stored anything (batches since the last drop, line counts), else the repository's (its status)."""
    if error:
        log.warning("repository poll failed", extra={"repository_id": repo.id, "error": error})
    if backfill is not None:  # cut short, unless it completed before the line counts ran into the limit
        backfill.end({"ok": "completed", "rate_limited": "rate_limited"}.get(status, "failed"), error)
    if status != "rate_limited":
        fields.setdefault("rate_limited_until", None)
    Repository.update(status=status, last_error=error, last_polled_at=utc_naive(), last_poll=counts,
                      **fields).where(Repository.id == repo.id).execute()
    if counts["batches"] or counts["commit_details"]:
        cache_views.organization_changed(rt.redis, repo.organization_id)
    else:
        cache_views.repositories_polled(rt.redis, repo.organization_id)
