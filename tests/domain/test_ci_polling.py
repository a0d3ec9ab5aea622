"""Polling GitHub Actions and GitLab CI (fixture servers on 127.0.0.1 with the real JSON and headers):
normalised statuses, stages and commits, ETag/304, paging, rate limits, and pipeline/deployment events
emitted exactly once per transition however often the same state is polled."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient

from core.runtime import Runtime
from domain.polling import pipelines, providers
from domain.polling.github import status_of
from domain.polling.providers import GITLAB_STATUS
from models.db import db, utc_naive
from models.event import Event
from models.pipeline import CISource
from tests.support.fake_ci import FakeGitHub, FakeGitLab, github_job, github_run, gitlab_job, gitlab_pipeline

pytestmark = pytest.mark.local_receivers
REPO = "octo-org/octo-repo"


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    with FakeGitHub() as server:
        server.runs[REPO] = [github_run(2, status="in_progress"), github_run(1)]
        server.jobs[1] = [github_job(11, 1, name="build"), github_job(12, 1, name="test")]
        yield server


def add_source(client: FlaskClient, headers: dict[str, str], server: Any, provider: str = "github",
               repository: str = REPO, **extra: Any) -> int:
    body = {"provider": provider, "repository": repository, "api_url": server.url, "token": server.token, **extra}
    response = client.post("/api/v1/ci/sources", headers=headers, json=body)
    assert response.status_code == 201, response.get_json()
    return int(response.get_json()["id"])


def poll(runtime: Runtime, source_id: int) -> dict[str, Any]:
    with db.connection_context():
        return pipelines.poll(runtime, CISource.get_by_id(source_id))


def events() -> list[tuple[str, str]]:
    with db.connection_context():
        return [(e.type, e.data["pipeline"]["status"]) for e in Event.select().order_by(Event.id)
                if e.type.startswith(("pipeline.", "deployment."))]


def runs(client: FlaskClient, headers: dict[str, str], **query: str) -> dict[str, dict[str, Any]]:
    response = client.get("/api/v1/pipelines", headers=headers, query_string=query)
    assert response.status_code == 200, response.get_json()
    return {p["external_id"]: p for p in response.get_json()["items"]}


@pytest.mark.parametrize(("status", "conclusion", "expected"), [
    ("queued", None, "pending"), ("waiting", None, "pending"), ("in_progress", None, "running"),
    ("completed", "success", "success"), ("completed", "failure", "failed"), ("completed", "timed_out", "failed"),
    ("completed", "cancelled", "cancelled"), ("completed", "skipped", "cancelled"),
    ("completed", "neutral", "success"), ("completed", "startup_failure", "failed"),
])
def test_github_statuses_normalise(status: str, conclusion: str | None, expected: str) -> None:
    assert status_of(status, conclusion) == expected


@pytest.mark.parametrize(("status", "expected"), [
    ("created", "pending"), ("waiting_for_resource", "pending"), ("preparing", "pending"), ("pending", "pending"),
    ("manual", "pending"), ("scheduled", "pending"), ("running", "running"), ("success", "success"),
    ("failed", "failed"), ("canceled", "cancelled"), ("skipped", "cancelled"),
])
def test_gitlab_statuses_normalise(status: str, expected: str) -> None:
    assert GITLAB_STATUS[status] == expected


def test_github_runs_are_recorded_with_commit_and_stages(
        runtime: Runtime, client: FlaskClient, auth: Any, github: FakeGitHub) -> None:
    user = auth("user")
    source = add_source(client, user, github)
    assert poll(runtime, source)["status"] == "ok"
    assert client.get("/health/deep").get_json()["external_services"]["github"]["status"] == "up"
    shown = runs(client, user)
    assert {k: v["status"] for k, v in shown.items()} == {"1": "success", "2": "running"}
    done = client.get(f"/api/v1/pipelines/{shown['1']['id']}", headers=user).get_json()
    assert done["repository"] == REPO and done["branch"] == "main" and done["duration"] == 300
    assert done["commit"]["author"] == "dev@example.com" and done["commit"]["message"].startswith("Fix the flaky")
    assert done["commit"]["sha"] == github.runs[REPO][1]["head_sha"] and done["commit"]["timestamp"]
    assert [(s["name"], s["status"]) for s in done["stages"]] == [("build", "success"), ("test", "success")]
    assert done["provider"] == "github" and done["finished_at"] == "2026-01-01T00:05:00.000Z"
    assert [r.headers.get("authorization") for r in github.requests] == [f"Bearer {github.token}"] * len(
        github.requests)
    assert events() == []  # the first poll records history quietly


def test_each_transition_is_emitted_once_however_often_it_is_polled(runtime: Runtime,
        client: FlaskClient, auth: Any, github: FakeGitHub) -> None:
    source = add_source(client, auth("user"), github, deploy_workflow="deploy.yml")
    poll(runtime, source)
    github.runs[REPO].insert(0, github_run(3, name="Deploy", path=".github/workflows/deploy.yml", status="queued"))
    for _ in range(2):
        poll(runtime, source)
    assert events() == []  # queued is not a transition anyone is told about
    github.runs[REPO][0] = github_run(3, name="Deploy", path=".github/workflows/deploy.yml", status="in_progress")
    github.runs[REPO][1] = github_run(2, conclusion="failure")
    for _ in range(3):
        poll(runtime, source)
    assert events() == [("pipeline.failed", "failed"),  # the older run first
                        ("pipeline.started", "running"), ("deployment.started", "running")]
    github.runs[REPO][0] = github_run(3, name="Deploy", path=".github/workflows/deploy.yml")
    for _ in range(3):
        poll(runtime, source)
    assert events()[3:] == [("pipeline.completed", "success"), ("deployment.completed", "success")]
    with db.connection_context():
        deployed = Event.select().where(Event.type == "deployment.completed").get()
    assert deployed.data["deployment"]["workflow"] == "Deploy" and deployed.owner_id is not None


def test_an_unchanged_list_costs_one_request_answered_304(
        runtime: Runtime, client: FlaskClient, auth: Any, github: FakeGitHub) -> None:
    source = add_source(client, auth("user"), github)
    poll(runtime, source)
    before = len(github.requests)
    result = poll(runtime, source)
    assert result["not_modified"] is True and result["requests"] == 1
    assert len(github.requests) == before + 1 and github.not_modified() == 1
    assert github.requests[-1].headers["if-none-match"].startswith('"')
    github.runs[REPO][0] = github_run(2)
    assert poll(runtime, source)["not_modified"] is False  # the ETag changed with the list


def test_the_first_poll_pages_back_and_later_polls_read_only_what_changed(runtime: Runtime,
        client: FlaskClient, auth: Any, github: FakeGitHub) -> None:
    github.runs[REPO] = [github_run(n) for n in range(120, 0, -1)]
    source = add_source(client, auth("user"), github)
    assert poll(runtime, source)["runs"] == 120
    pages = [r.query for r in github.requests if r.path.endswith("/actions/runs")]
    assert [(q["per_page"], q["page"]) for q in pages] == [("50", "1"), ("50", "2"), ("50", "3")]
    github.runs[REPO].insert(0, github_run(121, status="in_progress"))
    assert poll(runtime, source)["pages"] == 1 and events() == [("pipeline.started", "running")]


@pytest.mark.parametrize("refusal", ["exhausted", "retry_after"])
def test_rate_limits_back_off_until_the_provider_says(runtime: Runtime,
        client: FlaskClient, auth: Any, github: FakeGitHub, refusal: str) -> None:
    user = auth("user")
    source = add_source(client, user, github)
    if refusal == "exhausted":
        github.rate_remaining = 0
    else:
        github.retry_after = 120
    result = poll(runtime, source)
    assert result["status"] == "rate_limited"
    shown = client.get(f"/api/v1/ci/sources/{source}", headers=user).get_json()
    assert shown["status"] == "rate_limited" and shown["rate_limited_until"] and shown["last_error"]
    asked = len(github.requests)
    assert "skipped" in poll(runtime, source) and len(github.requests) == asked  # no request while backing off
    github.rate_remaining, github.retry_after = 5000, None
    with db.connection_context():
        CISource.update(rate_limited_until=None).where(CISource.id == source).execute()
    assert poll(runtime, source)["status"] == "ok"


def test_a_response_leaving_no_requests_stops_the_poll_there(runtime: Runtime,
        client: FlaskClient, auth: Any, github: FakeGitHub) -> None:
    user = auth("user")
    source = add_source(client, user, github)
    github.rate_remaining = 2  # the list and one run's jobs, then nothing left
    result = poll(runtime, source)
    assert result["status"] == "rate_limited" and github.hits("/rate_limit") == 0
    shown = client.get(f"/api/v1/ci/sources/{source}", headers=user).get_json()
    assert shown["status"] == "rate_limited" and shown["rate_limited_until"]


@pytest.fixture
def gitlab() -> Iterator[FakeGitLab]:
    with FakeGitLab() as server:
        server.projects["group/sub/project"] = 7
        server.pipelines[7] = [gitlab_pipeline(502, project_id=7, status="running"),
                               gitlab_pipeline(501, project_id=7)]
        server.jobs[501] = [gitlab_job(9001, 501, name="compile", stage="build", project_id=7),
                            gitlab_job(9002, 501, name="unit", stage="test", project_id=7),
                            gitlab_job(9003, 501, name="ship", stage="deploy", project_id=7)]
        server.jobs[502] = [gitlab_job(9011, 502, name="compile", stage="build", project_id=7, status="running")]
        yield server


def test_gitlab_pipelines_with_stages_commit_and_deploys(
        runtime: Runtime, client: FlaskClient, auth: Any, gitlab: FakeGitLab) -> None:
    user = auth("user")
    source = add_source(client, user, gitlab, provider="gitlab", repository="group/sub/project",
                        deploy_workflow="deploy")
    assert poll(runtime, source)["status"] == "ok"
    shown = runs(client, user)
    assert {k: v["status"] for k, v in shown.items()} == {"501": "success", "502": "running"}
    done = client.get(f"/api/v1/pipelines/{shown['501']['id']}", headers=user).get_json()
    assert [s["name"] for s in done["stages"]] == ["build", "test", "deploy"] and done["is_deploy"] is True
    assert done["commit"]["author"] == "dev@example.com" and done["commit"]["timestamp"]
    assert shown["502"]["is_deploy"] is False
    assert gitlab.hits("/api/v4/projects/group%2Fsub%2Fproject/pipelines") >= 1
    assert all(r.headers.get("private-token") == gitlab.token for r in gitlab.requests)
    gitlab.pipelines[7][0] = gitlab_pipeline(502, project_id=7, status="failed")
    gitlab.jobs[502] = [gitlab_job(9011, 502, name="compile", stage="build", project_id=7, status="failed")]
    poll(runtime, source)
    poll(runtime, source)
    assert events() == [("pipeline.failed", "failed")]
    assert runs(client, user, status="failed").keys() == {"502"}


def test_a_refused_token_is_an_error_that_never_shows_the_token(runtime: Runtime,
        client: FlaskClient, auth: Any, github: FakeGitHub, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    user = auth("user")
    source = add_source(client, user, github, token="ghp_wrong_token_value")
    assert poll(runtime, source)["status"] == "error"
    shown = client.get(f"/api/v1/ci/sources/{source}", headers=user)
    assert shown.get_json()["last_error"] == "GET /repos/octo-org/octo-repo/actions/runs: HTTP 401: Bad credentials"
    assert "ghp_wrong_token_value" not in shown.get_data(as_text=True)
    logged = [str(record.__dict__) for record in caplog.records]
    assert any("CI poll failed" in line for line in logged)
    assert [line for line in logged if "ghp_wrong_token_value" in line] == []


def test_polls_racing_each_other_emit_a_transition_once(
        runtime: Runtime, client: FlaskClient, auth: Any, github: FakeGitHub) -> None:
    """Two workers polling one source at once (the Redis lock bypassed): the status update that emits is
    conditional on the status it read, so only one of them emits."""
    source = add_source(client, auth("user"), github)
    poll(runtime, source)
    github.runs[REPO][0] = github_run(2)
    barrier = threading.Barrier(4)

    def racer() -> None:
        barrier.wait()
        poll(runtime, source)

    threads = [threading.Thread(target=racer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert events() == [("pipeline.completed", "success")]


def asked_for(server: FakeGitHub, run_id: int) -> int:
    return sum(1 for r in server.requests if r.path == f"/repos/{REPO}/actions/runs/{run_id}")


def test_an_unfinished_run_pushed_off_the_first_page_is_followed_to_its_end(runtime: Runtime,
        client: FlaskClient, auth: Any, github: FakeGitHub) -> None:
    deploy = {"name": "Deploy", "path": ".github/workflows/deploy.yml"}
    github.runs[REPO] = [github_run(n) for n in range(50, 1, -1)] + [github_run(1, status="in_progress", **deploy)]
    source = add_source(client, auth("user"), github, deploy_workflow="deploy.yml")
    poll(runtime, source)
    github.runs[REPO].insert(0, github_run(51))  # the deploy is now 51st: off the first page
    poll(runtime, source)
    assert asked_for(github, 1) == 1 and events() == [("pipeline.completed", "success")]
    github.runs[REPO][-1] = github_run(1, **deploy)  # it finishes; the first page does not change
    result = poll(runtime, source)
    assert result["not_modified"] is True
    assert events()[1:] == [("pipeline.completed", "success"), ("deployment.completed", "success")]
    poll(runtime, source)
    assert asked_for(github, 1) == 2  # finished: not asked for again


def test_answers_that_make_no_sense_are_an_error_not_a_crash(runtime: Runtime,
        client: FlaskClient, auth: Any, github: FakeGitHub) -> None:
    user = auth("user")
    source = add_source(client, user, github)
    github.runs[REPO][0]["head_commit"] = "not an object"
    assert poll(runtime, source)["status"] == "error"
    shown = client.get(f"/api/v1/ci/sources/{source}", headers=user).get_json()
    assert shown["status"] == "error" and shown["last_error"].startswith("unreadable answer: ")


@pytest.mark.parametrize(("header", "seconds"), [
    ("120", 120), ("300000000000", 86_400), ("\u00b2", None), ("Wed, 21 Oct 2015 07:28:00 GMT", 0), ("soon", None),
])
def test_retry_after_in_seconds_or_as_a_date_is_bounded(header: str, seconds: int | None) -> None:
    until = providers._retry_after(header)
    if seconds is None:
        assert until is None
    else:
        assert until is not None
        assert abs((until - utc_naive()).total_seconds() - seconds) < 5


def test_a_new_api_url_records_that_servers_history_quietly(runtime: Runtime,
        client: FlaskClient, auth: Any, github: FakeGitHub) -> None:
    user = auth("user")
    source = add_source(client, user, github)
    poll(runtime, source)
    with FakeGitHub() as other:
        other.runs[REPO] = [github_run(7, status="in_progress")]
        assert client.patch(f"/api/v1/ci/sources/{source}", headers=user,
                            json={"api_url": other.url}).status_code == 200
        poll(runtime, source)
    assert events() == []


@pytest.mark.parametrize("path", [".github/workflows/deploy.yml",
                                  ".github/workflows/deploy.yml@main"])  # GitHub's own example carries the ref
def test_changing_the_deploy_workflow_reclassifies_recorded_runs(runtime: Runtime,
        client: FlaskClient, auth: Any, github: FakeGitHub, path: str) -> None:
    user = auth("user")
    github.runs[REPO].insert(0, github_run(3, name="Deploy", path=path))
    source = add_source(client, user, github)
    poll(runtime, source)
    assert {k: v["is_deploy"] for k, v in runs(client, user).items()} == {"1": False, "2": False, "3": False}
    for wanted, expected in (("deploy.yml", True), ("Deploy", True), ("release.yml", False), (None, False),
                             (".github/workflows/deploy.yml", True), ("main", False)):
        assert client.patch(f"/api/v1/ci/sources/{source}", headers=user,
                            json={"deploy_workflow": wanted}).status_code == 200
        assert runs(client, user)["3"]["is_deploy"] is expected, wanted
        assert runs(client, user)["1"]["is_deploy"] is False
    assert events() == []  # history reclassified quietly


def test_a_gitlab_deploy_stage_that_did_not_run_is_no_deployment(runtime: Runtime,
        client: FlaskClient, auth: Any, gitlab: FakeGitLab) -> None:
    user = auth("user")
    gitlab.jobs[501][2] = gitlab_job(9003, 501, name="ship", stage="deploy", project_id=7, status="skipped")
    source = add_source(client, user, gitlab, provider="gitlab", repository="group/sub/project",
                        deploy_workflow="deploy")
    poll(runtime, source)
    assert runs(client, user)["501"]["is_deploy"] is False
    patched = client.patch(f"/api/v1/ci/sources/{source}", headers=user, json={"deploy_workflow": "build"})
    assert patched.status_code == 200
    assert runs(client, user)["501"]["is_deploy"] is True  # its build stage ran


def test_new_runs_drop_the_cached_dora_figures_of_the_owners_organizations(
        runtime: Runtime, client: FlaskClient, auth: Any, github: FakeGitHub) -> None:
    """An organization's DORA answer is cached for its members; a poll that records runs of a member's source drops
    it, so the next answer counts the new deploy at once rather than after the cache's 5 minutes."""
    owner = auth("user", "olivia")
    org = client.post("/api/v1/organizations", headers=owner, json={"name": "Octo"}).get_json()["id"]
    assert client.post("/api/v1/repositories", headers=owner, json={
        "organization_id": org, "provider": "github", "url": f"https://github.com/{REPO}"}).status_code == 201
    source = add_source(client, owner, github, deploy_workflow="deploy.yml")
    query = {"organization_id": org, "start_date": "2026-01-01", "end_date": "2026-01-31"}

    def deployments() -> int:
        response = client.get("/api/v1/analytics/dora-metrics", headers=owner, query_string=query)
        assert response.status_code == 200, response.get_json()
        return int(response.get_json()["deployment_frequency"]["deployments"])

    assert poll(runtime, source)["status"] == "ok"
    assert deployments() == 0  # cached now
    github.runs[REPO].insert(0, github_run(3, name="Deploy", path=".github/workflows/deploy.yml",
                                           created_at="2026-01-02T10:00:00Z"))
    assert poll(runtime, source)["runs"] >= 1
    assert deployments() == 1
