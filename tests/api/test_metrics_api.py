"""Metric ingestion and raw series: validate everything first, store all or nothing, filter by name, time, tags."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.support.envelope import assert_envelope

T0 = "2026-11-23T10:00:00Z"


def push(client: FlaskClient, headers: dict[str, str], points: list[dict[str, Any]]) -> Any:
    return client.post("/api/v1/metrics", headers=headers, json={"metrics": points})


def series(client: FlaskClient, headers: dict[str, str], **query: str) -> dict[str, Any]:
    response = client.get("/api/v1/metrics", headers=headers, query_string=query)
    assert response.status_code == 200, response.get_json()
    return response.get_json()  # type: ignore[no-any-return]


WINDOW = {"start_time": "2026-11-23T00:00:00Z", "end_time": "2026-11-24T00:00:00Z"}


def test_points_are_stored_and_served_as_a_raw_series(client: FlaskClient, auth: Any) -> None:
    user = auth("user")
    response = push(client, user, [
        {"name": "deploy.latency", "value": 12.5, "unit": "ms", "timestamp": T0, "tags": {"env": "prod"}},
        {"name": "deploy.latency", "value": 7, "timestamp": "2026-11-23T12:00:00+02:00"},  # 10:00Z, earlier id
        {"name": "queue.time", "value": 1},
    ])
    assert response.status_code == 202 and response.get_json() == {"accepted_count": 3}
    body = series(client, user, name="deploy.latency", **WINDOW)
    assert body["total_count"] == 2 and body["start_time"] == "2026-11-23T00:00:00.000Z"
    first, second = body["metrics"]
    assert first == {"name": "deploy.latency", "timestamp": "2026-11-23T10:00:00.000Z", "count": 1, "sum": 12.5,
                     "min": 12.5, "max": 12.5, "avg": 12.5, "p50": 12.5, "p95": 12.5, "p99": 12.5, "unit": "ms",
                     "tags": {"env": "prod"}}
    assert second["timestamp"] == "2026-11-23T10:00:00.000Z" and second["sum"] == 7.0 and second["unit"] is None
    now = series(client, user, name="queue.time")  # default window: the last hour, so "now" is in it
    stamped = datetime.fromisoformat(now["metrics"][0]["timestamp"].replace("Z", "+00:00"))
    assert abs(stamped - datetime.now(UTC)) < timedelta(seconds=30)


@pytest.mark.parametrize(("bad", "field"), [
    ({"name": "1starts-with-a-digit"}, "name"), ({"name": "has space"}, "name"), ({"name": "x" * 129}, "name"),
    ({"value": "abc"}, "value"), ({"value": None}, "value"), ({"unit": "u" * 33}, "unit"),
    ({"timestamp": "yesterday"}, "timestamp"), ({"tags": {f"k{i}": "v" for i in range(17)}}, "tags"),
    ({"tags": {"bad key": "v"}}, "tags"), ({"tags": {"n": 1}}, "tags"), ({"colour": "red"}, "colour"),
])
def test_one_bad_point_refuses_the_batch_and_names_its_index(
        client: FlaskClient, auth: Any, bad: dict[str, Any], field: str) -> None:
    user = auth("user")
    points = [{"name": "ok.metric", "value": float(i), "timestamp": T0} for i in range(10)]
    points[5] = {**points[5], **bad}
    error = assert_envelope(push(client, user, points), 422, "VALIDATION_ERROR")["error"]
    assert field in error["details"]["metrics"]["5"]
    assert series(client, user, **WINDOW)["total_count"] == 0


def test_batch_bounds(client: FlaskClient, auth: Any) -> None:
    user = auth("user")
    assert_envelope(push(client, user, []), 422, "VALIDATION_ERROR")
    over = [{"name": "m", "value": 1, "timestamp": T0}] * 10_001
    assert_envelope(push(client, user, over), 422, "VALIDATION_ERROR")
    full = [{"name": "m", "value": i, "timestamp": T0, "tags": {"i": str(i % 7)}} for i in range(10_000)]
    assert push(client, user, full).get_json() == {"accepted_count": 10_000}
    body = series(client, user, name="m", **WINDOW)
    assert body["total_count"] == 10_000 and len(body["metrics"]) == 1000
    # i % 7 == 3 for 1429 of i < 10,000
    assert series(client, user, name="m", limit="5", **{"tags.i": "3"}, **WINDOW)["total_count"] == 1429


def test_tag_filters_are_exact_and_combine(client: FlaskClient, auth: Any) -> None:
    user = auth("user")
    push(client, user, [
        {"name": "m", "value": 1, "timestamp": T0, "tags": {"env": "prod", "region": "eu"}},
        {"name": "m", "value": 2, "timestamp": T0, "tags": {"env": "PROD", "region": "eu"}},
        {"name": "m", "value": 3, "timestamp": T0, "tags": {"xenv": "prod"}},
        {"name": "m", "value": 4, "timestamp": T0, "tags": {"env": "prod%"}},
    ])

    def values(**tags: str) -> list[float]:
        query = {f"tags.{k}": v for k, v in tags.items()}
        return [p["sum"] for p in series(client, user, name="m", **query, **WINDOW)["metrics"]]

    assert values(env="prod") == [1.0]
    assert values(env="PROD") == [2.0] and values(env="prod%") == [4.0]
    assert values(env="prod", region="eu") == [1.0] and values(env="prod", region="us") == []
    assert values() == [1.0, 2.0, 3.0, 4.0]


def test_time_range_and_argument_errors(client: FlaskClient, auth: Any) -> None:
    user = auth("user")
    push(client, user, [{"name": "m", "value": i, "timestamp": f"2026-11-23T1{i}:00:00Z"} for i in range(4)])
    window = {"start_time": "2026-11-23T11:00:00Z", "end_time": "2026-11-23T12:00:00Z"}
    assert [p["sum"] for p in series(client, user, name="m", **window)["metrics"]] == [1.0, 2.0]
    for query in ({"start_time": "2026-11-24T00:00:00Z", "end_time": "2026-11-23T00:00:00Z"},
                  {"resolution": "5m"}, {"limit": "0"}, {"name": "bad name"}, {"start_time": "soon"},
                  {"tags.bad key": "x"}):
        assert_envelope(client.get("/api/v1/metrics", headers=user, query_string=query), 422, "VALIDATION_ERROR")


def test_who_may_push_and_read(client: FlaskClient, auth: Any) -> None:
    point = [{"name": "m", "value": 1}]
    assert_envelope(client.post("/api/v1/metrics", json={"metrics": point}), 401, "UNAUTHORIZED")
    assert_envelope(push(client, auth("viewer"), point), 403, "FORBIDDEN")
    assert client.get("/api/v1/metrics", headers=auth("viewer")).status_code == 200


def test_metric_type_selects_a_family_of_names(client: FlaskClient, auth: Any) -> None:
    """Seed 003's `metric_type`: `cpu` is `cpu` and the names that continue it with `_` or `.`, nothing else."""
    user = auth("user")
    names = ["cpu", "cpu_usage", "cpu.user", "cpus", "cpu-temp", "gpu_usage", "memory.rss", "cpu_"]
    assert push(client, user, [{"name": name, "value": 1.0} for name in names]).status_code == 202
    assert sorted(p["name"] for p in series(client, user, metric_type="cpu")["metrics"]) == [
        "cpu", "cpu.user", "cpu_", "cpu_usage"]
    assert [p["name"] for p in series(client, user, metric_type="memory")["metrics"]] == ["memory.rss"]
    assert [p["name"] for p in series(client, user, metric_type="cpu", name="cpu_usage")["metrics"]] == ["cpu_usage"]
    assert series(client, user, metric_type="disk")["metrics"] == []
    for bad in ("cpu%", "c_u", "", "x" * 65):
        response = client.get("/api/v1/metrics", headers=user, query_string={"metric_type": bad})
        assert "metric_type" in assert_envelope(response, 422, "VALIDATION_ERROR")["error"]["details"], bad
