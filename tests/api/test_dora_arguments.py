"""The DORA metrics route's arguments are checked, and a window with no history is all zero and `no_data`."""
from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.support.envelope import assert_envelope


@pytest.mark.parametrize(("query", "field"), [
    ({"end_date": "2026-11-07"}, "start_date"), ({"start_date": "2026-11-01"}, "end_date"),
    ({"start_date": "2026-11-07", "end_date": "2026-11-01"}, "end_date"),
    ({"start_date": "2026-11-01", "end_date": "2026-11-07", "granularity": "hourly"}, "granularity"),
    ({"start_date": "2024-01-01", "end_date": "2026-01-02"}, "end_date"),
    ({"start_date": "yesterday", "end_date": "2026-11-07"}, "start_date"),
])
def test_dora_arguments_are_checked(client: FlaskClient, auth: Any, query: dict[str, str], field: str) -> None:
    response = client.get("/api/v1/analytics/dora", headers=auth("user"), query_string=query)
    assert field in assert_envelope(response, 422, "VALIDATION_ERROR")["error"]["details"]


def test_dora_without_history_is_all_zero_and_no_data(client: FlaskClient, auth: Any) -> None:
    exactly_731_days = {"start_date": "2024-01-01", "end_date": "2025-12-31"}  # a bare end date counts its whole day
    assert client.get("/api/v1/analytics/dora", headers=auth("user"), query_string=exactly_731_days).status_code == 200
    response = client.get("/api/v1/analytics/dora", headers=auth("user"),
                          query_string={"start_date": "2026-11-01", "end_date": "2026-11-07"})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    none = {"median_hours": None, "p90_hours": None, "previous": None, "samples": 0, "trend": "no_data"}
    assert body["lead_time_for_changes"] == none and body["time_to_restore"] == {**none, "unrestored": 0}
    assert body["change_failure_rate"] == {"failed": 0, "total": 0, "percentage": None, "previous": None,
                                           "trend": "no_data"}
    # frequency is a measurement even with no deploys (0 per day now and before): stable, not no_data
    assert body["deployment_frequency"] == {"value": 0, "unit": "per_day", "deployments": 0, "previous": 0,
                                            "trend": "stable"}
    assert [(p["deployments"], p["failed_deployments"]) for p in body["series"]] == [(0, 0)] * 7
