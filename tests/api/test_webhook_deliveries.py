"""Webhook deliveries API: publishing events, test events, the deliveries list, redelivery, deep health.

No worker runs here, so every delivery stays `pending` with its message waiting in Redis."""
from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from api.checks import webhook_summary
from models.db import db
from tests.support.envelope import assert_envelope

PUBLIC = "https://93.184.216.34/hook"


def create(client: FlaskClient, headers: dict[str, str], **body: Any) -> int:
    response = client.post("/api/v1/webhooks", headers=headers, json={"name": "ci", "url": PUBLIC, **body})
    assert response.status_code == 201, response.get_json()
    return int(response.get_json()["id"])


def publish(client: FlaskClient, headers: dict[str, str], **body: Any) -> Any:
    return client.post("/api/v1/events", headers=headers, json=body)


def deliveries(client: FlaskClient, headers: dict[str, str], webhook_id: int, query: str = "") -> Any:
    return client.get(f"/api/v1/webhooks/{webhook_id}/deliveries{query}", headers=headers)


def items(client: FlaskClient, headers: dict[str, str], webhook_id: int) -> list[dict[str, Any]]:
    response = deliveries(client, headers, webhook_id)
    assert response.status_code == 200, response.get_json()
    result: list[dict[str, Any]] = response.get_json()["items"]
    return result


def test_an_event_reaches_only_the_callers_subscribed_active_endpoints(client: FlaskClient, auth: Any) -> None:
    alice, bob, admin = auth("user", username="alice"), auth("user", username="bob"), auth("admin")
    deploys = create(client, alice, events=["deployment.*"])
    builds = create(client, alice, events=["build.*"])
    inactive = create(client, alice, events=["*"], is_active=False)
    bobs, admins = create(client, bob, events=["*"]), create(client, admin, events=["*"])
    assert client.get(f"/api/v1/webhooks/{inactive}", headers=alice).get_json()["is_active"] is False

    response = publish(client, alice, type="deployment.completed", data={"version": "1.2.3"})
    assert response.status_code == 202, response.get_json()
    body = response.get_json()
    assert body["deliveries"] == 1 and isinstance(body["event_id"], int)

    [delivery] = items(client, alice, deploys)
    assert delivery["id"].startswith("msg_") and delivery["event_id"] == body["event_id"]
    assert (delivery["status"], delivery["event_type"], delivery["attempts"]) == ("pending", "deployment.completed", [])
    assert delivery["next_attempt_at"] is not None and delivery["delivered_at"] is None
    assert delivery["last_error"] is None and delivery["created_at"].endswith("Z")
    assert items(client, alice, builds) == [] and items(client, alice, inactive) == []
    assert items(client, bob, bobs) == [] and items(client, admin, admins) == []


@pytest.mark.parametrize(("body", "field"), [
    ({"data": {}}, "type"), ({"type": "Bad Type"}, "type"), ({"type": "nodot"}, "type"),
    ({"type": "a.b\n"}, "type"), ({"type": "a." + "b" * 64}, "type"),
    ({"type": "deployment.completed", "data": [1, 2]}, "data"),
    ({"type": "deployment.completed", "colour": "red"}, "colour"),
])
def test_invalid_events_are_422_and_deliver_nothing(
        client: FlaskClient, auth: Any, body: dict[str, Any], field: str) -> None:
    user = auth("user")
    webhook_id = create(client, user, events=["*"])
    error = assert_envelope(publish(client, user, **body), 422, "VALIDATION_ERROR")["error"]
    assert field in error["details"], error
    assert items(client, user, webhook_id) == []


def test_publishing_needs_a_token_and_the_webhook_permission(client: FlaskClient, auth: Any) -> None:
    assert_envelope(client.post("/api/v1/events", json={"type": "deployment.completed"}), 401, "UNAUTHORIZED")
    assert_envelope(publish(client, auth("viewer"), type="deployment.completed"), 403, "FORBIDDEN")


def test_a_test_event_goes_to_that_endpoint_whatever_it_subscribes_to(client: FlaskClient, auth: Any) -> None:
    owner, other = auth("user"), auth("user", username="mallory")
    webhook_id = create(client, owner, events=["build.*"])
    sibling = create(client, owner, events=["*"])
    response = client.post(f"/api/v1/webhooks/{webhook_id}/test", headers=owner)
    assert response.status_code == 202, response.get_json()
    body = response.get_json()
    assert body["deliveries"] == 1 and body["delivery_id"].startswith("msg_")
    [delivery] = items(client, owner, webhook_id)
    assert delivery["id"] == body["delivery_id"] and delivery["event_id"] == body["event_id"]
    assert (delivery["event_type"], delivery["status"]) == ("webhook.test", "pending")
    assert items(client, owner, sibling) == []

    assert_envelope(client.post(f"/api/v1/webhooks/{webhook_id}/test", headers=other), 404, "NOT_FOUND")
    assert client.put(f"/api/v1/webhooks/{webhook_id}", headers=owner, json={"is_active": False}).status_code == 200
    assert_envelope(client.post(f"/api/v1/webhooks/{webhook_id}/test", headers=owner), 409, "CONFLICT")
    assert len(items(client, owner, webhook_id)) == 1


def test_the_deliveries_list_filters_pages_and_is_owned(client: FlaskClient, auth: Any) -> None:
    owner, other, admin = auth("user"), auth("user", username="mallory"), auth("admin")
    webhook_id = create(client, owner, events=["deployment.*"])
    for n in range(3):
        assert publish(client, owner, type="deployment.started", data={"n": n}).get_json()["deliveries"] == 1

    succeeded = deliveries(client, owner, webhook_id, "?status=succeeded").get_json()
    assert (succeeded["items"], succeeded["total"]) == ([], 0)
    assert deliveries(client, owner, webhook_id, "?status=pending").get_json()["total"] == 3
    error = assert_envelope(deliveries(client, owner, webhook_id, "?status=bogus"), 422, "VALIDATION_ERROR")["error"]
    assert "status" in error["details"]
    assert_envelope(deliveries(client, owner, webhook_id, "?limit=0"), 422, "VALIDATION_ERROR")

    first = deliveries(client, owner, webhook_id, "?limit=2").get_json()
    rest = deliveries(client, owner, webhook_id, "?limit=2&offset=2").get_json()
    assert (len(first["items"]), first["total"], first["limit"], first["offset"]) == (2, 3, 2, 0)
    assert (len(rest["items"]), rest["total"], rest["offset"]) == (1, 3, 2)
    ids = {d["id"] for d in first["items"] + rest["items"]}
    assert ids == {d["id"] for d in items(client, owner, webhook_id)} and len(ids) == 3

    assert_envelope(deliveries(client, other, webhook_id), 404, "NOT_FOUND")
    assert {d["id"] for d in items(client, admin, webhook_id)} == ids
    assert_envelope(deliveries(client, owner, 999_999), 404, "NOT_FOUND")


def test_redelivery_refuses_unknown_foreign_and_in_progress_deliveries(client: FlaskClient, auth: Any) -> None:
    owner, other = auth("user"), auth("user", username="mallory")
    webhook_id = create(client, owner)
    delivery_id = client.post(f"/api/v1/webhooks/{webhook_id}/test", headers=owner).get_json()["delivery_id"]

    assert_envelope(client.post("/api/v1/deliveries/msg_nope/redeliver", headers=owner), 404, "NOT_FOUND")
    assert_envelope(client.post(f"/api/v1/deliveries/{delivery_id}/redeliver", headers=other), 404, "NOT_FOUND")
    assert_envelope(client.post(f"/api/v1/deliveries/{delivery_id}/redeliver", headers=owner), 409, "CONFLICT")
    assert_envelope(client.post(f"/api/v1/deliveries/{delivery_id}/redeliver", headers=auth("admin")),
                    409, "CONFLICT")
    assert client.put(f"/api/v1/webhooks/{webhook_id}", headers=owner, json={"is_active": False}).status_code == 200
    error = assert_envelope(client.post(f"/api/v1/deliveries/{delivery_id}/redeliver", headers=owner),
                            409, "CONFLICT")["error"]
    assert "disabled" in error["message"]
    [delivery] = items(client, owner, webhook_id)
    assert (delivery["status"], delivery["attempts"]) == ("pending", [])


def test_deep_health_counts_endpoints_and_open_deliveries(client: FlaskClient, auth: Any) -> None:
    owner = auth("user")
    for events in (["deployment.*"], ["*"], ["build.*"]):
        create(client, owner, events=events)
    create(client, owner, events=["*"], is_active=False)
    assert publish(client, owner, type="deployment.completed").get_json()["deliveries"] == 2

    expected = {"active": 3, "failing": 0, "disabled": 1, "pending_deliveries": 2, "dead_deliveries": 0}
    with db.connection_context():
        assert webhook_summary() == expected

    response = client.get("/health/deep")
    assert response.status_code == 200, response.get_json()
    # DeepHealthSchema (api/routes/health.py) must declare `webhooks`, or marshmallow drops the section.
    webhooks = response.get_json().get("webhooks")
    assert webhooks is not None, f"no webhooks section in {sorted(response.get_json())}"
    assert webhooks == expected
