"""The hand-written point check agrees with MetricPointInSchema (the documented contract) on every verdict,
and bulk inserts store every value exactly, on SQLite (chunked statements) and PostgreSQL (COPY)."""
from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import marshmallow as ma
import pytest

from api.schemas.metrics import MetricPointInSchema, MetricsInSchema
from api.schemas.point_list import PointError
from models.bulk import CHUNK
from models.db import db, utc_naive
from models.metric import MetricPoint, insert_points

BASE = {"name": "ok.metric", "value": 1.5, "unit": "ms", "timestamp": "2026-11-23T10:00:00Z", "tags": {"a": "b"}}
VARIANTS: list[dict[str, Any]] = [
    {}, {"name": None}, {"name": 5}, {"name": ""}, {"name": "_"}, {"name": "a" * 128}, {"name": "a" * 129},
    {"name": "x\n"}, {"name": "a:b-c.d_e"}, {"name": "-a"}, {"name": "é"},
    {"value": 0}, {"value": -3}, {"value": "12.5"}, {"value": "abc"}, {"value": None}, {"value": True},
    {"value": "nan"}, {"value": "inf"}, {"value": 10 ** 400}, {"value": [1]}, {"value": {}},
    {"unit": None}, {"unit": ""}, {"unit": "u" * 32}, {"unit": "u" * 33}, {"unit": 3},
    {"timestamp": None}, {"timestamp": "2026-11-23"}, {"timestamp": "2026-11-23T12:00:00+02:00"},
    {"timestamp": "2026-11-23T10:00:00"}, {"timestamp": "yesterday"}, {"timestamp": 1700000000}, {"timestamp": ""},
    {"tags": {}}, {"tags": None}, {"tags": []}, {"tags": "a=b"}, {"tags": {"k": 1}}, {"tags": {"bad key": "v"}},
    {"tags": {"k": "v" * 256}}, {"tags": {"k": "v" * 257}}, {"tags": {f"k{i}": "v" for i in range(16)}},
    {"tags": {f"k{i}": "v" for i in range(17)}}, {"tags": {"k" * 64: "v"}}, {"tags": {"k" * 65: "v"}},
    {"colour": "red"}, {"name": "bad name", "value": "x", "extra": 1},
]
ABSENT = ["name", "value", "unit", "timestamp", "tags"]


def candidates() -> list[Any]:
    points: list[Any] = [{**BASE, **variant} for variant in VARIANTS]
    points += [{key: value for key, value in BASE.items() if key != gone} for gone in ABSENT]
    rng = random.Random(7)
    pool = [value for variant in VARIANTS for value in variant.items()]
    points += [{**BASE, **dict(rng.sample(pool, 3))} for _ in range(300)]
    return [*points, None, "point", [BASE]]


def by_schema(point: Any) -> tuple[bool, set[str], Any]:
    try:
        loaded = MetricPointInSchema().load(point)
    except ma.ValidationError as error:
        return False, set(error.messages) if isinstance(error.messages, dict) else {"_schema"}, None
    stamp = loaded["timestamp"]
    naive = None if stamp is None else stamp.astimezone(UTC).replace(tzinfo=None)
    return True, set(), (loaded["name"], loaded["value"], loaded["unit"], loaded["tags"], naive)


def by_hand(point: Any, now: datetime) -> tuple[bool, set[str], Any]:
    rules = MetricsInSchema().fields["metrics"].rules  # type: ignore[attr-defined]
    try:
        name, value, unit, tags, stamp = rules.check(point, now)
    except PointError as error:
        return False, set(error.messages), None
    return True, set(), (name, value, unit, tags, None if stamp is now else stamp)


@pytest.mark.parametrize("point", candidates())
def test_hand_check_and_schema_agree(point: Any) -> None:
    now = utc_naive()
    assert by_hand(point, now) == by_schema(point)


def test_errors_name_each_bad_index_in_marshmallows_shape() -> None:
    points = [BASE, {**BASE, "value": "x"}, BASE, {**BASE, "name": "1x", "tags": {"k": 1}}]
    with pytest.raises(ma.ValidationError) as raised:
        MetricsInSchema().load({"metrics": points})
    errors = raised.value.messages["metrics"]  # type: ignore[index, call-overload]
    assert set(errors) == {1, 3} and set(errors[1]) == {"value"} and set(errors[3]) == {"name", "tags"}
    assert set(errors[3]["tags"]) == {"k"}


AWKWARD = ["plain", "tab\there", "new\nline", "carriage\rreturn", "back\\slash", "\\N", "", "ünïcødé ✓", "quote\"'"]


@pytest.mark.parametrize("count", [1, CHUNK, CHUNK + 1, 2 * CHUNK + 7])
def test_bulk_insert_keeps_every_value_exactly(schema: None, count: int) -> None:
    stamp = datetime(2026, 11, 23, 10, 0, 0, 123456)
    rows = [(f"m.{i % 3}", i / 7, None if i % 4 == 0 else f"u{i % 5}", {"s": AWKWARD[i % len(AWKWARD)], "i": str(i)},
             stamp) for i in range(count)]
    try:
        with db.connection_context():
            assert insert_points(rows) == count
            points = MetricPoint.select().order_by(MetricPoint.id)
            stored = [(p.name, p.value, p.unit, p.tags, p.timestamp) for p in points]
        assert stored == rows
    finally:
        with db.connection_context():
            MetricPoint.delete().execute()


def test_bulk_insert_is_all_or_nothing(schema: None) -> None:
    rows: list[Any] = [("m", 1.0, None, {}, utc_naive())] * (CHUNK + 5) + [("m", 1.0, "u" * 40, {}, None)]
    with db.connection_context():
        with pytest.raises(Exception):  # noqa: B017 - the engines raise different errors: a NOT NULL timestamp
            insert_points(rows)
        assert MetricPoint.select().count() == 0


def test_a_whole_batch_gets_the_same_verdicts_as_its_points_one_by_one() -> None:
    """What a batch remembers between points (names, tag keys and timestamps already found valid) changes
    no verdict: every point of a mixed batch is judged as the schema judges it alone."""
    points = candidates()
    with pytest.raises(ma.ValidationError) as raised:
        MetricsInSchema().load({"metrics": points})
    errors = raised.value.messages["metrics"]  # type: ignore[index, call-overload]
    for index, point in enumerate(points):
        ok, fields, _ = by_schema(point)
        assert (index not in errors) == ok, (index, point)
        if not ok:
            assert set(errors[index]) == fields, (index, point)
    good = [point for point in points if by_schema(point)[0]]
    now = utc_naive()
    rows = MetricsInSchema().load({"metrics": good})["metrics"]
    for point, row in zip(good, rows, strict=True):
        expected = by_schema(point)[2]
        assert row[:4] == expected[:4] and (row[4] == expected[4] or (expected[4] is None and row[4] >= now))
