"""Sprints and code quality for the engineering benchmark (`bench.engineering_data` makes the rest): each
repository's fortnightly milestones `Sprint 1` to `Sprint 26` (the same titles in all of a team's repositories, so a
team's sprint spans its repositories), issues with points moving through them (their `IssueChange`s as ingestion
records them: in a sprint from their opening, a fifth carried over into the next at its due day), and a
code-quality snapshot of every repository each week. Seeded, like the rest."""
from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from bench.engineering_data import DAYS, FIRST, Sizes, minutes

SPRINT = timedelta(days=14)
SPRINTS = DAYS // 14
ISSUES_PER_REPOSITORY = 300  # at scale 1.0: 60,000 issues
POINTS = (1, 2, 3, 5, 8)
SEED = 21


def milestone_id(repo: int, sprint: int) -> int:
    return repo * SPRINTS + sprint + 1


def sprint_start(sprint: int) -> datetime:
    return FIRST + sprint * SPRINT


def plans(sizes: Sizes, scale: float) -> dict[str, list[tuple[Any, ...]]]:
    """Milestones, issues, issue changes and quality snapshots, as rows for `store`."""
    rng = random.Random(SEED)
    rows: dict[str, list[tuple[Any, ...]]] = {"milestones": [], "issues": [], "changes": [], "snapshots": []}
    per_repository = max(int(ISSUES_PER_REPOSITORY * scale), 20)
    for repo in range(sizes.repositories):
        rows["milestones"] += [(milestone_id(repo, k), repo + 1, str(milestone_id(repo, k)), f"Sprint {k + 1}",
                                "closed", sprint_start(k + 1) - timedelta(days=1), None, sprint_start(k))
                               for k in range(SPRINTS)]
        for number in range(1, per_repository + 1):
            _issue(rng, rows, repo, number, len(rows["issues"]) + 1)
        rows["snapshots"] += [_snapshot(rng, repo, FIRST + timedelta(days=day)) for day in range(0, DAYS, 7)]
    return rows


def _issue(rng: random.Random, rows: dict[str, list[tuple[Any, ...]]], repo: int, number: int, issue_id: int) -> None:
    """One issue, opened in a sprint (or the day before it began) and closed in it, in the next, or never."""
    sprint = rng.randrange(SPRINTS - 1)
    opened = minutes(rng, sprint_start(sprint) - timedelta(days=1), 5 * 1440)
    points = rng.choice(POINTS)
    changes = [(issue_id, milestone_id(repo, sprint), points, opened)]
    final = sprint
    if rng.random() < 0.2:  # carried over at the sprint's end
        final = sprint + 1
        changes.append((issue_id, milestone_id(repo, final), points, sprint_start(final)))
    closed = minutes(rng, max(opened, sprint_start(final)), 13 * 1440) if rng.random() < 0.85 else None
    rows["issues"].append((issue_id, repo + 1, number, f"Issue {number}", "closed" if closed else "open", opened,
                           closed, milestone_id(repo, final), points, [], closed or opened, opened))
    rows["changes"] += [(len(rows["changes"]) + i + 1, *change) for i, change in enumerate(changes)]


def _snapshot(rng: random.Random, repo: int, at: datetime) -> tuple[Any, ...]:
    smells, bugs, high, medium = rng.randrange(200), rng.randrange(20), rng.randrange(3), rng.randrange(6)
    coverage = None if repo % 4 == 0 else round(rng.uniform(40, 95), 1)
    return (repo + 1, "main", f"{repo:08x}{at:%Y%m%d}", at, "done", coverage, smells, bugs, high + medium, high, 0,
            smells * 5 + bugs * 10 + high * 60 + medium * 30)


def store(rows: dict[str, Sequence[tuple[Any, ...]]]) -> None:
    from models import bulk
    from models.activity import Issue, Milestone
    from models.quality import QualitySnapshot
    from models.sprints import IssueChange

    columns = {
        "milestones": (Milestone, ("id", "repository", "external_id", "title", "state", "due_on", "starts_on",
                                   "opened_at")),
        "issues": (Issue, ("id", "repository", "number", "title", "state", "opened_at", "closed_at", "milestone",
                           "points", "labels", "provider_updated_at", "created_at")),
        "changes": (IssueChange, ("id", "issue", "milestone_id", "points", "changed_at")),
        "snapshots": (QualitySnapshot, ("repository", "branch", "commit_sha", "analysed_at", "status",
                                        "test_coverage", "code_smells", "bugs", "security_issues", "vulnerabilities",
                                        "type_errors", "technical_debt_minutes")),
    }
    for name, (model, names) in columns.items():
        bulk.bulk_insert([model._meta.fields[n] for n in names], rows[name])
