"""The read cache: per-user entries shared by API processes through Redis, hit/miss/eviction counts,
invalidation by the writes that change an entry, warming by the worker, and the manual controls."""
from __future__ import annotations

from typing import Any

import pytest
import redis
from flask.testing import FlaskClient

from api.schemas.webhooks import WebhookSchema
from core.runtime import Runtime
from domain import alerting, cache_views
from models.db import db
from models.webhook import WebhookEndpoint
from tests.conftest import create_user, login
from tests.support.envelope import assert_envelope

HOOK = {"name": "ci", "url": "https://93.184.216.34/hook", "events": ["build.*"]}


def stats(client: FlaskClient, headers: dict[str, str]) -> dict[str, Any]:
    response = client.get("/api/v1/cache/stats", headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()  # type: ignore[no-any-return]


def names(client: FlaskClient, headers: dict[str, str]) -> list[str]:
    return [w["name"] for w in client.get("/api/v1/webhooks", headers=headers).get_json()["items"]]


def test_hits_and_misses_are_counted_across_api_processes(make_app: Any) -> None:
    first, second = make_app().test_client(), make_app().test_client()
    create_user("reader")
    headers = {"Authorization": f"Bearer {login(first, 'reader')['access_token']}"}
    first.get("/api/v1/webhooks", headers=headers)  # a miss, stored
    second.get("/api/v1/webhooks", headers=headers)  # the other process finds it: a hit
    second.get("/api/v1/webhooks", headers=headers, query_string={"limit": "5"})  # another query: a miss
    figures = stats(first, headers)
    assert (figures["cache_hits"], figures["cache_misses"], figures["total_requests"]) == (1, 2, 3)
    assert figures["hit_rate"] == pytest.approx(1 / 3, abs=1e-4)
    assert figures["current_size_bytes"] > 0 and figures["max_size_bytes"] == 64 * 1024 * 1024
    assert stats(second, headers) == figures


@pytest.mark.parametrize("cached", [0, 1, 1234])
def test_the_size_sums_every_cache_key_across_scan_batches(redis_client: redis.Redis, cached: int) -> None:
    """`stats` walks the keyspace in SCAN batches of 500, pipelined with each batch's MEMORY USAGE: over
    several batches, among other keys, it counts each cache key once and nothing else."""
    from core import cache

    pipe = redis_client.pipeline(transaction=False)
    for i in range(1500):
        pipe.set(f"conveyor:other:{i}", "x" * 50)
    for i in range(cached):
        pipe.set(f"{cache.PREFIX}webhooks_list:u{i}:{i:016x}", "y" * (i % 300))
    pipe.execute()
    expected = sum(int(redis_client.memory_usage(name) or 0) for name in redis_client.scan_iter(cache.PREFIX + "*"))
    figures = cache.stats(redis_client, 1000, cache.ENTRIES)
    assert figures["current_size_bytes"] == expected and (expected > 0) == (cached > 0)
    assert figures["max_size_bytes"] == 1000 and figures["total_requests"] == 0


@pytest.mark.parametrize("scopes", [["o1"], None], ids=["that-scope", "every-scope"])
def test_a_value_built_while_its_entry_was_invalidated_is_not_stored(
        redis_client: redis.Redis, scopes: list[str] | None) -> None:
    """A read that began before a write and finished after the write's invalidation must not keep the old value
    for a whole TTL: the next read builds it again (and stores that one). Another scope is not held back."""
    from core import cache

    built: list[str] = []

    def build_during_a_write(value: str, scope: str = "o1") -> Any:
        built.append(value)
        # the write commits and invalidates meanwhile (its organization's, or every one's)
        cache.invalidate(redis_client, "repository", None if scopes is None else [scope])
        return {"status": value}

    def build(value: str) -> Any:
        built.append(value)
        return {"status": value}

    read = cache.cached_json
    assert read(redis_client, "repository", "o1", {"id": 1}, lambda: build_during_a_write("unknown"), 900) == \
        '{"status":"unknown"}'  # the reader gets what it built ...
    assert redis_client.get(cache.key("repository", "o1", {"id": 1})) is None  # ... but it is not kept
    assert read(redis_client, "repository", "o1", {"id": 1}, lambda: build("ok"), 900) == '{"status":"ok"}'
    assert read(redis_client, "repository", "o1", {"id": 1}, lambda: build("later"), 900) == '{"status":"ok"}'
    assert read(redis_client, "repository", "o2", {"id": 2}, lambda: build("other"), 900) == '{"status":"other"}'
    assert read(redis_client, "repository", "o2", {"id": 2}, lambda: build("again"), 900) == '{"status":"other"}'
    assert built == ["unknown", "ok", "other"]
    # The warmer too.
    assert not cache.store(redis_client, "repository", "o3", None, lambda: build_during_a_write("stale", "o3"), 900)
    assert redis_client.get(cache.key("repository", "o3")) is None
    assert cache.store(redis_client, "repository", "o3", None, lambda: build("fresh"), 900)
    assert redis_client.get(cache.key("repository", "o3")) == '{"status":"fresh"}'


def test_a_cached_list_is_never_another_users(client: FlaskClient, auth: Any) -> None:
    alice, bob, admin = auth("user", "alice"), auth("user", "bob"), auth("admin")
    assert client.post("/api/v1/webhooks", headers=alice, json=HOOK).status_code == 201
    assert names(client, alice) == ["ci"] and names(client, alice) == ["ci"]
    assert names(client, bob) == []
    assert names(client, admin) == ["ci"]


def test_each_webhook_write_refreshes_the_list_at_once(client: FlaskClient, auth: Any) -> None:
    user, admin = auth("user"), auth("admin")
    assert names(client, user) == [] and names(client, admin) == []  # both cached, empty
    created = client.post("/api/v1/webhooks", headers=user, json=HOOK).get_json()
    assert names(client, user) == ["ci"] and names(client, admin) == ["ci"]
    assert client.put(f"/api/v1/webhooks/{created['id']}", headers=user, json={"name": "renamed"}).status_code == 200
    assert names(client, user) == ["renamed"] and names(client, admin) == ["renamed"]
    assert client.delete(f"/api/v1/webhooks/{created['id']}", headers=user).status_code == 204
    assert names(client, user) == [] and names(client, admin) == []
    assert stats(client, user)["evicted_entries"] >= 6


def summary(client: FlaskClient, headers: dict[str, str]) -> dict[str, Any]:
    response = client.get("/api/v1/alerts/summary", headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()  # type: ignore[no-any-return]


def test_the_alerts_summary_follows_raising_acknowledging_and_resolving(
        runtime: Runtime, client: FlaskClient, auth: Any) -> None:
    user = auth("user")
    assert summary(client, user)["open"] == 0
    assert client.post("/api/v1/alert-rules", headers=user, json={
        "name": "hot", "metric": "hot.metric", "aggregation": "max", "comparison": "gt", "threshold": 1,
        "window_minutes": 5, "severity": "CRITICAL"}).status_code == 201
    client.post("/api/v1/metrics", headers=user, json={"metrics": [{"name": "hot.metric", "value": 5}]})
    with db.connection_context():
        assert alerting.evaluate(runtime)["raised"] == 1
    raised = summary(client, user)
    assert raised["open"] == 1 and raised["by_severity"]["CRITICAL"] == 1 and raised["by_status"]["pending"] == 1
    alert_id = raised["latest"][0]["id"]
    client.post("/api/v1/alerts/acknowledge", headers=user, json={"alert_ids": [alert_id]})
    assert summary(client, user)["by_status"] == {"pending": 0, "acknowledged": 1}
    assert client.post(f"/api/v1/alerts/{alert_id}/resolve", headers=user).status_code == 200
    assert summary(client, user)["open"] == 0


def test_the_dashboard_follows_the_users_builds(client: FlaskClient, auth: Any, repo: Any) -> None:
    user = auth("user")
    assert client.get("/api/v1/dashboard", headers=user).get_json()["tasks_last_day"] == {}
    assert client.post("/api/v1/projects", headers=user, json={
        "name": "app", "repo_url": str(repo), "build_steps": [{"name": "t", "run": "true"}]}).status_code == 201
    assert client.post("/api/v1/builds", headers=user, json={"project_name": "app"}).status_code == 202
    board = client.get("/api/v1/dashboard", headers=user).get_json()
    assert board["tasks_last_day"] == {"queued": 1} and board["recent_tasks"][0]["status"] == "queued"
    recent = board["recent_tasks"][0]
    assert (recent["started_at"], recent["finished_at"], recent["duration_seconds"]) == (None, None, None)


def test_the_cached_webhook_shape_is_the_documented_one(client: FlaskClient, auth: Any) -> None:
    created = client.post("/api/v1/webhooks", headers=auth("user"), json=HOOK).get_json()
    with db.connection_context():
        endpoint = WebhookEndpoint.get_by_id(created["id"])
        assert cache_views.webhook_item(endpoint) == WebhookSchema().dump(endpoint)


def test_invalidate_by_key_and_by_pattern_with_scan(client: FlaskClient, auth: Any,
                                                    redis_client: redis.Redis) -> None:
    user, admin = auth("user"), auth("admin")
    for headers in (user, admin):
        names(client, headers)
        summary(client, headers)
    redis_client.config_resetstat()
    done = client.post("/api/v1/cache/invalidate", headers=admin, json={"keys": ["webhooks_list"]}).get_json()
    assert done == {"invalidated": 2, "total_entries": 2}
    done = client.post("/api/v1/cache/invalidate", headers=admin, json={"pattern": "alerts_*"}).get_json()
    assert done == {"invalidated": 2, "total_entries": 0}
    commands = redis_client.info("commandstats")
    assert "cmdstat_scan" in commands and "cmdstat_keys" not in commands and "cmdstat_unlink" in commands


@pytest.mark.parametrize("body", [{}, {"keys": []}, {"keys": ["nope"]}, {"pattern": ""}, {"pattern": "a b"},
                                  {"keys": ["dashboard"], "extra": 1}, {"pattern": None}])
def test_bad_invalidations_are_refused(client: FlaskClient, auth: Any, body: dict[str, Any]) -> None:
    assert_envelope(client.post("/api/v1/cache/invalidate", headers=auth("admin"), json=body), 422,
                    "VALIDATION_ERROR")


def test_only_admins_warm_or_invalidate(client: FlaskClient, auth: Any) -> None:
    user = auth("user")
    assert_envelope(client.post("/api/v1/cache/warm", headers=user), 403, "FORBIDDEN")
    assert_envelope(client.post("/api/v1/cache/invalidate", headers=user, json={"pattern": "*"}), 403, "FORBIDDEN")
    assert_envelope(client.get("/api/v1/cache/stats"), 401, "UNAUTHORIZED")


def test_warm_runs_the_job_and_later_reads_hit(client: FlaskClient, auth: Any, worker: Any) -> None:
    user, admin = auth("user"), auth("admin")
    client.post("/api/v1/webhooks", headers=user, json=HOOK)
    client.post("/api/v1/cache/invalidate", headers=admin, json={"pattern": "*"})
    response = client.post("/api/v1/cache/warm", headers=admin)
    assert response.status_code == 200, response.get_json()
    warmed = response.get_json()
    assert warmed["status"] == "success" and warmed["warmed_entries"] == 8  # 4 entries for 2 users
    before = stats(client, user)
    assert names(client, user) == ["ci"] and summary(client, user)["open"] == 0
    client.get("/api/v1/dashboard", headers=user)
    assert client.get("/api/v1/alerts", headers=user).get_json()["total"] == 0
    after = stats(client, user)
    assert after["cache_hits"] - before["cache_hits"] == 4 and after["cache_misses"] == before["cache_misses"]


def test_every_ttl_is_a_setting_used_on_read_and_on_warm_and_shown_in_stats(
        make_app: Any, redis_client: redis.Redis) -> None:
    app = make_app(CACHE_TTL_WEBHOOKS_LIST="7", CACHE_TTL_DASHBOARD="900")
    client = app.test_client()
    create_user("ttl-reader")
    headers = {"Authorization": f"Bearer {login(client, 'ttl-reader')['access_token']}"}
    client.get("/api/v1/webhooks", headers=headers)
    client.get("/api/v1/dashboard", headers=headers)
    ttls = {name.split(":")[2]: redis_client.ttl(name) for name in redis_client.scan_iter("conveyor:cache:*")}
    assert 0 < ttls["webhooks_list"] <= 7 and 890 < ttls["dashboard"] <= 900
    assert stats(client, headers)["ttl_seconds"] == {"webhooks_list": 7, "alerts_summary": 60, "alerts_list": 60,
                                                     "dashboard": 900, "team": 1800, "repository": 900,
                                                     "engineering_figures": 300}
    redis_client.flushdb()
    create_user("ttl-admin", role="admin")  # the warm builds views for admins and users with something to see
    with db.connection_context():
        assert cache_views.warm(redis_client, app.extensions["conveyor"].settings.cache_ttls) > 0
    warmed = {name.split(":")[2]: redis_client.ttl(name) for name in redis_client.scan_iter("conveyor:cache:*")}
    assert 0 < warmed["webhooks_list"] <= 7 and 890 < warmed["dashboard"] <= 900 and warmed["alerts_list"] <= 60
