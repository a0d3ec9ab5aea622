"""`/api/v1/analytics/code-quality` and `/api/v1/repositories/{id}/quality` through the API: the figures from each
repository's last done snapshot in the range (summed, coverage averaged, each traced to its repository), the
organization, team and repository filters, another organization's ids answering 404, a scope without snapshots
answering zeros with `no_data`, bad ranges 422; a repository's snapshots; an analysis queued now (owners); and
the daily job that sends one analysis per repository."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from flask.testing import FlaskClient

from core.runtime import Runtime
from models.db import db
from models.quality import QualitySnapshot
from models.repository import Repository
from models.user import User
from tests.api.test_analyses import commit_repo
from tests.api.test_organizations_and_teams import create_org, put_members, team_id
from tests.conftest import git
from tests.support.envelope import assert_envelope
from tests.support.processes import wait_for
from workers.quality import analyse_repositories
from workers.schedule import timed

QUALITY = "/api/v1/analytics/code-quality"
RANGE = {"start_date": "2026-11-01", "end_date": "2026-11-30"}
FIGURES = ("code_smells", "bugs", "security_issues", "vulnerabilities", "type_errors")


def repository(org_id: int, name: str, team: int | None = None) -> Repository:
    with db.connection_context():
        return Repository.create(organization=org_id, team=team, name=name, url=f"https://github.com/o{org_id}/{name}",
                                 full_name=f"o{org_id}/{name}", provider="github", api_url="https://api.github.com",
                                 hook_secret="hook-secret-for-the-test")


def snapshot(repo: Repository, at: datetime, status: str = "done", coverage: float | None = None,
             counts: tuple[int, ...] = (0, 0, 0, 0, 0), minutes: int = 0) -> QualitySnapshot:
    with db.connection_context():
        return QualitySnapshot.create(repository=repo.id, analysed_at=at, status=status, commit_sha=f"{repo.id:040d}",
                                      branch="main", test_coverage=coverage, technical_debt_minutes=minutes,
                                      error="git clone failed" if status == "failed" else None,
                                      **dict(zip(FIGURES, counts, strict=True)))


@pytest.fixture
def acme(client: FlaskClient, auth: Any) -> dict[str, Any]:
    """Widgets (team Core): an old snapshot, a later one, and a failed last one; gadgets: one without coverage."""
    owner = auth("user", "olivia")
    org = create_org(client, owner, "Acme")["id"]
    core = team_id(client, owner, org, "Core")
    widgets, gadgets = repository(org, "widgets", core), repository(org, "gadgets")
    snapshot(widgets, datetime(2026, 11, 3), coverage=50.0, counts=(9, 9, 9, 9, 9), minutes=999)
    snapshot(widgets, datetime(2026, 11, 10), coverage=80.0, counts=(4, 2, 3, 1, 5), minutes=125)
    snapshot(widgets, datetime(2026, 11, 12), status="failed")  # counts in nothing
    snapshot(gadgets, datetime(2026, 11, 11), counts=(6, 1, 0, 0, 2), minutes=80)
    return {"owner": owner, "org": org, "team": core, "widgets": widgets, "gadgets": gadgets}


def get(client: FlaskClient, headers: dict[str, str], **query: Any) -> dict[str, Any]:
    response = client.get(QUALITY, headers=headers, query_string=query)
    assert response.status_code == 200, response.get_json()
    return response.get_json()  # type: ignore[no-any-return]


def test_an_organizations_figures_sum_each_repositorys_last_snapshot(client: FlaskClient, acme: dict[str, Any]) -> None:
    body = get(client, acme["owner"], organization_id=acme["org"], **RANGE)
    assert body["test_coverage"] == 80.0  # the mean over those reporting coverage: widgets only
    assert [body[name] for name in FIGURES] == [10, 3, 3, 1, 7]
    assert body["technical_debt_hours"] == 3.42  # (125 + 80) minutes / 60
    assert (body["repositories"], body["no_data"]) == (2, False)
    assert (body["start_date"], body["end_date"]) == ("2026-11-01T00:00:00.000Z", "2026-12-01T00:00:00.000Z")
    widgets = next(r for r in body["repositories_detail"] if r["name"] == "widgets")
    assert widgets == {"repository_id": acme["widgets"].id, "name": "widgets",
                       "analysed_at": "2026-11-10T00:00:00.000Z", "branch": "main",
                       "commit_sha": f"{acme['widgets'].id:040d}", "test_coverage": 80.0,
                       "code_smells": 4, "bugs": 2, "security_issues": 3, "vulnerabilities": 1, "type_errors": 5,
                       "technical_debt_hours": 2.08}


def test_the_team_and_repository_filters_and_the_range_pick_the_snapshots(
        client: FlaskClient, acme: dict[str, Any]) -> None:
    team = get(client, acme["owner"], team_id=acme["team"], **RANGE)
    assert [r["name"] for r in team["repositories_detail"]] == ["widgets"] and team["code_smells"] == 4
    one = get(client, acme["owner"], repository_id=acme["gadgets"].id, **RANGE)
    assert (one["repositories"], one["test_coverage"], one["code_smells"], one["technical_debt_hours"]) == (
        1, None, 6, 1.33)
    early = get(client, acme["owner"], organization_id=acme["org"], start_date="2026-11-01", end_date="2026-11-05")
    assert [(r["name"], r["code_smells"]) for r in early["repositories_detail"]] == [("widgets", 9)]
    both = get(client, acme["owner"], organization_id=acme["org"], team_id=acme["team"],
               repository_id=acme["gadgets"].id, **RANGE)
    assert both["no_data"] is True  # gadgets is not the team's


def test_no_snapshots_answer_zeros_and_no_data(client: FlaskClient, acme: dict[str, Any]) -> None:
    empty_team = team_id(client, acme["owner"], acme["org"], "Empty")
    for query in ({"team_id": empty_team, **RANGE}, {"organization_id": acme["org"], "start_date": "2025-01-01",
                                                      "end_date": "2025-02-01"}):
        body = get(client, acme["owner"], **query)
        assert {k: v for k, v in body.items() if k not in ("start_date", "end_date")} == {
            "test_coverage": None, **dict.fromkeys(FIGURES, 0), "technical_debt_hours": 0.0, "repositories": 0,
            "no_data": True, "repositories_detail": []}


def test_the_range_defaults_to_the_last_30_days(client: FlaskClient, acme: dict[str, Any]) -> None:
    fresh = repository(acme["org"], "fresh")
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    snapshot(fresh, now - timedelta(days=31), counts=(7, 0, 0, 0, 0))
    snapshot(fresh, now, counts=(1, 0, 0, 0, 0), minutes=5)
    body = get(client, acme["owner"], repository_id=fresh.id)
    start, end = datetime.fromisoformat(body["start_date"][:-1]), datetime.fromisoformat(body["end_date"][:-1])
    assert (end - start, end.time().isoformat(), end.date()) == (timedelta(days=30), "00:00:00",
                                                                 now.date() + timedelta(days=1))
    assert [(r["name"], r["code_smells"]) for r in body["repositories_detail"]] == [("fresh", 1)]


def test_another_organizations_ids_answer_404(client: FlaskClient, auth: Any, acme: dict[str, Any]) -> None:
    stranger = auth("user", "stan")
    for query in ({"organization_id": acme["org"]}, {"team_id": acme["team"]},
                  {"repository_id": acme["widgets"].id}, {"organization_id": 999_999}):
        assert_envelope(client.get(QUALITY, headers=stranger, query_string={**RANGE, **query}), 404, "NOT_FOUND")
    assert get(client, stranger, **RANGE)["no_data"] is True  # their own organizations: none of Acme's
    assert get(client, auth("admin"), **RANGE)["repositories"] == 2
    path = f"/api/v1/repositories/{acme['widgets'].id}/quality"
    assert_envelope(client.get(path, headers=stranger), 404, "NOT_FOUND")
    assert_envelope(client.post(path, headers=stranger), 404, "NOT_FOUND")


@pytest.mark.parametrize(("query", "field"), [
    ({"start_date": "2026-11-07", "end_date": "2026-11-01"}, "end_date"),
    ({"start_date": "2024-01-01", "end_date": "2026-01-02"}, "end_date"),  # over two years
    ({"start_date": "2020-01-01"}, "end_date"),  # up to today: over two years
    ({"end_date": "2026-13-01"}, "end_date"), ({"team_id": "x"}, "team_id"),
    ({"repository_id": "0"}, "repository_id"), ({"organization_id": str(2**31)}, "organization_id"),
])
def test_bad_arguments_are_422_in_the_envelope(client: FlaskClient, auth: Any, query: dict[str, str],
                                               field: str) -> None:
    response = client.get(QUALITY, headers=auth("user"), query_string=query)
    assert field in assert_envelope(response, 422, "VALIDATION_ERROR")["error"]["details"]


def test_a_repositorys_snapshots_newest_first_with_why_one_failed(client: FlaskClient, acme: dict[str, Any]) -> None:
    path = f"/api/v1/repositories/{acme['widgets'].id}/quality"
    body = client.get(path, headers=acme["owner"]).get_json()
    assert [(s["status"], s["analysed_at"][:10]) for s in body["items"]] == [
        ("failed", "2026-11-12"), ("done", "2026-11-10"), ("done", "2026-11-03")]
    assert body["items"][0]["error"] == "git clone failed" and body["total"] == 3
    assert (body["items"][1]["technical_debt_minutes"], body["items"][1]["technical_debt_hours"]) == (125, 2.08)
    done = client.get(path, headers=acme["owner"], query_string={"status": "done", "limit": 1}).get_json()
    assert (len(done["items"]), done["total"]) == (1, 2)
    assert client.delete(f"/api/v1/repositories/{acme['widgets'].id}", headers=acme["owner"]).status_code == 204
    with db.connection_context():  # a forgotten repository takes its snapshots along
        assert QualitySnapshot.select().where(QualitySnapshot.repository == acme["widgets"].id).count() == 0


def test_owners_queue_an_analysis_now_members_may_not(client: FlaskClient, auth: Any, acme: dict[str, Any],
                                                     redis_client: redis.Redis) -> None:
    member, stranger = auth("user", "mel"), auth("user", "stan")
    with db.connection_context():
        ids = {u.username: u.id for u in User.select().where(User.username << ("olivia", "mel"))}
    assert put_members(client, acme["owner"], acme["org"], (ids["olivia"], "owner"),
                       (ids["mel"], "member")).status_code == 200
    path = f"/api/v1/repositories/{acme['widgets'].id}/quality"
    queued = client.post(path, headers=acme["owner"])
    assert queued.status_code == 202, queued.get_json()
    assert queued.get_json()["status"] == "queued"
    assert redis_client.llen("dramatiq:analyses") == 1
    assert_envelope(client.post(path, headers=member), 403, "FORBIDDEN")  # members read, owners analyse
    assert_envelope(client.post(path, headers=stranger), 404, "NOT_FOUND")
    assert client.get(path, headers=member).status_code == 200
    assert redis_client.llen("dramatiq:analyses") == 1


def test_the_daily_job_sends_one_analysis_per_repository(client: FlaskClient, auth: Any, acme: dict[str, Any],
                                                         runtime: Runtime, redis_client: redis.Redis) -> None:
    jobs = client.get("/api/v1/admin/jobs", headers=auth("admin"), query_string={"limit": 100}).get_json()["items"]
    job = next(item for item in jobs if item["name"] == "analyse_repositories")
    assert job["interval_seconds"] == 86400
    assert next(j for j in timed({"analyse_repositories": 3600}) if j.name == job["name"]).interval_seconds == 3600
    with db.connection_context():
        assert analyse_repositories.fn(runtime) == {"sent": 2}
    assert redis_client.llen("dramatiq:analyses") == 2


@pytest.mark.slow
def test_an_analysis_queued_now_is_run_by_a_worker_and_listed(
        client: FlaskClient, acme: dict[str, Any], worker: Any, tmp_path: Path) -> None:
    source = commit_repo(tmp_path / "source", {"app.py": "import os\n\n\ndef calc(expr: str) -> int:\n"
                                                         "    return eval(expr)\n"})
    with db.connection_context():
        Repository.update(url=str(source)).where(Repository.id == acme["gadgets"].id).execute()
    path = f"/api/v1/repositories/{acme['gadgets'].id}/quality"
    assert client.post(path, headers=acme["owner"]).status_code == 202

    def newest() -> dict[str, Any] | None:
        items = client.get(path, headers=acme["owner"]).get_json()["items"]
        return next((i for i in items if i["commit_sha"] != f"{acme['gadgets'].id:040d}"), None)  # not the fixture's

    done = wait_for(newest, timeout=120, interval=0.3, what="the snapshot")
    assert (done["status"], done["branch"], done["commit_sha"]) == ("done", "main", git(source, "rev-parse", "HEAD"))
    # F401 (a smell, 5 min) and B307 eval (MEDIUM, 30 min)
    assert (done["code_smells"], done["security_issues"], done["technical_debt_minutes"]) == (1, 1, 35), done
    body = get(client, acme["owner"], repository_id=acme["gadgets"].id)
    assert body["repositories_detail"][0]["commit_sha"] == done["commit_sha"]
