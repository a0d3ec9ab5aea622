"""The figures the lists and details show: per developer, team and repository, over a window (30 days by
default). Bots' activity is left out of team and repository figures (a bot's own figures are its own)."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from peewee import JOIN, fn

from models.activity import Commit, PullRequest, Review
from models.db import tuples, utc_naive
from models.developer import Developer, TeamMember

WINDOW = timedelta(days=30)


def _since(since: datetime | None) -> datetime:
    return since or utc_naive() - WINDOW


def developer_metrics(developer_ids: Iterable[int], since: datetime | None = None,
                      within: Any = None) -> dict[int, dict[str, int]]:
    """commits_last_30d, prs_opened, prs_merged, prs_reviewed, lines_added, lines_deleted for each developer.
    `within`: the same developers as an expression (`models.db.id_list`: a page's hundred ids written into the
    statement, where peewee would spell them out as parameters one by one, slower than the query)."""
    ids, start = list(developer_ids), _since(since)
    scope = within if within is not None else ids
    figures = {i: {"commits_last_30d": 0, "prs_opened": 0, "prs_merged": 0, "prs_reviewed": 0, "lines_added": 0,
                   "lines_deleted": 0} for i in ids}
    if not ids:
        return figures
    commits = (Commit.select(Commit.developer, fn.COUNT(Commit.id), fn.SUM(Commit.additions), fn.SUM(Commit.deletions))
               .where(Commit.developer << scope, Commit.authored_at >= start).group_by(Commit.developer))
    for dev, count, added, deleted in tuples(commits):
        figures[dev].update(commits_last_30d=count, lines_added=int(added or 0), lines_deleted=int(deleted or 0))
    opened = (PullRequest.select(PullRequest.developer, fn.COUNT(PullRequest.id)).where(
        PullRequest.developer << scope, PullRequest.opened_at >= start).group_by(PullRequest.developer))
    for dev, count in tuples(opened):
        figures[dev]["prs_opened"] = count
    merged = (PullRequest.select(PullRequest.developer, fn.COUNT(PullRequest.id)).where(
        PullRequest.developer << scope, PullRequest.merged_at >= start).group_by(PullRequest.developer))
    for dev, count in tuples(merged):
        figures[dev]["prs_merged"] = count
    reviewed = (Review.select(Review.developer, fn.COUNT(fn.DISTINCT(Review.pull_request))).where(
        Review.developer << scope, Review.submitted_at >= start).group_by(Review.developer))
    for dev, count in tuples(reviewed):
        figures[dev]["prs_reviewed"] = count
    return figures


def team_metrics(team_id: int, since: datetime | None = None) -> dict[str, int]:
    """The team's members' figures added up (bots left out)."""
    members = (TeamMember.select(TeamMember.developer).join(Developer)
               .where(TeamMember.team == team_id, Developer.is_bot == False))  # noqa: E712
    per_developer = developer_metrics([m.developer_id for m in members], since)
    keys = ("commits_last_30d", "prs_opened", "prs_merged", "prs_reviewed", "lines_added", "lines_deleted")
    return {key: sum(f[key] for f in per_developer.values()) for key in keys}


def repository_summaries(repository_ids: Iterable[int]) -> dict[int, tuple[int, datetime | None]]:
    """(commit_count, last_commit) for each repository, in one query."""
    ids = list(repository_ids)
    rows = tuples(Commit.select(Commit.repository, fn.COUNT(Commit.id), fn.MAX(Commit.committed_at))
                   .where(Commit.repository << ids).group_by(Commit.repository)) if ids else []
    found = {repo: (count, last) for repo, count, last in rows}
    return {i: found.get(i, (0, None)) for i in ids}


def repository_statistics(repository_id: int) -> dict[str, Any]:
    human = Developer.is_bot.is_null() | (Developer.is_bot == False)  # noqa: E712
    commits = (Commit.select(fn.COUNT(Commit.id), fn.SUM(Commit.additions), fn.SUM(Commit.deletions),
                             fn.COUNT(fn.DISTINCT(Commit.developer)), fn.MAX(Commit.committed_at))
               .join(Developer, JOIN.LEFT_OUTER).where(Commit.repository == repository_id, human).tuples().first())
    count, added, deleted, contributors, last = commits or (0, 0, 0, 0, None)
    states = dict(tuples(PullRequest.select(PullRequest.state, fn.COUNT(PullRequest.id))
                          .where(PullRequest.repository == repository_id).group_by(PullRequest.state)))
    reviews = (Review.select(fn.COUNT(Review.id)).join(PullRequest)
               .where(PullRequest.repository == repository_id).scalar())
    return {"commits": count, "lines_added": int(added or 0), "lines_deleted": int(deleted or 0),
            "contributors": contributors, "last_commit": last,
            "pull_requests": {state: int(states.get(state, 0)) for state in ("open", "merged", "closed")},
            "reviews": int(reviews or 0)}
