"""The platform records its own metrics (build durations, webhook attempts) as metric points, in batches."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from domain import platform_metrics
from models.db import db
from tests.api.test_builds import make_project, start_build, wait_final
from tests.support.processes import wait_for
from tests.support.receiver import receiving

pytestmark = pytest.mark.local_receivers


def points(client: FlaskClient, headers: dict[str, str], name: str) -> list[dict[str, Any]]:
    return client.get("/api/v1/metrics", headers=headers, query_string={"name": name}).get_json()["metrics"]  # type: ignore[no-any-return]


def test_recorded_points_are_written_in_one_batch(client: FlaskClient, auth: Any) -> None:
    for value in (1, 2, 3):
        platform_metrics.record("conveyor.test.metric", value, "s", kind="unit")
    with db.connection_context():
        assert platform_metrics.flush() == 3 and platform_metrics.flush() == 0
    stored = points(client, auth("user"), "conveyor.test.metric")
    assert [(p["sum"], p["unit"], p["tags"]) for p in stored] == [(v, "s", {"kind": "unit"}) for v in (1.0, 2.0, 3.0)]


@pytest.mark.slow
def test_builds_and_webhook_deliveries_are_measured(
        client: FlaskClient, auth: Any, repo: Path, worker: Any) -> None:
    user = auth("user")
    with receiving([200]) as receiver:
        client.post("/api/v1/webhooks", headers=user, json={"name": "m", "url": receiver.url, "events": ["build.*"]})
        make_project(client, user, repo, [{"name": "nap", "run": "sleep 0.3"}])
        build = wait_final(client, user, start_build(client, user))
        assert build["status"] == "completed", build
        [build] = wait_for(lambda: points(client, user, "conveyor.build.duration_seconds"), timeout=15,
                           what="the build's duration")
        attempts = wait_for(lambda: len(got := points(client, user, "conveyor.webhook.attempt_ms")) == 2 and got,
                            timeout=15, what="two webhook attempts")
    assert build["tags"] == {"project": "demo", "status": "completed"} and build["sum"] >= 0.3
    assert {a["tags"]["outcome"] for a in attempts} == {"succeeded"} and receiver.count() == 2
    assert len(points(client, user, "conveyor.webhook.delivery_latency_ms")) == 2
