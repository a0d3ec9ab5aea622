"""The SQL the analytics are built of (`models.db`), on this database: the period a moment falls in, percentiles in
one sort, seconds between moments, and a column among many values in one parameter."""
from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest

from core.stats import percentile
from models.db import db, raw_tuples
from models.pipeline import CISource, Pipeline
from models.sql import one_of, percentiles_of, percentiles_read, period_index, seconds_from
from models.user import User

FIRST = datetime(2026, 11, 2)  # a Monday


def runs(finishes: list[datetime], repository: str = "org/app") -> None:
    owner = User.get_or_create(username="owner", defaults={"password_hash": "x", "role": "user"})[0]
    source = CISource.create(owner=owner, provider="github", repository=repository, api_url="https://x.test",
                             token="t")
    for n, finished in enumerate(finishes):
        Pipeline.create(source=source, external_id=str(n), repository=repository, status="success",
                        provider_status="success", finished_at=finished, started_at=finished - timedelta(hours=n))


@pytest.mark.parametrize("step", [timedelta(days=1), timedelta(days=7), None])
def test_a_moment_falls_in_the_period_it_starts_or_lies_in(app: object, step: timedelta | None) -> None:
    """Each period's first instant is in it, the instant before in the one before, whether the index is counted
    from the first period (days, weeks) or found by a CASE (months, here periods of uneven length)."""
    length = step or timedelta(days=3)
    starts = [FIRST + i * length for i in range(6)] if step else \
        [FIRST, FIRST + timedelta(days=3), FIRST + timedelta(days=10), FIRST + timedelta(days=11)]
    moments = [moment for start in starts[1:] for moment in (start, start - timedelta(microseconds=1))]
    moments += [starts[0], starts[-1] + timedelta(hours=5)]
    with db.connection_context():
        runs(moments)
        found = raw_tuples(Pipeline.select(period_index(Pipeline.finished_at, starts, step)).order_by(Pipeline.id))
    assert [int(index) for index, in found] == [max(i for i, start in enumerate(starts) if start <= moment)
                                                 for moment in moments]


def test_percentiles_in_one_sort_and_seconds_between_moments(app: object) -> None:
    rng = random.Random(7)
    finishes = [FIRST + timedelta(seconds=rng.randint(0, 10 ** 6)) for _ in range(40)]
    with db.connection_context():
        runs(finishes)
        seconds = seconds_from(Pipeline.started_at, Pipeline.finished_at)
        quantiles, = raw_tuples(Pipeline.select(percentiles_of(seconds, (0.5, 0.75, 0.9))))[0]
        none, = raw_tuples(Pipeline.select(percentiles_of(seconds, (0.5,))).where(Pipeline.id < 0))[0]
    durations = sorted(n * 3600.0 for n in range(40))  # each run started n hours before it finished
    assert percentiles_read(quantiles, 3) == pytest.approx([percentile(durations, q) for q in (0.5, 0.75, 0.9)])
    assert percentiles_read(none, 1) == [None]


def test_one_of_many_values_in_one_parameter(app: object) -> None:
    with db.connection_context():
        for name in ("org/a", "org/b", "org/c"):
            runs([FIRST], repository=name)
        wanted = [f"org/x{n}" for n in range(300)] + ["org/a", "org/c"]
        found = {r.repository for r in Pipeline.select().where(one_of(Pipeline.repository, wanted))}
        none = Pipeline.select().where(one_of(Pipeline.repository, [])).count()
    assert found == {"org/a", "org/c"} and none == 0
