"""Alert rules and alerts: threshold and baseline rules fire once per tag set, resolve when the condition
clears, and reach webhooks; the rules and alerts API validates and reports per id."""
from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from core.runtime import Runtime
from domain import alerting
from models.db import db, utc_naive
from tests.support.envelope import assert_envelope
from tests.support.processes import wait_for
from tests.support.receiver import receiving

RULE = {"name": "slow deploys", "metric": "latency", "aggregation": "p95", "comparison": "gt", "threshold": 100,
        "window_minutes": 5, "severity": "CRITICAL"}

pytestmark = pytest.mark.local_receivers


def push(client: FlaskClient, headers: dict[str, str], points: list[dict[str, Any]]) -> None:
    response = client.post("/api/v1/metrics", headers=headers, json={"metrics": points})
    assert response.status_code == 202, response.get_json()


def ago(**delta: float) -> str:
    return (utc_naive() - timedelta(**delta)).isoformat() + "Z"


def rule(client: FlaskClient, headers: dict[str, str], **fields: Any) -> dict[str, Any]:
    response = client.post("/api/v1/alert-rules", headers=headers, json={**RULE, **fields})
    assert response.status_code == 201, response.get_json()
    return response.get_json()  # type: ignore[no-any-return]


def evaluate(runtime: Runtime, minutes_later: float = 0) -> dict[str, int]:
    with db.connection_context():
        return alerting.evaluate(runtime, utc_naive() + timedelta(minutes=minutes_later))


def alerts(client: FlaskClient, headers: dict[str, str], **query: str) -> list[dict[str, Any]]:
    return client.get("/api/v1/alerts", headers=headers, query_string=query).get_json()["items"]  # type: ignore[no-any-return]


def test_a_threshold_rule_fires_once_per_tag_set_and_resolves(runtime: Runtime, client: FlaskClient, auth: Any) -> None:
    user = auth("user")
    made = rule(client, user)
    push(client, user, [{"name": "latency", "value": v, "tags": {"env": "prod"}} for v in [150.0] * 9 + [400.0]])
    push(client, user, [{"name": "latency", "value": 10.0, "tags": {"env": "staging"}}] * 10)
    assert evaluate(runtime) == {"rules": 1, "raised": 1, "resolved": 0}
    assert evaluate(runtime) == {"rules": 1, "raised": 0, "resolved": 0}  # still firing: not raised twice
    [alert] = alerts(client, user)
    assert (alert["rule"], alert["rule_id"], alert["severity"], alert["status"], alert["tags"]) == \
        ("slow deploys", made["id"], "CRITICAL", "pending", {"env": "prod"})
    context = client.get(f"/api/v1/alerts/{alert['id']}", headers=user).get_json()["context"]
    assert context["observed"] == pytest.approx(150 + 0.55 * 250)  # p95 of nine 150s and one 400
    assert (context["threshold"], context["limit"], context["point_count"], context["window_minutes"]) == \
        (100.0, 100.0, 10, 5)
    assert alert["message"] == "latency p95 287.5 > 100 over the last 5 min for env=prod"

    assert evaluate(runtime, minutes_later=6) == {"rules": 1, "raised": 0, "resolved": 1}  # the points left the window
    [resolved] = alerts(client, user)
    assert resolved["status"] == "resolved" and resolved["resolved_at"] is not None
    assert evaluate(runtime, minutes_later=6)["resolved"] == 0


def test_a_baseline_rule_compares_with_the_previous_week(runtime: Runtime, client: FlaskClient, auth: Any) -> None:
    user = auth("user")
    rule(client, user, name="queue grew", metric="queue.time", aggregation="avg", threshold=None,
         baseline_factor=2, window_minutes=10, severity="WARNING")
    history = [{"name": "queue.time", "value": v, "timestamp": ago(days=d), "tags": {"q": "builds"}}
               for d in (1, 2, 3) for v in (8.0, 12.0)]
    now = [{"name": "queue.time", "value": 50.0, "tags": {"q": q}} for q in ("builds", "new")]  # "new": no history
    push(client, user, [*history, *now])
    assert evaluate(runtime)["raised"] == 1
    [alert] = alerts(client, user)
    assert alert["tags"] == {"q": "builds"} and alert["severity"] == "WARNING"
    context = client.get(f"/api/v1/alerts/{alert['id']}", headers=user).get_json()["context"]
    assert (context["observed"], context["baseline"], context["baseline_factor"], context["limit"]) == \
        (50.0, 10.0, 2.0, 20.0)
    push(client, user, [{"name": "queue.time", "value": 1.0, "tags": {"q": "builds"}}] * 9)  # avg now 5.9
    assert evaluate(runtime)["resolved"] == 1 and alerts(client, user, status="resolved")[0]["id"] == alert["id"]


def test_a_count_below_a_threshold(runtime: Runtime, client: FlaskClient, auth: Any) -> None:
    user = auth("user")
    rule(client, user, name="too quiet", metric="heartbeat", aggregation="count", comparison="lt", threshold=5)
    push(client, user, [{"name": "heartbeat", "value": 1.0}] * 2)
    assert evaluate(runtime)["raised"] == 1
    # Later, no points at all in the window: a count of 0 is still below 5, so the alert stays open.
    assert evaluate(runtime, minutes_later=10)["resolved"] == 0 and alerts(client, user)[0]["status"] == "pending"


@pytest.mark.parametrize(("body", "field"), [
    ({"threshold": None}, "threshold"), ({"baseline_factor": 2}, "threshold"),
    ({"aggregation": "median"}, "aggregation"), ({"comparison": "ge"}, "comparison"),
    ({"window_minutes": 0}, "window_minutes"), ({"severity": "LOW"}, "severity"),
    ({"metric": "bad name"}, "metric"), ({"baseline_factor": -1, "threshold": None}, "baseline_factor"),
    ({"colour": "red"}, "colour"),
])
def test_invalid_rules_are_422(client: FlaskClient, auth: Any, body: dict[str, Any], field: str) -> None:
    user = auth("user")
    response = client.post("/api/v1/alert-rules", headers=user, json={**RULE, **body})
    assert field in assert_envelope(response, 422, "VALIDATION_ERROR")["error"]["details"]
    assert client.get("/api/v1/alert-rules", headers=user).get_json()["total"] == 0


def test_rule_crud(client: FlaskClient, auth: Any) -> None:
    user = auth("user")
    made = rule(client, user)
    assert_envelope(client.post("/api/v1/alert-rules", headers=user, json=RULE), 409, "CONFLICT")
    assert_envelope(client.post("/api/v1/alert-rules", headers=auth("viewer"), json=RULE), 403, "FORBIDDEN")
    changed = client.put(f"/api/v1/alert-rules/{made['id']}", headers=user, json={"baseline_factor": 3}).get_json()
    assert (changed["threshold"], changed["baseline_factor"]) == (None, 3.0)
    assert_envelope(client.put(f"/api/v1/alert-rules/{made['id']}", headers=user,
                               json={"baseline_factor": None}), 422, "VALIDATION_ERROR")
    assert client.get(f"/api/v1/alert-rules/{made['id']}", headers=user).get_json()["baseline_factor"] == 3.0
    assert client.delete(f"/api/v1/alert-rules/{made['id']}", headers=user).status_code == 204
    assert_envelope(client.get(f"/api/v1/alert-rules/{made['id']}", headers=user), 404, "NOT_FOUND")


def test_acknowledge_in_bulk_and_resolve_by_hand(runtime: Runtime, client: FlaskClient, auth: Any) -> None:
    user = auth("user")
    rule(client, user, window_minutes=60)
    push(client, user, [{"name": "latency", "value": 500.0, "tags": {"env": env}} for env in ("a", "b", "c")])
    assert evaluate(runtime)["raised"] == 3
    a, b, c = sorted(alert["id"] for alert in alerts(client, user))
    assert client.post(f"/api/v1/alerts/{c}/resolve", headers=user).get_json()["status"] == "resolved"
    assert_envelope(client.post(f"/api/v1/alerts/{c}/resolve", headers=user), 409, "CONFLICT")
    result = client.post("/api/v1/alerts/acknowledge", headers=user, json={"alert_ids": [a, b, c, 999_999]}).get_json()
    assert result == {"acknowledged": 2, "failed": 2, "failures": [{"id": c, "reason": "it is resolved"},
                                                                     {"id": 999_999, "reason": "not found"}]}
    again = client.post("/api/v1/alerts/acknowledge", headers=user, json={"alert_ids": [a]}).get_json()
    assert again == {"acknowledged": 0, "failed": 1, "failures": [{"id": a, "reason": "it is acknowledged"}]}
    assert {x["acknowledged_by"] for x in alerts(client, user, status="acknowledged")} == {"user-user"}
    assert len(alerts(client, user, severity="CRITICAL")) == 3 and alerts(client, user, severity="INFO") == []
    assert_envelope(client.post("/api/v1/alerts/acknowledge", headers=user, json={"alert_ids": []}),
                    422, "VALIDATION_ERROR")
    assert_envelope(client.get("/api/v1/alerts?status=open", headers=user), 422, "VALIDATION_ERROR")
    # Closed by hand while the condition still holds: the next evaluation opens a new alert for it.
    assert evaluate(runtime)["raised"] == 1


def test_acknowledge_one_alert_by_its_id(runtime: Runtime, client: FlaskClient, auth: Any) -> None:
    """The seeds' `POST /alerts/{id}/acknowledge`, beside the bulk route: 200 once, then 409; a missing alert is
    404 and a viewer may not (another user's private alert is 404: tests/security/test_access.py)."""
    user = auth("user")
    rule(client, user, window_minutes=60)
    push(client, user, [{"name": "latency", "value": 500.0, "tags": {"env": env}} for env in ("a", "b")])
    assert evaluate(runtime)["raised"] == 2
    a, b = sorted(alert["id"] for alert in alerts(client, user))
    assert alerts_summary_status(client, user) == {"pending": 2}  # read through the cache before the change

    response = client.post(f"/api/v1/alerts/{a}/acknowledge", headers=user)
    assert response.status_code == 200
    body = response.get_json()
    shown = client.get(f"/api/v1/alerts/{a}", headers=user).get_json()
    assert body == {"message": f"Alert {a} acknowledged", "acknowledged_at": shown["acknowledged_at"]}
    assert (shown["status"], shown["acknowledged_by"]) == ("acknowledged", "user-user")
    assert alerts_summary_status(client, user) == {"pending": 1, "acknowledged": 1}  # the cached view followed

    conflict = assert_envelope(client.post(f"/api/v1/alerts/{a}/acknowledge", headers=user), 409, "CONFLICT")
    assert "acknowledged" in conflict["error"]["message"]
    assert client.post(f"/api/v1/alerts/{b}/resolve", headers=user).status_code == 200
    assert_envelope(client.post(f"/api/v1/alerts/{b}/acknowledge", headers=user), 409, "CONFLICT")
    assert_envelope(client.post("/api/v1/alerts/999999/acknowledge", headers=user), 404, "NOT_FOUND")
    assert_envelope(client.post(f"/api/v1/alerts/{a}/acknowledge", headers=auth("viewer")), 403, "FORBIDDEN")


def alerts_summary_status(client: FlaskClient, headers: dict[str, str]) -> dict[str, int]:
    by_status = client.get("/api/v1/alerts/summary", headers=headers).get_json()["by_status"]
    return {status: n for status, n in by_status.items() if n}


@pytest.mark.slow
def test_the_aggregation_job_runs_the_evaluation_and_alert_created_reaches_a_receiver(
        client: FlaskClient, auth: Any, worker: Any) -> None:
    user, admin = auth("user"), auth("admin")
    with receiving([200]) as receiver:
        hook = client.post("/api/v1/webhooks", headers=user,
                           json={"name": "pager", "url": receiver.url, "events": ["alert.*"]}).get_json()
        rule(client, user)
        push(client, user, [{"name": "latency", "value": 900.0}])
        assert client.post("/api/v1/admin/jobs/aggregate_metrics/run", headers=admin).status_code == 202
        wait_for(lambda: receiver.count() == 1, timeout=30, what="alert.created at the receiver")
    body = json.loads(receiver.requests[0].body)
    assert body["event"] == "alert.created" and body["data"]["severity"] == "CRITICAL"
    assert body["data"]["context"]["observed"] == 900.0 and hook["secret"].startswith("whsec_")
    jobs = {j["name"]: j for j in client.get("/api/v1/admin/jobs", headers=admin).get_json()["items"]}
    assert jobs["evaluate_alerts"]["last_trigger"] == "after aggregate_metrics"
    follower = jobs["evaluate_alerts"]
    assert (follower["after"], follower["interval_seconds"]) == ("aggregate_metrics", None)


def test_switching_off_or_deleting_a_rule_resolves_its_open_alerts(
        runtime: Runtime, client: FlaskClient, auth: Any) -> None:
    user = auth("user")
    paused, gone = rule(client, user, name="paused"), rule(client, user, name="gone")
    push(client, user, [{"name": "latency", "value": 500.0}])
    assert evaluate(runtime)["raised"] == 2
    client.put(f"/api/v1/alert-rules/{paused['id']}", headers=user, json={"is_active": False})
    assert client.delete(f"/api/v1/alert-rules/{gone['id']}", headers=user).status_code == 204
    closed = {a["rule"]: a for a in alerts(client, user)}
    assert {name: a["status"] for name, a in closed.items()} == {"paused": "resolved", "gone": "resolved"}
    assert closed["gone"]["rule_id"] is None
    reasons = {client.get(f"/api/v1/alerts/{a['id']}", headers=user).get_json()["context"]["resolution"]
               for a in closed.values()}
    assert reasons == {"the rule was switched off", "the rule was deleted"}


def test_the_cached_alerts_list_shows_every_change_at_once(runtime: Runtime, client: FlaskClient, auth: Any) -> None:
    """`GET /alerts` is cached per user and query; each write to an alert (raised, acknowledged, resolved by
    hand or by evaluation, its rule deleted) drops the lists it changes, so no read after it is stale."""
    user, admin = auth("user"), auth("admin")
    made = rule(client, user, window_minutes=5)

    def both() -> list[list[dict[str, Any]]]:  # read twice: the second is served from the cache
        first, second = alerts(client, user), alerts(client, admin)
        assert alerts(client, user) == first and alerts(client, admin) == second
        return [first, second]

    assert both() == [[], []]
    push(client, user, [{"name": "latency", "value": 500.0, "tags": {"env": env}} for env in ("a", "b")])
    assert evaluate(runtime)["raised"] == 2
    for seen in both():
        assert sorted(a["status"] for a in seen) == ["pending", "pending"]
    a, b = sorted(x["id"] for x in alerts(client, user))
    client.post("/api/v1/alerts/acknowledge", headers=user, json={"alert_ids": [a]})
    assert [{x["id"]: x["status"] for x in seen}[a] for seen in both()] == ["acknowledged"] * 2
    client.post(f"/api/v1/alerts/{b}/resolve", headers=user)
    assert [{x["id"]: x["status"] for x in seen}[b] for seen in both()] == ["resolved"] * 2
    assert evaluate(runtime, minutes_later=6)["resolved"] == 1  # `a`'s points left the window
    assert [{x["id"]: x["status"] for x in seen}[a] for seen in both()] == ["resolved"] * 2
    assert alerts(client, user, status="pending") == []
    assert client.delete(f"/api/v1/alert-rules/{made['id']}", headers=user).status_code == 204
    assert [{x["rule_id"] for x in seen} for seen in both()] == [{None}, {None}]


def test_the_cached_alert_shape_is_the_documented_one(runtime: Runtime, client: FlaskClient, auth: Any) -> None:
    from api.schemas.alerts import AlertSchema
    from domain import cache_views
    from models.alert import Alert

    user = auth("user")
    rule(client, user)
    push(client, user, [{"name": "latency", "value": 500.0}])
    assert evaluate(runtime)["raised"] == 1
    [listed] = alerts(client, user)
    client.post("/api/v1/alerts/acknowledge", headers=user, json={"alert_ids": [listed["id"]]})
    client.post(f"/api/v1/alerts/{listed['id']}/resolve", headers=user)
    with db.connection_context():
        alert = Alert.get_by_id(listed["id"])
        assert alert.acknowledged_at and alert.resolved_at
        assert cache_views.alert_item(alert) == AlertSchema().dump(alert)


def test_alerts_carry_the_seeds_names_and_their_last_change(runtime: Runtime, client: FlaskClient,
                                                            auth: Any) -> None:
    """Seed 000's `operation_type`, seed 003's `name`, `description` and `updated_at`, beside the contract's."""
    user = auth("user")
    rule(client, user, window_minutes=60)
    push(client, user, [{"name": "latency", "value": 500.0, "tags": {"env": "a"}}])
    assert evaluate(runtime)["raised"] == 1
    [listed] = alerts(client, user)
    assert (listed["name"], listed["description"], listed["operation_type"]) == (
        listed["rule"], listed["message"], listed["metric"])
    assert listed["operation_type"] == "latency" and listed["updated_at"] == listed["created_at"]
    client.post(f"/api/v1/alerts/{listed['id']}/acknowledge", headers=user)
    shown = client.get(f"/api/v1/alerts/{listed['id']}", headers=user).get_json()
    assert shown["updated_at"] == shown["acknowledged_at"] > shown["created_at"]
    assert alerts(client, user)[0]["updated_at"] == shown["updated_at"]  # the cached list follows
    client.post(f"/api/v1/alerts/{listed['id']}/resolve", headers=user)
    assert client.get(f"/api/v1/alerts/{listed['id']}", headers=user).get_json()["updated_at"] > shown["updated_at"]
