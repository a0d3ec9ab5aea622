"""Rate-limit tiers (seed 000, "custom limits for premium tiers"): an admin puts a user in a named tier of
RATE_LIMIT_TIERS and that user's per-user limit is the tier's; everyone else is `standard` (RATE_LIMIT_USER)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from api.rate_tiers import UserTiers
from models.db import db
from models.user import User
from tests.conftest import create_user, login
from tests.support.auth import ME, bearer
from tests.support.envelope import assert_error

TIERS = {"RATE_LIMITS_ENABLED": "true", "RATE_LIMIT_USER": "3/minute",
         "RATE_LIMIT_TIERS": "premium=5/minute,partner=50/minute", "RATE_LIMIT_USERS_LIST": "100/minute"}


def signed_in(client: FlaskClient, username: str, role: str = "user") -> dict[str, str]:
    create_user(username, role=role)
    if role == "admin":  # the admin's own requests are not what these tests count
        with db.connection_context():
            User.update(rate_limit_tier="partner").where(User.username == username).execute()
    return bearer(login(client, username)["access_token"])


def put_tier(client: FlaskClient, admin: dict[str, str], username: str, tier: Any) -> Any:
    with db.connection_context():
        user_id = User.get(User.username == username).id
    return client.put(f"/api/v1/users/{user_id}", headers=admin, json={"rate_limit_tier": tier})


def stored_tier(username: str) -> str | None:
    with db.connection_context():
        return User.get(User.username == username).rate_limit_tier  # type: ignore[no-any-return]


def test_a_premium_user_gets_the_tiers_limit_and_a_standard_user_keeps_the_default(
        make_app: Callable[..., Flask]) -> None:
    # given: alice is put in the premium tier by an admin; bob is not
    client = make_app(**TIERS).test_client()
    admin = signed_in(client, "root", role="admin")
    alice, bob = signed_in(client, "alice"), signed_in(client, "bob")
    changed = put_tier(client, admin, "alice", "premium")
    # when
    alice_statuses = [client.get(ME, headers=alice).status_code for _ in range(6)]
    bob_statuses = [client.get(ME, headers=bob).status_code for _ in range(4)]
    # then
    assert changed.status_code == 200 and changed.get_json()["rate_limit_tier"] == "premium"
    assert alice_statuses == [200] * 5 + [429]
    assert bob_statuses == [200] * 3 + [429]
    assert client.get(ME, headers=bob).headers["X-RateLimit-Limit"] == "3"


def test_a_tier_change_applies_to_the_next_request_and_standard_puts_the_user_back(
        make_app: Callable[..., Flask]) -> None:
    client = make_app(**TIERS).test_client()
    admin = signed_in(client, "root", role="admin")
    alice = signed_in(client, "alice")
    assert client.get(ME, headers=alice).headers["X-RateLimit-Limit"] == "3"  # remembered as standard
    put_tier(client, admin, "alice", "partner")
    after_upgrade = client.get(ME, headers=alice)
    put_tier(client, admin, "alice", "standard")
    after_reset = client.get(ME, headers=alice)
    assert after_upgrade.headers["X-RateLimit-Limit"] == "50"
    assert after_upgrade.get_json()["rate_limit_tier"] == "partner"
    assert after_reset.headers["X-RateLimit-Limit"] == "3"
    assert after_reset.get_json()["rate_limit_tier"] == "standard" and stored_tier("alice") is None


def test_an_unknown_or_malformed_tier_is_refused_and_changes_nothing(make_app: Callable[..., Flask]) -> None:
    client = make_app(**TIERS).test_client()
    admin = signed_in(client, "root", role="admin")
    signed_in(client, "alice")
    put_tier(client, admin, "alice", "premium")
    for bad in ("gold", "Premium", "", None, 5, "premium "):
        response = put_tier(client, admin, "alice", bad)
        assert_error(response, 422, "VALIDATION_ERROR")
        assert "rate_limit_tier" in response.get_json()["error"]["details"], bad
    assert stored_tier("alice") == "premium"


def test_an_admin_creates_a_user_in_a_tier(make_app: Callable[..., Flask]) -> None:
    client = make_app(**TIERS).test_client()
    admin = signed_in(client, "root", role="admin")
    made = client.post("/api/v1/users", headers=admin, json={
        "username": "carol", "email": "carol@example.com", "password": "correct-horse", "rate_limit_tier": "partner"})
    refused = client.post("/api/v1/users", headers=admin, json={
        "username": "dave", "email": "dave@example.com", "password": "correct-horse", "rate_limit_tier": "gold"})
    assert made.status_code == 201 and made.get_json()["rate_limit_tier"] == "partner"
    assert stored_tier("carol") == "partner"
    assert_error(refused, 422, "VALIDATION_ERROR")
    with db.connection_context():
        assert User.get_or_none(User.username == "dave") is None


def test_a_non_admin_cannot_change_a_tier(make_app: Callable[..., Flask]) -> None:
    client = make_app(**TIERS).test_client()
    alice = signed_in(client, "alice")
    assert_error(put_tier(client, alice, "alice", "partner"), 403, "FORBIDDEN")
    assert stored_tier("alice") is None


def test_admins_list_the_tiers_with_their_limits_and_users(make_app: Callable[..., Flask]) -> None:
    client = make_app(**TIERS).test_client()
    admin = signed_in(client, "root", role="admin")
    for name in ("alice", "bob", "carol"):
        signed_in(client, name)
    put_tier(client, admin, "alice", "premium")
    put_tier(client, admin, "bob", "premium")
    body = client.get("/api/v1/admin/rate-limit-tiers", headers=admin).get_json()
    assert body["items"] == [{"name": "standard", "limit": "3/minute", "users": 1},
                             {"name": "premium", "limit": "5/minute", "users": 2},
                             {"name": "partner", "limit": "50/minute", "users": 1}]  # the admin
    assert body["route_limits"]["POST /api/v1/builds"] == "10/minute"
    assert body["route_limits"]["GET /api/v1/users"] == "100/minute"


def test_a_tier_no_longer_configured_falls_back_to_the_standard_limit(make_app: Callable[..., Flask]) -> None:
    # given: alice was put in "legacy", a tier since dropped from RATE_LIMIT_TIERS
    client = make_app(**TIERS).test_client()
    alice = signed_in(client, "alice")
    with db.connection_context():
        User.update(rate_limit_tier="legacy").where(User.username == "alice").execute()
    # when
    response = client.get(ME, headers=alice)
    # then
    assert response.status_code == 200 and response.headers["X-RateLimit-Limit"] == "3"


def test_each_process_remembers_a_tier_for_its_cache_time(app: Flask) -> None:
    """Another process's change (here: the row changed underneath) is read once the remembered tier expires."""
    now = [1000.0]
    tiers = UserTiers(ttl=30.0, clock=lambda: now[0])
    alice = create_user("alice")
    with db.connection_context():
        assert tiers.tier_of(alice.id) is None
        User.update(rate_limit_tier="premium").where(User.id == alice.id).execute()
        now[0] += 29.0
        assert tiers.tier_of(alice.id) is None
        now[0] += 1.0
        assert tiers.tier_of(alice.id) == "premium"
