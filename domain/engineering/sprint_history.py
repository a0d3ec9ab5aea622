"""Which sprint each issue was in, and with how many points, over time: ingestion compares an issue's
milestone and points before and after it stores a copy, and records a change (`IssueChange`) when they moved.

A change is dated by the copy's `updated_at` (a hook arrives as the issue is moved). An issue first seen already
in a milestone (a backfill, or a repository registered mid-sprint) is taken to have been in it since it was
opened: the providers' issue lists do not say when an issue was added, so a backfilled sprint's planned points
include issues added after it started (docs/engineering-analytics.md)."""
from __future__ import annotations

from datetime import datetime

from models.activity import Issue
from models.db import tuples
from models.sprints import IssueChange

State = tuple[int | None, int | None]  # milestone id, points


def sprint_states(repository_id: int, numbers: list[int]) -> dict[int, State]:
    """The stored issues' milestone and points, by number (absent: not stored yet)."""
    if not numbers:
        return {}
    query = Issue.select(Issue.number, Issue.milestone, Issue.points).where(
        Issue.repository == repository_id, Issue.number << numbers)
    return {number: (milestone, points) for number, milestone, points in tuples(query)}


def record_changes(repository_id: int, before: dict[int, State], at: dict[int, datetime | None]) -> int:
    """Record each issue of `at` whose milestone or points differ from `before` now it is stored; how many."""
    query = Issue.select(Issue.id, Issue.number, Issue.milestone, Issue.points, Issue.opened_at).where(
        Issue.repository == repository_id, Issue.number << list(at))
    rows = []
    for issue_id, number, milestone, points, opened_at in tuples(query):
        was = before.get(number)
        if was == (milestone, points) or (was is None and milestone is None and points is None):
            continue
        when = (opened_at if was is None else at[number]) or at[number] or opened_at
        if when is not None:
            rows.append({"issue": issue_id, "milestone_id": milestone, "points": points, "changed_at": when})
    if rows:
        IssueChange.insert_many(rows).execute()
    return len(rows)
