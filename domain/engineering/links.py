"""What ties a pull request to CI and to production: the pipeline runs on its head commit (its testing time), and
the deployment that contains its merge commit (its deployment time).

The pipelines are those of the CI sources (`models.pipeline`) whose repository is the pull request's (the same
`owner/name`, compared without case, as GitHub and GitLab compare them) and whose owner is a member of the pull
request's organization: another organization's sources say nothing here.

Deployments are linked as DevLake links them, by the commits between consecutive deployments: a deployment
contains every commit up to its head commit. Conveyor keeps commits with their times, not the commit graph, so
"up to" is by commit time: the merge commit (for a squash or rebase merge, the commit it put on the base branch)
goes out with the first successful deployment, by finish, that finished after the merge and whose head commit is
the merge commit or was committed at or after it. The head commit's time is the stored commit's, else the time
the CI provider reported for it; a deployment whose head time is unknown links nothing."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from peewee import fn

from domain.engineering.cycle import Deployed, Run
from models.activity import Commit
from models.db import tuples
from models.organization import OrganizationMember
from models.pipeline import CISource, Pipeline
from models.sql import one_of

Key = tuple[int, str]  # (organization id, lower-cased owner/name)


@dataclass(frozen=True)
class Deployment:
    pipeline_id: int
    finished_at: datetime
    head_sha: str | None
    head_time: datetime | None


def key_of(organization_id: int, full_name: str) -> Key:
    return organization_id, full_name.lower()


def pipelines_of(organizations: Iterable[int], names: Iterable[str]) -> Any:
    """The pipelines of the CI sources that members of `organizations` own for the repositories named `names`
    (lower-cased `owner/name`), each with its source and the organization it counts for."""
    return (Pipeline.select(Pipeline, CISource, OrganizationMember.organization.alias("organization_id"))
            .join(CISource).join(OrganizationMember, on=(OrganizationMember.user == CISource.owner))
            .where(one_of(fn.LOWER(Pipeline.repository), names),
                   OrganizationMember.organization << sorted(set(organizations))))


def _pipelines(keys: Iterable[Key], *where: Any) -> list[Any]:
    """`pipelines_of` the repositories in `keys` (each only for its own organization)."""
    keys = set(keys)
    if not keys:
        return []
    rows: list[Any] = list(pipelines_of({org for org, _ in keys}, {name for _, name in keys}).where(*where).objects())
    return [row for row in rows if key_of(row.organization_id, row.repository) in keys]


def ci_runs(keys: Iterable[Key], head_shas: Any) -> dict[tuple[Key, str], list[Run]]:
    """The finished, non-deploy runs on each head commit (`head_shas`: a subquery, or a list): (repository key,
    sha) -> runs."""
    found: dict[tuple[Key, str], list[Run]] = defaultdict(list)
    for row in _pipelines(keys, Pipeline.is_deploy == False, Pipeline.commit_sha << head_shas,  # noqa: E712
                          Pipeline.status.in_(("success", "failed"))):
        found[(key_of(row.organization_id, row.repository), row.commit_sha)].append(
            Run(row.started_at, row.finished_at))
    return found


def deployments(keys: Iterable[Key], repository_ids: dict[Key, int]) -> dict[Key, list[Deployment]]:
    """Each repository's successful deployments, by finish, with their head commit's time."""
    rows = _pipelines(keys, Pipeline.is_deploy == True, Pipeline.status == "success",  # noqa: E712
                      Pipeline.finished_at.is_null(False))
    shas = sorted({row.commit_sha for row in rows if row.commit_sha})
    times = commit_times(repository_ids.values(), shas)
    found: dict[Key, list[Deployment]] = defaultdict(list)
    seen: set[tuple[Key, int]] = set()
    for row in sorted(rows, key=lambda r: (r.finished_at, r.id)):
        key = key_of(row.organization_id, row.repository)
        if (key, row.id) in seen:  # two members owning sources of one repository: one pipeline, listed once
            continue
        seen.add((key, row.id))
        head_time = times.get((repository_ids.get(key, 0), row.commit_sha)) or row.commit_timestamp
        found[key].append(Deployment(row.id, row.finished_at, row.commit_sha, head_time))
    return found


Deployments = Callable[[Iterable[Key], dict[Key, int]], dict[Key, list[Deployment]]]  # `deployments`, or a memo


class KeptDeployments:
    """`deployments`, each repository's read once and kept: a rollup measures its pull requests in chunks that
    name mostly the same repositories, and reading them all again for each chunk was two thirds of a full
    rollup. A deploy run that arrives meanwhile is the next rollup's (its `updated_at` is after this one's start)."""

    def __init__(self) -> None:
        self.known: dict[Key, list[Deployment]] = {}

    def __call__(self, keys: Iterable[Key], repository_ids: dict[Key, int]) -> dict[Key, list[Deployment]]:
        keys = set(keys)
        missing = keys - self.known.keys()
        if missing:
            found = deployments(missing, {key: repository_ids[key] for key in missing if key in repository_ids})
            self.known.update({key: found.get(key, []) for key in missing})
        return {key: self.known[key] for key in keys}


def commit_times(repository_ids: Iterable[int], shas: list[str]) -> dict[tuple[int, str], datetime]:
    """(repository id, sha) -> when the stored commit was committed (or authored)."""
    ids, wanted = sorted(set(repository_ids)), shas
    if not ids or not wanted:
        return {}
    query = (Commit.select(Commit.repository, Commit.sha, fn.COALESCE(Commit.committed_at, Commit.authored_at))
             .where(Commit.repository << ids, Commit.sha << wanted))
    return {(repo, sha): when for repo, sha, when in tuples(query) if when is not None}


def deployed_with(pull: Any, landed_time: datetime | None, candidates: list[Deployment]) -> Deployed | None:
    """The first deployment (by finish) after `pull` was merged that contains its merge commit."""
    if pull.merged_at is None or landed_time is None:
        return None
    for deployment in candidates:
        if deployment.finished_at < pull.merged_at or deployment.head_time is None:
            continue
        if deployment.head_sha == pull.merge_commit_sha or deployment.head_time >= landed_time:
            return Deployed(deployment.pipeline_id, deployment.finished_at, deployment.head_sha,
                            deployment.head_time, landed_time)
    return None
