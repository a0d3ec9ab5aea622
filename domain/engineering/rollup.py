"""The scheduler's rollup of pull requests' cycles (`PullRequestCycle`): each pull request measured once, again
only when something that its cycle depends on has changed since the last rollup started:

- the pull request itself, its reviews, or its people (ingestion and merges of developers mark it: `changed_at`);
- a CI run on its head commit (a pipeline updated since);
- a deployment of its repository that finished after it was merged and before the deployment it is linked to
  now (or it has none): a late deploy run can only move a pull request's deployment earlier, or give it one.

What a rollup reads is what changed since the last one started, less OVERLAP: a transaction that marked a pull
request before the last rollup started but committed after it read is still seen. `full=True` measures every
pull request (operators, and the nightly pass that catches what no mark says: a merge commit stored after its
pull request was measured)."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from peewee import JOIN, fn

from domain.engineering.cycle import STAGES
from domain.engineering.links import Deployments, KeptDeployments
from domain.engineering.pull_facts import Scope, fact, measured, pulls
from models import bulk
from models.activity import PullRequest
from models.cycles import CycleWatermark, PullRequestCycle
from models.db import db, id_list, tuples, utc_naive
from models.developer import Developer
from models.pipeline import Pipeline
from models.repository import Repository

NAME = "pull_request_cycles"
OVERLAP = timedelta(minutes=2)
FULL_EVERY = timedelta(days=1)
CHUNK = 500  # pull requests measured together
COLUMNS = ("pull_request", "repository_id", "organization_id", "developer_id", "is_bot", "state", "opened_at",
           "merged_at", "ended_at", "deployed_at", *STAGES, "cycle", "review_depth", "size", "to_merge", "rolled_at")


def roll_up(full: bool = False) -> dict[str, Any]:
    """Measure the pull requests that changed since the last rollup (every one with `full`): how many, and the
    organizations whose figures that changed."""
    started = utc_naive()
    mark = CycleWatermark.get_or_none(CycleWatermark.name == NAME)
    since = None if full or mark is None else mark.rolled_from - OVERLAP
    ids = sorted(_changed(since))
    organizations: set[int] = set()
    shipped_by = KeptDeployments()
    for start in range(0, len(ids), CHUNK):
        organizations |= _measure(ids[start:start + CHUNK], shipped_by)
    (CycleWatermark.insert(name=NAME, rolled_from=started, full_at=started if since is None else None)
     .on_conflict(conflict_target=[CycleWatermark.name],
                  update={CycleWatermark.rolled_from: started,
                          **({CycleWatermark.full_at: started} if since is None else {})}).execute())
    return {"measured": len(ids), "full": since is None, "organizations": sorted(organizations)}


def full_due() -> bool:
    """Whether a day has passed since the last complete rollup (or there was none)."""
    mark = CycleWatermark.get_or_none(CycleWatermark.name == NAME)
    return mark is None or mark.full_at is None or mark.full_at <= utc_naive() - FULL_EVERY


def _changed(since: datetime | None) -> set[int]:
    if since is None:
        return {p.id for p in PullRequest.select(PullRequest.id)}
    changed = {p.id for p in PullRequest.select(PullRequest.id).where(PullRequest.changed_at >= since)}
    runs = Pipeline.select(Pipeline.commit_sha).where(Pipeline.updated_at >= since, Pipeline.is_deploy == False,  # noqa: E712
                                                      Pipeline.commit_sha.is_null(False))
    changed |= {p.id for p in PullRequest.select(PullRequest.id).where(PullRequest.head_sha << runs)}
    return changed | _deployable(since)


def _deployable(since: datetime) -> set[int]:
    """Merged pull requests whose deployment a deploy run updated since may change (see the module's doc)."""
    window: dict[str, list[datetime]] = defaultdict(list)
    for name, finished in tuples(Pipeline.select(fn.LOWER(Pipeline.repository), Pipeline.finished_at).where(
            Pipeline.updated_at >= since, Pipeline.is_deploy == True,  # noqa: E712
            Pipeline.status == "success", Pipeline.finished_at.is_null(False))):
        window[name].append(finished)
    found: set[int] = set()
    for name, finishes in window.items():
        earliest, latest = min(finishes), max(finishes)
        query = (PullRequest.select(PullRequest.id)
                 .join(Repository, on=(PullRequest.repository == Repository.id))
                 .join(PullRequestCycle, JOIN.LEFT_OUTER, on=(PullRequestCycle.pull_request == PullRequest.id))
                 .where(fn.LOWER(Repository.full_name) == name, PullRequest.merged_at <= latest,
                        PullRequestCycle.deployed_at.is_null() | (PullRequestCycle.deployed_at > earliest)))
        found |= {p.id for p in query}
    return found


def _measure(ids: Iterable[int], shipped_by: Deployments) -> set[int]:
    """Measure these pull requests and keep their cycles; the organizations they belong to."""
    ids = list(ids)
    rows = measured(pulls(Scope(include_bots=True)).where(PullRequest.id << id_list(ids)), shipped_by)
    bots = {d.id for d in Developer.select(Developer.id).where(
        Developer.id << [p.developer_id for p, _ in rows if p.developer_id], Developer.is_bot == True)}  # noqa: E712
    now = utc_naive()
    values = []
    for pull, cycle in rows:
        f = fact(pull, cycle)
        values.append((pull.id, pull.repository_id, pull.organization_id, pull.developer_id, pull.developer_id in bots,
                       f.state, f.opened_at, f.merged_at, f.ended_at, f.deployed_at,
                       *(f.seconds[stage] for stage in (*STAGES, "cycle")), f.review_depth, f.size, f.to_merge, now))
    kept = ", ".join(f'"{name}" = EXCLUDED."{name}"' for name in (PullRequestCycle._meta.fields[c].column_name
                                                                   for c in COLUMNS[1:]))
    with db.atomic():
        bulk.upsert([PullRequestCycle._meta.fields[c] for c in COLUMNS], values,
                    f'ON CONFLICT ("pull_request_id") DO UPDATE SET {kept}')
    return {p.organization_id for p, _ in rows}
