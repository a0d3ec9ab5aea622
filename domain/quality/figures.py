"""The code-quality figures over a set of repositories: each one's last done snapshot in a range, summed (the
coverage averaged over those that report one), with each repository's own figures so a total can be traced."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from domain.quality.debt import FIGURES
from models.quality import QualitySnapshot
from models.repository import Repository


def hours(minutes: int) -> float:
    return round(minutes / 60, 2)


def snapshot_figures(snapshot: QualitySnapshot) -> dict[str, Any]:
    """One snapshot's figures as the API shows them."""
    return {"test_coverage": snapshot.test_coverage, **{name: getattr(snapshot, name) for name in FIGURES},
            "technical_debt_hours": hours(snapshot.technical_debt_minutes)}


def code_quality(repositories: Any, start: datetime, end: datetime) -> dict[str, Any]:
    """The figures of `repositories` (a Repository query) from each one's last done snapshot analysed in
    [start, end); a scope without any answers zeros, a null coverage and `no_data`."""
    names = dict(repositories.select(Repository.id, Repository.name).tuples())
    latest = list(QualitySnapshot.latest_done(repositories.select(Repository.id), start, end)
                  .order_by(QualitySnapshot.repository))
    detail = [{"repository_id": s.repository_id, "name": names[s.repository_id], "analysed_at": s.analysed_at,
               "branch": s.branch, "commit_sha": s.commit_sha, **snapshot_figures(s)} for s in latest]
    covered = [d["test_coverage"] for d in detail if d["test_coverage"] is not None]
    return {
        "start_date": start, "end_date": end,
        "test_coverage": round(sum(covered) / len(covered), 1) if covered else None,
        **{name: sum(d[name] for d in detail) for name in FIGURES},
        "technical_debt_hours": hours(sum(s.technical_debt_minutes for s in latest)),
        "repositories": len(detail), "no_data": not detail, "repositories_detail": detail,
    }
