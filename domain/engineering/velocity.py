"""Velocity: the points a team planned and completed in each of its sprints (seed 002's `/analytics/velocity`).

A team's sprints are its repositories' milestones and iterations that have a due date, one sprint per title
(teams that keep one repository each name the same milestone in all of them), and the sprints created for the
team (`Sprint`), which name the milestone title their issues carry and take its place. Planned points are the
points of the issues in the sprint, and still open, at the end of its first day (a day's grace for planning on
the day it starts); completed points are those of the issues closed inside it while in it. Points move with the
issue: each issue's sprint and points over time come from `IssueChange` (`domain.engineering.sprint_history`).
Definitions and sources: docs/engineering-analytics.md."""
from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from statistics import fmean
from typing import Any

from domain.dora import trend
from models.activity import Issue, Milestone
from models.db import tuples, utc_naive
from models.repository import Repository
from models.sprints import IssueChange, Sprint

DAY = timedelta(days=1)


@dataclass(frozen=True)
class SprintWindow:
    sprint_id: str
    name: str
    start: date
    end: date  # its last day
    source: str  # team (created for it) | milestone (from its repositories)
    milestone_title: str

    @property
    def key(self) -> str:
        return self.milestone_title.casefold()


def _day(moment: datetime | None) -> date | None:
    return moment.date() if moment is not None else None


def _titled(team_id: int) -> dict[str, list[tuple[int, str, date | None, date | None]]]:
    """The team's repositories' milestones, by title (case-folded): id, title, start and due day of each."""
    query = (Milestone.select(Milestone.id, Milestone.title, Milestone.starts_on, Milestone.opened_at,
                              Milestone.due_on)
             .join(Repository, on=(Milestone.repository == Repository.id))
             .where(Repository.team == team_id, Milestone.title.is_null(False)).order_by(Milestone.id))
    titled: dict[str, list[tuple[int, str, date | None, date | None]]] = defaultdict(list)
    for milestone_id, title, starts_on, opened_at, due_on in tuples(query):
        titled[title.casefold()].append((milestone_id, title, _day(starts_on or opened_at), _day(due_on)))
    return titled


def team_sprints(team_id: int) -> list[SprintWindow]:
    """The team's sprints, by start: created ones, and its milestones with a start and a due day."""
    created = {row.milestone_title.casefold(): SprintWindow(f"sprint-{row.id}", row.name, row.start_on, row.end_on,
                                                            "team", row.milestone_title)
               for row in Sprint.select().where(Sprint.team == team_id)}
    derived = {}
    for key, group in _titled(team_id).items():
        starts = [start for _, _, start, _ in group if start is not None]
        ends = [end for _, _, _, end in group if end is not None]
        if key not in created and starts and ends and min(starts) <= max(ends):
            derived[key] = SprintWindow(f"milestone-{group[0][0]}", group[0][1], min(starts), max(ends),
                                        "milestone", group[0][1])
    return sorted([*created.values(), *derived.values()], key=lambda s: (s.start, s.end, s.name))


class _History:
    """Each issue's sprint and points over time, for the issues that were ever in one of `milestone_ids`."""

    def __init__(self, milestone_ids: list[int]) -> None:
        ever = IssueChange.select(IssueChange.issue).where(IssueChange.milestone_id << milestone_ids)
        query = (IssueChange.select(IssueChange.issue, IssueChange.changed_at, IssueChange.milestone_id,
                                    IssueChange.points, Issue.closed_at)
                 .join(Issue, on=(IssueChange.issue == Issue.id))
                 .where(IssueChange.issue << ever).order_by(IssueChange.issue, IssueChange.changed_at, IssueChange.id))
        self.changes: dict[int, list[tuple[datetime, int | None, int | None]]] = defaultdict(list)
        self.closed: dict[int, datetime | None] = {}
        for issue, changed_at, milestone, points, closed_at in (tuples(query) if milestone_ids else []):
            self.changes[issue].append((changed_at, milestone, points))
            self.closed[issue] = closed_at

    def at(self, issue: int, moment: datetime) -> tuple[int | None, int]:
        """The issue's milestone and points at `moment` (none before its first change)."""
        changes = self.changes[issue]
        index = bisect_right([changed for changed, _, _ in changes], moment)
        return (changes[index - 1][1], changes[index - 1][2] or 0) if index else (None, 0)


def _measured(sprint: SprintWindow, ids: set[int], history: _History) -> dict[str, Any]:
    start = datetime.combine(sprint.start, datetime.min.time())
    snapshot, end = start + DAY, datetime.combine(sprint.end, datetime.min.time()) + DAY
    planned = completed = planned_issues = completed_issues = 0
    for issue, closed in history.closed.items():
        milestone, points = history.at(issue, snapshot)
        if milestone in ids and (closed is None or closed >= snapshot):
            planned, planned_issues = planned + points, planned_issues + 1
        if closed is not None and start <= closed < end:
            milestone, points = history.at(issue, closed)
            if milestone in ids:
                completed, completed_issues = completed + points, completed_issues + 1
    return {"sprint_id": sprint.sprint_id, "name": sprint.name, "start_date": sprint.start,
            "end_date": sprint.end, "source": sprint.source, "milestone_title": sprint.milestone_title,
            "planned_points": planned, "completed_points": completed, "velocity": completed,
            "completion_rate": round(completed / planned, 3) if planned else None,
            "planned_issues": planned_issues, "completed_issues": completed_issues}


def velocity(team_id: int, sprint_count: int, now: datetime | None = None) -> dict[str, Any]:
    """The team's last `sprint_count` sprints that have started, oldest first, with their average velocity and
    its trend over the ended ones (the later half against the earlier half; no_data under two)."""
    today = (now or utc_naive()).date()
    sprints = [s for s in team_sprints(team_id) if s.start <= today][-sprint_count:]
    titled = _titled(team_id)
    ids = {s.key: {m for m, _, _, _ in titled.get(s.key, [])} for s in sprints}
    history = _History(sorted(set().union(*ids.values())) if ids else [])
    measured = [{**_measured(s, ids[s.key], history), "state": "closed" if s.end < today else "active"}
                for s in sprints]
    ended = [float(s["velocity"]) for s in measured if s["state"] == "closed"]
    half = len(ended) // 2
    return {"team_id": team_id, "sprints": measured, "average_velocity": round(fmean(ended), 2) if ended else 0.0,
            "trend": trend(fmean(ended[-half:]), fmean(ended[:half])) if half else "no_data",
            "no_data": not measured}
