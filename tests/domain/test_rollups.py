"""Rollups: checked against numbers computed here independently; idempotent; late points counted."""
from __future__ import annotations

import random
import statistics
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from core.stats import percentile
from domain import rollups
from models.db import db
from models.metric import RollupWatermark
from tests.support.processes import wait_for

FAR_PAST = datetime(2000, 1, 1)
WINDOW = {"start_time": "2026-11-23T00:00:00Z", "end_time": "2026-11-24T00:00:00Z"}


def push(client: FlaskClient, headers: dict[str, str], points: list[dict[str, Any]]) -> None:
    response = client.post("/api/v1/metrics", headers=headers, json={"metrics": points})
    assert response.status_code == 202, response.get_json()


def rolled(client: FlaskClient, headers: dict[str, str], resolution: str, **query: str) -> list[dict[str, Any]]:
    response = client.get("/api/v1/metrics", headers=headers,
                          query_string={"resolution": resolution, "limit": "1000", **WINDOW, **query})
    assert response.status_code == 200, response.get_json()
    return response.get_json()["metrics"]  # type: ignore[no-any-return]


def expected(values: list[float]) -> dict[str, Any]:
    """The same figures by another route: the statistics module (R-7, which is percentile_cont)."""
    cuts = statistics.quantiles(values, n=100, method="inclusive") if len(values) > 1 else [values[0]] * 99
    return {"count": len(values), "sum": pytest.approx(sum(values)), "min": min(values), "max": max(values),
            "avg": pytest.approx(statistics.fmean(values)), "p50": pytest.approx(cuts[49]),
            "p95": pytest.approx(cuts[94]), "p99": pytest.approx(cuts[98])}


def aggregate() -> dict[str, int]:
    with db.connection_context():
        return rollups.aggregate(horizon=FAR_PAST)


def test_rollups_match_an_independent_computation(client: FlaskClient, auth: Any) -> None:
    user, rng = auth("user"), random.Random(7)
    points, by_minute, by_hour = [], {}, {}  # type: ignore[var-annotated]
    for minute in ("10:58", "10:59", "11:00"):
        for env in ("prod", "staging"):
            values = [round(rng.uniform(1, 500), 3) for _ in range(rng.randint(1, 60))]
            for i, value in enumerate(values):
                points.append({"name": "latency", "value": value, "tags": {"env": env},
                               "timestamp": f"2026-11-23T{minute}:{i % 60:02d}.{i:03d}Z"})
            by_minute[(minute, env)] = values
            by_hour.setdefault((minute[:2], env), []).extend(values)
    rng.shuffle(points)
    push(client, user, points)
    assert aggregate()["rollups_1m"] == 6

    minutes = rolled(client, user, "1m", name="latency")
    assert len(minutes) == 6
    for row in minutes:
        key = (row["timestamp"][11:16], row["tags"]["env"])
        assert row == {"name": "latency", "timestamp": row["timestamp"], "tags": {"env": key[1]},
                       **expected(by_minute[key])}, key
    hours = rolled(client, user, "1h", **{"tags.env": "prod"})
    assert [(h["timestamp"], h["count"]) for h in hours] == [
        ("2026-11-23T10:00:00.000Z", len(by_hour[("10", "prod")])),
        ("2026-11-23T11:00:00.000Z", len(by_hour[("11", "prod")]))]
    assert hours[0] == {"name": "latency", "timestamp": hours[0]["timestamp"], "tags": {"env": "prod"},
                        **expected(by_hour[("10", "prod")])}


def test_aggregation_is_idempotent_and_late_points_reopen_their_bucket(client: FlaskClient, auth: Any) -> None:
    user = auth("user")
    push(client, user, [{"name": "m", "value": v, "timestamp": f"2026-11-23T10:0{i}:00Z"}
                        for i, v in enumerate([1.0, 2.0, 3.0])])
    aggregate()
    first = rolled(client, user, "1m")
    assert aggregate()["rollups_1m"] == 0 and rolled(client, user, "1m") == first
    with db.connection_context():  # forget everything was done: every bucket is redone, nothing counted twice
        RollupWatermark.update(last_point_id=0).execute()
    aggregate()
    assert rolled(client, user, "1m") == first and rolled(client, user, "1h")[0]["count"] == 3

    push(client, user, [{"name": "m", "value": 10.0, "timestamp": "2026-11-23T10:01:30Z"}])  # late, for 10:01
    assert aggregate()["rollups_1m"] == 1
    after = {row["timestamp"]: row for row in rolled(client, user, "1m")}
    assert after["2026-11-23T10:01:00.000Z"]["count"] == 2 and after["2026-11-23T10:01:00.000Z"]["sum"] == 12.0
    assert after["2026-11-23T10:00:00.000Z"] == first[0] and after["2026-11-23T10:02:00.000Z"] == first[2]
    assert rolled(client, user, "1h")[0]["count"] == 4


def test_buckets_past_the_raw_retention_are_not_redone(client: FlaskClient, auth: Any) -> None:
    user = auth("user")
    push(client, user, [{"name": "m", "value": 1.0, "timestamp": "2026-11-23T10:00:00Z"}])
    with db.connection_context():
        assert rollups.aggregate(horizon=datetime(2026, 11, 23, 11, 0)) == {
            "last_point_id": rollups.aggregate(horizon=FAR_PAST)["last_point_id"], "rollups_1m": 0, "rollups_1h": 0}
    assert rolled(client, user, "1m") == []


def test_prune_removes_what_is_past_retention(client: FlaskClient, auth: Any) -> None:
    user = auth("user")
    push(client, user, [{"name": "m", "value": 1.0, "timestamp": f"2026-11-23T1{h}:00:00Z"} for h in range(3)])
    aggregate()
    with db.connection_context():
        removed = rollups.prune(datetime(2026, 11, 23, 11, 30), {"1m": datetime(2026, 11, 23, 11, 0),
                                                                 "1h": datetime(2026, 11, 23, 0, 0)})
    assert removed == {"raw": 2, "1m": 1, "1h": 0}
    assert len(rolled(client, user, "raw")) == 1 and len(rolled(client, user, "1m")) == 2


@pytest.mark.parametrize("size", [1, 2, 5, 101])
def test_percentile_is_linear_interpolation_between_ranks(size: int) -> None:
    values = sorted(random.Random(size).uniform(-50, 50) for _ in range(size))
    cuts = statistics.quantiles(values, n=100, method="inclusive") if size > 1 else [values[0]] * 99
    assert [percentile(values, q) for q in (0.5, 0.95, 0.99)] == pytest.approx([cuts[49], cuts[94], cuts[98]])


@pytest.mark.slow
def test_the_job_runs_in_a_worker(client: FlaskClient, auth: Any, worker: Any) -> None:
    """The job rolls up only what raw retention still holds, so its points are from an hour ago, not a date
    that ages out of METRICS_RETENTION_DAYS."""
    user, admin = auth("user"), auth("admin")
    hour = (datetime.now(UTC) - timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    push(client, user, [{"name": "m", "value": v, "timestamp": hour.strftime("%Y-%m-%dT%H:%M:%SZ")}
                        for v in (1.0, 5.0)])
    assert client.post("/api/v1/admin/jobs/aggregate_metrics/run", headers=admin).status_code == 202
    window = {"start_time": hour.strftime("%Y-%m-%dT%H:%M:%SZ"),
              "end_time": (hour + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")}
    [row] = wait_for(lambda: rolled(client, user, "1m", **window), timeout=30, what="the rollup")
    assert (row["count"], row["avg"], row["p50"]) == (2, 3.0, 3.0)
