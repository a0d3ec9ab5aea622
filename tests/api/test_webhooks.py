"""Webhook endpoints API: validation, the SSRF guard at creation, the secret shown once, ownership."""
from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.support.envelope import assert_envelope

PUBLIC = "https://93.184.216.34/hooks/conveyor"


def create(client: FlaskClient, headers: dict[str, str], **body: Any) -> Any:
    return client.post("/api/v1/webhooks", headers=headers, json={"name": "ci", "url": PUBLIC, **body})


def test_create_answers_defaults_and_the_secret_once(client: FlaskClient, auth: Any) -> None:
    user = auth("user")
    response = create(client, user, events=["build.*", "alert.created"])
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["secret"].startswith("whsec_")
    assert body["retry_policy"] == {"max_retries": 5, "backoff_base": 2.0, "max_backoff": 3600}
    assert (body["timeout_seconds"], body["ssl_verify"], body["rate_limit_per_hour"]) == (30, True, 1000)
    assert (body["is_active"], body["failure_count"], body["last_used_at"]) == (True, 0, None)
    assert body["events"] == ["build.*", "alert.created"] and body["created_by"] == "user-user"
    shown = client.get(f"/api/v1/webhooks/{body['id']}", headers=user).get_json()
    listed = client.get("/api/v1/webhooks", headers=user).get_json()
    assert "secret" not in shown and all("secret" not in item for item in listed["items"])
    assert body["secret"] not in str(shown) + str(listed)


def test_a_supplied_secret_is_kept_and_a_bad_one_refused(client: FlaskClient, auth: Any) -> None:
    user = auth("user")
    secret = "whsec_" + "A" * 44
    assert create(client, user, secret=secret).get_json()["secret"] == secret
    assert_envelope(create(client, user, secret="not-whsec"), 422, "VALIDATION_ERROR")


@pytest.mark.parametrize(("body", "field"), [
    ({"url": "ftp://93.184.216.34/x"}, "url"), ({"url": "not a url"}, "url"), ({"name": ""}, "name"),
    ({"timeout_seconds": 0}, "timeout_seconds"), ({"timeout_seconds": 61}, "timeout_seconds"),
    ({"retry_policy": {"max_retries": 21}}, "retry_policy"), ({"retry_policy": {"backoff_base": 0.5}}, "retry_policy"),
    ({"events": ["Build.*"]}, "events"), ({"events": []}, "events"), ({"events": ["build.*\n"]}, "events"),
    ({"rate_limit_per_hour": 0}, "rate_limit_per_hour"), ({"colour": "red"}, "colour"),
])
def test_invalid_endpoints_are_422_and_nothing_is_created(
        client: FlaskClient, auth: Any, body: dict[str, Any], field: str) -> None:
    user = auth("user")
    error = assert_envelope(create(client, user, **body), 422, "VALIDATION_ERROR")["error"]
    assert field in error["details"]
    assert client.get("/api/v1/webhooks", headers=user).get_json()["total"] == 0


@pytest.mark.parametrize("url", ["http://127.0.0.1:9000/hook", "http://localhost/hook", "http://10.0.0.5/",
                                 "http://169.254.169.254/latest", "http://[::1]/hook"])
def test_internal_targets_are_refused_at_creation(client: FlaskClient, auth: Any, url: str) -> None:
    error = assert_envelope(create(client, auth("user"), url=url), 422, "VALIDATION_ERROR")["error"]
    assert "Refused" in error["details"]["url"][0]


def test_allow_private_lets_local_receivers_in(make_app: Any, auth: Any) -> None:
    client = make_app(WEBHOOK_ALLOW_PRIVATE="true").test_client()
    from tests.conftest import create_user, login

    create_user("local-dev")
    headers = {"Authorization": f"Bearer {login(client, 'local-dev')['access_token']}"}
    assert create(client, headers, url="http://127.0.0.1:9000/hook").status_code == 201


def test_owners_update_and_delete_and_others_get_404(client: FlaskClient, auth: Any) -> None:
    owner, other, admin = auth("user"), auth("user", username="mallory"), auth("admin")
    webhook_id = create(client, owner).get_json()["id"]
    for method in ("get", "put", "delete"):
        response = getattr(client, method)(f"/api/v1/webhooks/{webhook_id}", headers=other, json={"name": "x"})
        assert_envelope(response, 404, "NOT_FOUND")
    assert client.get("/api/v1/webhooks", headers=other).get_json()["total"] == 0
    updated = client.put(f"/api/v1/webhooks/{webhook_id}", headers=owner,
                         json={"is_active": False, "retry_policy": {"max_retries": 2}})
    assert updated.status_code == 200
    assert updated.get_json()["is_active"] is False and updated.get_json()["retry_policy"]["max_retries"] == 2
    assert_envelope(client.put(f"/api/v1/webhooks/{webhook_id}", headers=owner, json={"url": "http://10.0.0.1/"}),
                    422, "VALIDATION_ERROR")
    assert client.get(f"/api/v1/webhooks/{webhook_id}", headers=admin).status_code == 200
    assert client.delete(f"/api/v1/webhooks/{webhook_id}", headers=owner).status_code == 204
    assert client.get(f"/api/v1/webhooks/{webhook_id}", headers=owner).status_code == 404


def test_viewers_cannot_manage_webhooks(client: FlaskClient, auth: Any) -> None:
    assert_envelope(create(client, auth("viewer")), 403, "FORBIDDEN")


def test_a_partial_retry_policy_update_keeps_the_other_values(client: FlaskClient, auth: Any) -> None:
    owner = auth("user")
    webhook_id = create(client, owner, retry_policy={"max_retries": 7, "backoff_base": 3.0, "max_backoff": 60}
                        ).get_json()["id"]
    updated = client.put(f"/api/v1/webhooks/{webhook_id}", headers=owner, json={"retry_policy": {"max_retries": 2}})
    assert updated.get_json()["retry_policy"] == {"max_retries": 2, "backoff_base": 3.0, "max_backoff": 60}
