"""Seed 002's caches: a team (30 min), a repository (15 min) and an organization's developer figures (5 min) are
cached per organization, shared by its members, and dropped by the writes and the ingestion that change them."""
from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from typing import Any

import redis
from flask.testing import FlaskClient

from models.activity import Commit
from models.db import db

PUBLIC_API = "https://93.184.216.34"


def hits(redis_client: redis.Redis) -> int:
    return int(redis_client.hget("conveyor:cache-stats", "hits") or 0)


def made(client: FlaskClient, headers: dict[str, str]) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    org = client.post("/api/v1/organizations", headers=headers, json={"name": "Acme"}).get_json()
    team = client.post("/api/v1/teams", headers=headers, json={"organization_id": org["id"], "name": "Core"})
    repo = client.post("/api/v1/repositories", headers=headers, json={
        "team_id": team.get_json()["id"], "provider": "github", "url": "https://github.com/acme/api",
        "api_url": PUBLIC_API})
    return org, team.get_json(), repo.get_json()


def push(client: FlaskClient, repo: dict[str, Any], delivery: str) -> int:
    body = json.dumps({"ref": "refs/heads/main", "commits": [{
        "id": hashlib.sha1(delivery.encode()).hexdigest(), "message": "Change",  # noqa: S324 (a sha, not security)
        "timestamp": datetime.now(UTC).isoformat(), "author": {"name": "Ada", "email": "ada@example.com",
                                                              "username": "ada"}}]}).encode()
    signature = "sha256=" + hmac.new(repo["hook_secret"].encode(), body, hashlib.sha256).hexdigest()
    return client.post(f"/api/v1/repositories/{repo['id']}/hooks/github", data=body, headers={
        "Content-Type": "application/json", "X-Hub-Signature-256": signature, "X-GitHub-Event": "push",
        "X-GitHub-Delivery": delivery}).status_code


def test_a_teams_detail_is_served_from_the_cache_until_a_write_changes_it(
        client: FlaskClient, auth: Any, redis_client: redis.Redis) -> None:
    owner = auth("user", "owner")
    _, team, _ = made(client, owner)
    first = client.get(f"/api/v1/teams/{team['id']}", headers=owner).get_json()
    before = hits(redis_client)
    second = client.get(f"/api/v1/teams/{team['id']}", headers=owner).get_json()
    assert hits(redis_client) == before + 1 and second == first
    client.put(f"/api/v1/teams/{team['id']}", headers=owner, json={"name": "Core platform"})
    assert client.get(f"/api/v1/teams/{team['id']}", headers=owner).get_json()["name"] == "Core platform"


def test_ingested_activity_refreshes_the_cached_repository_and_figures(
        client: FlaskClient, auth: Any, worker: Any) -> None:
    """The worker that stores a hook's commits drops the organization's cached views: the repository's
    statistics and the developers' figures show the commit at once, not after their TTL."""
    owner = auth("user", "owner")
    org, _, repo = made(client, owner)
    assert client.get(f"/api/v1/repositories/{repo['id']}", headers=owner).get_json()["statistics"]["commits"] == 0
    assert client.get(f"/api/v1/developers?organization_id={org['id']}", headers=owner).get_json()["total"] == 0
    assert push(client, repo, "delivery-1") == 202
    deadline = time.monotonic() + 15  # well inside the entries' TTLs: only the worker's drop refreshes them
    while time.monotonic() < deadline:
        detail = client.get(f"/api/v1/repositories/{repo['id']}", headers=owner).get_json()
        if detail["statistics"]["commits"]:
            break
        time.sleep(0.2)
    with db.connection_context():
        assert Commit.select().count() == 1
    developers = client.get(f"/api/v1/developers?organization_id={org['id']}", headers=owner).get_json()
    assert detail["statistics"]["commits"] == 1
    assert [d["metrics"]["commits_last_30d"] for d in developers["items"]] == [1]


def test_cache_stats_show_the_engineering_ttls(client: FlaskClient, auth: Any) -> None:
    ttls = client.get("/api/v1/cache/stats", headers=auth("admin")).get_json()["ttl_seconds"]
    assert (ttls["team"], ttls["repository"], ttls["engineering_figures"]) == (1800, 900, 300)
