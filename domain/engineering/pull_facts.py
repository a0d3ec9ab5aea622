"""The pull requests of a scope, measured (`domain.engineering.cycle`), as the facts the figures are made of,
measured now from the raw rows (`measured_facts`): what the scheduler's rollup keeps (`domain.engineering.rollup`)
and the brute force the figures the database computes over it (`domain.engineering.pull_sql`) are held to."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from peewee import JOIN, fn

from domain.engineering.cycle import Cycle, Reviewed, between, measure
from domain.engineering.links import Deployments, ci_runs, deployed_with, deployments, key_of
from models.activity import Commit, PullRequest, Review
from models.db import tuples
from models.developer import Developer, TeamMember
from models.repository import Repository


@dataclass(frozen=True)
class Scope:
    """Whose pull requests: `organizations` is a subquery of the organization ids the user sees (None: all);
    the others narrow it."""

    organizations: Any = None
    organization_id: int | None = None
    repositories: Any = None  # a subquery of repository ids
    team_id: int | None = None
    repository_id: int | None = None
    developer_id: int | None = None
    include_bots: bool = False


def narrowed(query: Any, scope: Scope, organization: Any, repository: Any, developer: Any) -> Any:
    """`query` narrowed to the scope, through its columns naming the organization, repository and author."""
    if scope.organizations is not None:
        query = query.where(organization << scope.organizations)
    if scope.organization_id is not None:
        query = query.where(organization == scope.organization_id)
    if scope.repository_id is not None:
        query = query.where(repository == scope.repository_id)
    if scope.repositories is not None:
        query = query.where(repository << scope.repositories)
    if scope.developer_id is not None:
        query = query.where(developer == scope.developer_id)
    if scope.team_id is not None:  # the team's members' pull requests, in whichever repository
        members = TeamMember.select(TeamMember.developer).where(TeamMember.team == scope.team_id)
        query = query.where(developer << members)
    return query


def pulls(scope: Scope) -> Any:
    """The scope's pull requests, with their repository's organization and name."""
    query = (PullRequest.select(PullRequest, Repository.organization.alias("organization_id"),
                                Repository.full_name.alias("full_name"))
             .join(Repository, on=(PullRequest.repository == Repository.id)))
    query = narrowed(query, scope, Repository.organization, PullRequest.repository, PullRequest.developer)
    if not scope.include_bots:
        query = (query.join_from(PullRequest, Developer, JOIN.LEFT_OUTER, on=(PullRequest.developer == Developer.id))
                 .where(Developer.is_bot.is_null() | (Developer.is_bot == False)))  # noqa: E712
    return query


def measured(query: Any, shipped_by: Deployments = deployments) -> list[tuple[Any, Cycle]]:
    """Each pull request of `query` (from `pulls`) with its cycle: its reviews, the CI runs on its head commit and
    the deployment that contains its merge commit, each read for all of them at once (the deployments by
    `shipped_by`: a rollup keeps them across its chunks, `links.KeptDeployments`)."""
    rows = list(query.objects())
    if not rows:
        return []
    ids = query.select(PullRequest.id)
    reviews: dict[int, list[Reviewed]] = defaultdict(list)
    found = tuples(
        Review.select(Review.pull_request, Review.developer, Developer.is_bot, Review.submitted_at)
        .join(Developer, JOIN.LEFT_OUTER, on=(Review.developer == Developer.id))
        .where(Review.pull_request << ids))
    for pull_id, developer, is_bot, submitted in found:
        reviews[pull_id].append(Reviewed(developer, bool(is_bot), submitted))
    keys = {key_of(r.organization_id, r.full_name) for r in rows}
    repository_ids = {key_of(r.organization_id, r.full_name): r.repository_id for r in rows}
    runs = ci_runs(keys, query.select(PullRequest.head_sha).where(PullRequest.head_sha.is_null(False)))
    shipped = shipped_by(keys, repository_ids)
    landed: dict[int, datetime] = dict(tuples(  # the merge commits' times
        Commit.select(PullRequest.id, fn.COALESCE(Commit.committed_at, Commit.authored_at))
        .join(PullRequest, on=((Commit.repository == PullRequest.repository)
                               & (Commit.sha == PullRequest.merge_commit_sha)))
        .where(PullRequest.id << ids)))
    measured_rows = []
    for row in rows:
        key = key_of(row.organization_id, row.full_name)
        deployed = deployed_with(row, landed.get(row.id) or row.merged_at, shipped.get(key, []))
        measured_rows.append((row, measure(row, reviews[row.id], runs.get((key, row.head_sha), []), deployed)))
    return measured_rows


@dataclass(frozen=True)
class Fact:
    """What the figures need of one measured pull request, from the rollup's row or measured now."""

    state: str
    opened_at: datetime | None
    merged_at: datetime | None
    ended_at: datetime | None  # merged, or closed unmerged
    deployed_at: datetime | None
    seconds: dict[str, float | None]  # each of STAGES, and "cycle"
    review_depth: int
    size: int | None

    @property
    def to_merge(self) -> float | None:
        """Seconds from opening to merge (kept by the rollup beside the stages)."""
        return between(self.opened_at, self.merged_at)


Facts = Callable[[Scope, str, datetime, datetime], list[Fact]]  # (scope, "merged" | "opened" | "ended", start, end)


def fact(pull: Any, cycle: Cycle) -> Fact:
    return Fact(state=pull.state, opened_at=pull.opened_at, merged_at=pull.merged_at,
                ended_at=pull.merged_at or (pull.closed_at if pull.state == "closed" else None),
                deployed_at=cycle.deployed.finished_at if cycle.deployed else None, seconds=cycle.seconds,
                review_depth=cycle.review_depth, size=cycle.size)


def measured_facts(scope: Scope, moment: str, start: datetime, end: datetime) -> list[Fact]:
    """The facts measured now from the raw rows: the brute force the rollup must agree with."""
    query = pulls(scope)
    field: Any = PullRequest.merged_at if moment == "merged" else PullRequest.opened_at
    if moment == "ended":
        field = fn.COALESCE(PullRequest.merged_at, PullRequest.closed_at)
        query = query.where(PullRequest.state != "open")
    return [fact(p, c) for p, c in measured(query.where(field >= start, field < end))]
