"""Time to restore, as the database computes it (window functions over each source's deploys), held to the
definition computed in Python from every run, on random deploy histories."""
from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask

from domain.dora import restore_hours
from models.db import db
from models.pipeline import CISource, Pipeline
from models.user import User

START, END = datetime(2026, 11, 1), datetime(2026, 11, 15)
STATUSES = ("success",) * 4 + ("failed",) * 4 + ("cancelled", "running")


def random_history(rng: random.Random, owner: User, sources: int) -> None:
    """Deploy runs (and a few CI runs) of several sources from before the range to after it. Some runs of a source
    finish at the same moment with the same status (peers: neither before nor after one another)."""
    for s in range(sources):
        source = CISource.create(owner=owner, provider="github", repository=f"org/app-{s}",
                                 api_url="https://api.github.com", token="t", deploy_workflow="deploy.yml")
        moment = START - timedelta(days=rng.randint(1, 10))
        for n in range(rng.randint(10, 30)):
            status = rng.choice(STATUSES)
            twins = 2 if rng.random() < 0.1 else 1
            for twin in range(twins):
                Pipeline.create(source=source, external_id=f"{n}-{twin}", repository=source.repository,
                                status=status, provider_status=status, is_deploy=rng.random() < 0.9,
                                finished_at=None if status == "running" else moment)
            moment += timedelta(hours=rng.uniform(0.5, 30))


def brute_force(owner: User) -> tuple[list[float], int]:
    """The definition: each failed deploy in the range whose source's last finished deploy before it (success or
    failure) did not fail starts a streak; it is restored by the first successful deploy after it."""
    runs = [(p.source_id, p.finished_at, p.status) for p in Pipeline.select().join(CISource).where(
        CISource.owner == owner, Pipeline.is_deploy == True,  # noqa: E712
        Pipeline.status.in_(("success", "failed")), Pipeline.finished_at.is_null(False))]
    hours, unrestored = [], 0
    for source, at, status in runs:
        if status != "failed" or not START <= at < END:
            continue
        earlier = [(t, s) for src, t, s in runs if src == source and t < at]
        if earlier and max(earlier)[1] == "failed":
            continue
        fixes = [t for src, t, s in runs if src == source and t > at and s == "success"]
        if fixes:
            hours.append((min(fixes) - at).total_seconds() / 3600)
        else:
            unrestored += 1
    return sorted(hours), unrestored


@pytest.mark.parametrize("seed", range(6))
def test_time_to_restore_is_what_each_sources_history_says(app: Flask, seed: int) -> None:
    rng = random.Random(seed)
    with db.connection_context():
        owner = User.create(username="owner", password_hash="x", role="user")
        other = User.create(username="other", password_hash="x", role="user")
        random_history(rng, owner, sources=4)
        random_history(rng, other, sources=2)  # another owner's sources: out of the scope
        scope = Pipeline.select(Pipeline, CISource).join(CISource).where(CISource.owner == owner)
        hours, unrestored = restore_hours(scope, START, END)
        want_hours, want_unrestored = brute_force(owner)
    assert unrestored == want_unrestored
    assert sorted(hours) == pytest.approx(want_hours, abs=1e-6)
    assert want_hours  # each seed's history has restored streaks to compare


def deploys(owner: User, repository: str, runs: list[tuple[datetime, str]]) -> None:
    source = CISource.create(owner=owner, provider="github", repository=repository,
                             api_url="https://api.github.com", token="t", deploy_workflow="deploy.yml")
    for n, (finished, status) in enumerate(runs):
        Pipeline.create(source=source, external_id=str(n), repository=repository, status=status,
                        provider_status=status, is_deploy=True, finished_at=finished)


def test_streaks_begun_before_the_range_or_by_a_first_deploy_and_restores_at_the_same_moment(app: Any) -> None:
    hour = timedelta(hours=1)
    with db.connection_context():
        owner = User.create(username="owner", password_hash="x", role="user")
        # the first failure in the range continues a streak begun before it, never restored
        deploys(owner, "org/app", [(START - 2 * hour, "failed"), (START + hour, "failed"),
                                   (START + 5 * hour, "success"), (START + 6 * hour, "failed")])
        # a source's first deploy fails (nothing before it): a streak, restored 3 hours later
        deploys(owner, "org/new", [(START + 2 * hour, "failed"), (START + 5 * hour, "success")])
        # a success finishing the same moment as the failure is not after it: the next one restores it
        deploys(owner, "org/tie", [(START + hour, "failed"), (START + hour, "success"), (START + 3 * hour, "success")])
        scope = Pipeline.select(Pipeline, CISource).join(CISource).where(CISource.owner == owner)
        hours, unrestored = restore_hours(scope, START, END)
    assert (sorted(hours), unrestored) == (pytest.approx([2.0, 3.0]), 1)
