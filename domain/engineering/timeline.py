"""A developer's activity, newest first: commits, pull requests opened and merged, and reviews, merged from
their tables one page at a time (each table gives at most offset + limit rows, so a page costs the same
wherever the kinds interleave)."""
from __future__ import annotations

from typing import Any

from models.activity import Commit, PullRequest, Review

MAX_OFFSET = 10_000  # deeper pages of a timeline are not what it is for


def timeline(developer_id: int, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
    """One page of the timeline, and how many entries it has in all."""
    take = min(offset, MAX_OFFSET) + limit
    commits = (Commit.select().where(Commit.developer == developer_id, Commit.authored_at.is_null(False))
               .order_by(Commit.authored_at.desc()))
    opened = (PullRequest.select().where(PullRequest.developer == developer_id, PullRequest.opened_at.is_null(False))
              .order_by(PullRequest.opened_at.desc()))
    merged = (PullRequest.select().where(PullRequest.developer == developer_id, PullRequest.merged_at.is_null(False))
              .order_by(PullRequest.merged_at.desc()))
    reviews = (Review.select(Review, PullRequest).join(PullRequest)
               .where(Review.developer == developer_id, Review.submitted_at.is_null(False))
               .order_by(Review.submitted_at.desc()))
    entries: list[dict[str, Any]] = [{"type": "commit", "at": c.authored_at, "repository_id": c.repository_id,
                                      "sha": c.sha, "title": c.message} for c in commits.limit(take)]
    entries += [{"type": "pr_opened", "at": p.opened_at, "repository_id": p.repository_id, "number": p.number,
                 "title": p.title, "state": p.state} for p in opened.limit(take)]
    entries += [{"type": "pr_merged", "at": p.merged_at, "repository_id": p.repository_id, "number": p.number,
                 "title": p.title, "state": p.state} for p in merged.limit(take)]
    entries += [{"type": "review", "at": r.submitted_at, "repository_id": r.pull_request.repository_id,
                 "number": r.pull_request.number, "title": r.pull_request.title, "state": r.state}
                for r in reviews.limit(take)]
    entries.sort(key=lambda e: e["at"], reverse=True)
    total = commits.count() + opened.count() + merged.count() + reviews.count()
    start = min(offset, MAX_OFFSET)
    return entries[start:start + limit], total
