"""DORA metrics on a small deploy history whose figures were worked out by hand (see the comments)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from flask.testing import FlaskClient

from models.db import db
from models.pipeline import CISource, Pipeline
from models.user import User

T = datetime


def history(owner: str, repository: str = "org/app") -> None:
    """Deploys (finish, status, commit time) of one source; the range under test is 2026-11-01..07."""
    with db.connection_context():
        source = CISource.create(owner=User.get(User.username == owner), provider="github", repository=repository,
                                 api_url="https://api.github.com", token="t", deploy_workflow="deploy.yml")
        deploys = [
            (T(2026, 10, 28, 10), "success", T(2026, 10, 28, 0)),  # previous period: lead 10 h
            (T(2026, 11, 1, 10), "success", T(2026, 11, 1, 8)),  # lead 2 h
            (T(2026, 11, 2, 12), "failed", T(2026, 11, 2, 11)),  # a failing streak starts
            (T(2026, 11, 2, 15), "failed", None),  # same streak
            (T(2026, 11, 2, 18), "success", T(2026, 11, 2, 10)),  # lead 8 h; restores the streak: 6 h
            (T(2026, 11, 4, 9), "success", T(2026, 11, 3, 21)),  # lead 12 h
            (T(2026, 11, 6, 9), "failed", None),  # a streak
            (T(2026, 11, 6, 10), "success", T(2026, 11, 6, 6)),  # lead 4 h; restores it: 1 h
            (T(2026, 11, 7, 20), "failed", None),  # not restored yet
            (T(2026, 11, 5, 12), "cancelled", None),  # neither success nor failure: not counted
            (T(2026, 11, 9, 12), "failed", None),  # after the range: not counted
        ]
        for n, (finished, status, committed) in enumerate(deploys):
            Pipeline.create(source=source, external_id=str(n), repository=repository, status=status,
                            provider_status=status, is_deploy=True, finished_at=finished, commit_timestamp=committed)
        Pipeline.create(source=source, external_id="ci", repository=repository, status="success",
                        provider_status="success", is_deploy=False, finished_at=T(2026, 11, 3), commit_timestamp=None)


def dora(client: FlaskClient, headers: dict[str, str], **query: str) -> dict[str, Any]:
    response = client.get("/api/v1/analytics/dora", headers=headers,
                          query_string={"start_date": "2026-11-01", "end_date": "2026-11-07", **query})
    assert response.status_code == 200, response.get_json()
    return response.get_json()  # type: ignore[no-any-return]


def test_the_four_keys_by_hand(client: FlaskClient, auth: Any) -> None:
    user = auth("user")
    history("user-user")
    body = dora(client, user)
    assert (body["start_date"], body["end_date"]) == ("2026-11-01T00:00:00.000Z", "2026-11-08T00:00:00.000Z")
    # 4 successful deploys over 7 days; the 7 days before had 1
    assert body["deployment_frequency"] == {"value": 0.57, "unit": "per_day", "deployments": 4,
                                            "previous": 0.14, "trend": "increasing"}
    # lead times 2, 8, 12, 4 h: median 6; p90 = 8 + 0.7 x (12 - 8) = 10.8; before: 10
    assert body["lead_time_for_changes"] == {"median_hours": 6.0, "p90_hours": 10.8, "samples": 4,
                                             "previous": 10.0, "trend": "decreasing"}
    # 4 failed of 8 finished deploys (the cancelled one is neither); before: 0 of 1
    assert body["change_failure_rate"] == {"percentage": 50.0, "failed": 4, "total": 8, "previous": 0.0,
                                           "trend": "increasing"}
    # streaks restored after 6 h and 1 h: median 3.5, p90 = 1 + 0.9 x 5 = 5.5; one streak still open
    assert body["time_to_restore"] == {"median_hours": 3.5, "p90_hours": 5.5, "samples": 2, "unrestored": 1,
                                       "previous": None, "trend": "no_data"}
    assert [(p["period_start"][:10], p["deployments"], p["failed_deployments"]) for p in body["series"]] == [
        ("2026-11-01", 1, 0), ("2026-11-02", 1, 2), ("2026-11-03", 0, 0), ("2026-11-04", 1, 0),
        ("2026-11-05", 0, 0), ("2026-11-06", 1, 1), ("2026-11-07", 0, 1)]


def test_weekly_periods_are_calendar_weeks(client: FlaskClient, auth: Any) -> None:
    user = auth("user")
    history("user-user")
    body = dora(client, user, granularity="weekly")
    # 2026-11-01 is a Sunday: the range touches the weeks starting Monday 10-26 and Monday 11-02
    assert [(p["period_start"][:10], p["deployments"], p["failed_deployments"]) for p in body["series"]] == [
        ("2026-10-26", 1, 0), ("2026-11-02", 3, 4)]
    assert body["deployment_frequency"]["value"] == 2.0 and body["deployment_frequency"]["unit"] == "per_week"


def test_only_your_sources_and_the_repository_asked_for(client: FlaskClient, auth: Any) -> None:
    mine, theirs, admin = auth("user"), auth("user", "someone-else"), auth("admin")
    history("someone-else")
    assert dora(client, mine)["change_failure_rate"]["total"] == 0
    assert dora(client, theirs)["change_failure_rate"]["total"] == 8
    assert dora(client, admin)["change_failure_rate"]["total"] == 8
    assert dora(client, theirs, repository="org/other")["change_failure_rate"]["total"] == 0


@pytest.mark.parametrize("query", [
    {"start_date": "2026-11-07", "end_date": "2026-11-01"}, {"start_date": "2024-01-01", "end_date": "2026-11-01"},
    {"granularity": "hourly"}, {"start_date": "yesterday"}, {"end_date": ""},
    {"start_date": "0001-01-01", "end_date": "0001-01-05"}, {"start_date": "9999-12-01", "end_date": "9999-12-31"},
])
def test_bad_ranges_are_refused(client: FlaskClient, auth: Any, query: dict[str, str]) -> None:
    response = client.get("/api/v1/analytics/dora", headers=auth("user"),
                          query_string={"start_date": "2026-11-01", "end_date": "2026-11-07", **query})
    assert response.status_code == 422 and response.get_json()["error"]["code"] == "VALIDATION_ERROR"
