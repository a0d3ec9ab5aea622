"""CI sources and their pipelines through the API: validation, the provider's default API URL, the token never
shown, updates, ownership (BOLA), and the pipelines list and detail. Pipelines are seeded directly."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from flask.testing import FlaskClient

from models.db import db
from models.pipeline import CISource, Pipeline
from models.user import User
from tests.support.envelope import assert_envelope
from tests.support.polling import CI_TOKEN, DROP, PIPELINES, PUBLIC, SOURCES, add_source, assert_not_found, listed

STAGES = [{"name": "build", "status": "success", "duration": 12, "started_at": "2026-01-01T10:00:00Z",
           "finished_at": "2026-01-01T10:00:12Z"}]


def seed_pipelines(owner: str) -> dict[str, int]:
    """external id -> pipeline id: app 1 (main, success), 2 (feature, failed), 3 (main, running), 4 (main, pending,
    not started); lib 5 (main, success)."""
    rows = [("acme/app", "1", "main", "success", datetime(2026, 1, 1, 10)), ("acme/app", "4", "main", "pending", None),
            ("acme/app", "2", "feature", "failed", datetime(2026, 1, 2, 10)), ("acme/lib", "5", "main", "success",
            datetime(2026, 1, 4)), ("acme/app", "3", "main", "running", datetime(2026, 1, 3, 10))]
    with db.connection_context():
        owner_id = User.get(User.username == owner).id
        sources = {repository: CISource.create(owner=owner_id, provider="github", repository=repository,
                                               api_url="https://api.github.com", token=CI_TOKEN)
                   for repository in ("acme/app", "acme/lib")}
        return {external: Pipeline.create(
            source=sources[repository], external_id=external, repository=repository, branch=branch, status=status,
            provider_status=status, started_at=started, workflow="ci.yml", commit_sha=f"abc{external}",
            commit_message=f"change {external}", commit_author="dev", commit_timestamp=datetime(2026, 1, 1, 9),
            stages=STAGES, url=f"https://github.com/{repository}/actions/runs/{external}").id
            for repository, external, branch, status, started in rows}


def test_another_users_source_and_pipelines_are_404(client: FlaskClient, auth: Any) -> None:
    owner, other, admin = auth("user"), auth("user", username="mallory"), auth("admin")
    source_id = add_source(client, owner, repository="acme/api").get_json()["id"]
    pipelines = seed_pipelines("user-user")
    assert_not_found(client, other, f"{SOURCES}/{source_id}")
    assert client.get(f"{SOURCES}/{source_id}", headers=owner).get_json()["poll_interval_seconds"] == 60
    assert_envelope(client.get(f"{PIPELINES}/{pipelines['1']}", headers=other), 404, "NOT_FOUND")
    assert listed(client, PIPELINES, other)["total"] == 0 and listed(client, SOURCES, other)["total"] == 0
    assert listed(client, SOURCES, owner)["total"] == 3 and listed(client, SOURCES, admin)["total"] == 3
    assert listed(client, PIPELINES, owner)["total"] == 5 and listed(client, PIPELINES, admin)["total"] == 5
    assert client.get(f"{PIPELINES}/{pipelines['1']}", headers=admin).status_code == 200


@pytest.mark.parametrize(("provider", "default"), [("github", "https://api.github.com"),
                                                   ("gitlab", "https://gitlab.com")])
def test_the_api_url_defaults_to_the_providers(client: FlaskClient, auth: Any, provider: str, default: str) -> None:
    """Without DNS (the sandbox) the default host cannot resolve and is refused naming it; with DNS it is kept."""
    response = add_source(client, auth("user"), provider=provider, repository="acme/app", api_url=DROP)
    if response.status_code == 201:
        assert response.get_json()["api_url"] == default
    else:
        error = assert_envelope(response, 422, "VALIDATION_ERROR")["error"]
        assert default.removeprefix("https://") in error["details"]["api_url"][0]


@pytest.mark.parametrize(("provider", "repository"), [("github", "acme/app"), ("github", "acme.io/app_2"),
                                                      ("gitlab", "group/sub/project"), ("gitlab", "12345")])
def test_sources_are_created_and_the_token_never_shown(
        client: FlaskClient, auth: Any, provider: str, repository: str) -> None:
    user = auth("user")
    response = add_source(client, user, provider=provider, repository=repository, deploy_workflow="deploy.yml")
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert (body["provider"], body["repository"], body["api_url"], body["deploy_workflow"]) == (
        provider, repository, PUBLIC, "deploy.yml")
    assert (body["status"], body["poll_interval_seconds"], body["rate_limited_until"]) == ("unknown", 60, None)
    for shown in (response, client.get(f"{SOURCES}/{body['id']}", headers=user), client.get(SOURCES, headers=user)):
        assert CI_TOKEN not in shown.get_data(as_text=True) and '"token"' not in shown.get_data(as_text=True)
    assert_envelope(add_source(client, user, provider=provider, repository=repository), 409, "CONFLICT")
    assert add_source(client, auth("user", username="bob"), provider=provider, repository=repository).status_code == 201


@pytest.mark.parametrize(("body", "field"), [
    ({"repository": "acme"}, "repository"), ({"repository": "acme/app/extra"}, "repository"),
    ({"provider": "gitlab", "repository": "group/"}, "repository"), ({"provider": "bitbucket"}, "provider"),
    ({"provider": DROP}, "provider"), ({"token": DROP}, "token"), ({"api_url": "ftp://93.184.216.34"}, "api_url"),
    ({"api_url": "http://10.0.0.1"}, "api_url"), ({"poll_interval_seconds": 9}, "poll_interval_seconds"),
    ({"branch": "main"}, "branch"),
])
def test_invalid_sources_are_422_and_nothing_is_created(
        client: FlaskClient, auth: Any, body: dict[str, Any], field: str) -> None:
    user = auth("user")
    assert field in assert_envelope(add_source(client, user, **body), 422, "VALIDATION_ERROR")["error"]["details"]
    assert listed(client, SOURCES, user)["total"] == 0


def test_a_source_is_updated_and_deleted_with_its_pipelines(client: FlaskClient, auth: Any) -> None:
    user = auth("user")
    source_id = add_source(client, user).get_json()["id"]
    before = client.get(f"{SOURCES}/{source_id}", headers=user).get_json()
    with db.connection_context():
        CISource.update(etag='"v1"', rate_limited_until=datetime(2030, 1, 1)).where(CISource.id == source_id).execute()
    response = client.patch(f"{SOURCES}/{source_id}", headers=user, json={"token": "ghp_rotated-0123456789"})
    assert response.status_code == 200, response.get_json()
    assert "ghp_rotated" not in response.get_data(as_text=True) and CI_TOKEN not in response.get_data(as_text=True)
    assert response.get_json() == before  # a new identity starts afresh: the back-off is forgotten
    with db.connection_context():
        stored = CISource.get_by_id(source_id)
        assert (stored.token, stored.etag, stored.rate_limited_until) == ("ghp_rotated-0123456789", None, None)
    for bad in ({"poll_interval_seconds": 5}, {"api_url": "http://127.0.0.1"}, {"repository": "x/y"}, {"token": ""}):
        assert_envelope(client.patch(f"{SOURCES}/{source_id}", headers=user, json=bad), 422, "VALIDATION_ERROR")
    changed = client.patch(f"{SOURCES}/{source_id}", headers=user, json={"deploy_workflow": "cd.yml"}).get_json()
    assert changed == {**before, "deploy_workflow": "cd.yml"}
    with db.connection_context():
        Pipeline.create(source=source_id, external_id="9", repository="acme/app", status="success",
                        provider_status="completed")
    assert client.delete(f"{SOURCES}/{source_id}", headers=user).status_code == 204
    assert_envelope(client.get(f"{SOURCES}/{source_id}", headers=user), 404, "NOT_FOUND")
    assert listed(client, PIPELINES, user)["total"] == 0


def test_pipelines_are_listed_newest_first_and_filtered(client: FlaskClient, auth: Any) -> None:
    user = auth("user")
    ids = seed_pipelines("user-user")
    every = listed(client, PIPELINES, user)
    assert [item["external_id"] for item in every["items"]] == ["5", "3", "2", "1", "4"]
    assert (every["total"], every["limit"], every["offset"]) == (5, 20, 0)
    assert every["items"][1]["id"] == ids["3"] and every["items"][1]["provider"] == "github"

    def externals(**query: Any) -> list[str]:
        return [item["external_id"] for item in listed(client, PIPELINES, user, **query)["items"]]

    assert externals(repository="acme/app") == ["3", "2", "1", "4"]
    assert externals(repository="acme/app", branch="main") == ["3", "1", "4"]
    assert externals(status="success") == ["5", "1"]
    assert externals(repository="acme/app", branch="main", status="success") == ["1"]
    assert externals(branch="nowhere") == []
    assert externals(limit=2, offset=1) == ["3", "2"]
    for query in ({"status": "done"}, {"status": "SUCCESS"}, {"limit": 0}, {"limit": 101}):
        assert_envelope(client.get(PIPELINES, headers=user, query_string=query), 422, "VALIDATION_ERROR")


def test_one_pipeline_has_its_commit_and_stages(client: FlaskClient, auth: Any) -> None:
    user = auth("user")
    ids = seed_pipelines("user-user")
    response = client.get(f"{PIPELINES}/{ids['2']}", headers=user)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["commit"], body["stages"]) == ({"sha": "abc2", "message": "change 2", "author": "dev",
                                                 "timestamp": "2026-01-01T09:00:00.000Z"}, STAGES)
    assert (body["repository"], body["branch"], body["status"], body["workflow"], body["is_deploy"]) == (
        "acme/app", "feature", "failed", "ci.yml", False)
    assert body["started_at"] == "2026-01-02T10:00:00.000Z" and body["url"].endswith("/runs/2")
    assert "stages" not in listed(client, PIPELINES, user)["items"][0]
    assert_envelope(client.get(f"{PIPELINES}/{max(ids.values()) + 1000}", headers=user), 404, "NOT_FOUND")
