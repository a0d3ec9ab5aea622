"""Access control over every route, enumerated from the app's url_map (OWASP API1 BOLA, API5 BFLA).

A user (bob) tries every method of every route that names another user's (alice's) object: a private
object answers 404 as if absent, a shared one 403 on writes; no list shows him alice's objects. A user
and a viewer get 403 on every admin route, and a viewer on every write. The routes' needs come from
`auth_required` (`required_permission` on each view), so a new route is covered without editing here.
"""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from api.auth.permissions import permissions_for
from models.activity import HookDelivery
from models.db import db
from models.user import User
from tests.security.world import ADMIN, FILES, PRIVATE, ROUTES, SHARED, SIGNED, WRITES, World, build_world
from tests.support.envelope import assert_envelope

SAFE = {"GET", "HEAD", "OPTIONS"}
# The only /api/v1 routes without a token: logging in (with a password, or with GitHub: its start and its
# callback), and the hooks providers sign (SIGNED in world.py).
PUBLIC_API = {"/api/v1/auth/login", "/api/v1/auth/refresh", "/api/v1/auth/github", "/api/v1/auth/github/callback",
              "/api/v1/repositories/<int:repository_id>/hooks/github",
              "/api/v1/repositories/<int:repository_id>/hooks/gitlab"}
DORA_QUERY = "?start_date={year_ago}&end_date={today}"  # required arguments
LIST_QUERIES = {"/api/v1/analytics/dora": DORA_QUERY, "/api/v1/analytics/dora-metrics": DORA_QUERY,
                "/api/v1/analytics/cycle-time": DORA_QUERY, "/api/v1/analytics/pull-requests": DORA_QUERY}
# Routes that name their object in a required query argument, not in the path: argument and kind of object.
QUERY_OBJECTS = {"/api/v1/analytics/velocity": ("team_id", "team")}
NOT_NEEDED = object()


def methods(rule: Any) -> list[str]:
    return sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})


def needs(app: Flask, rule: Any, method: str) -> Any:
    """The permission a route's method needs (None: any signed-in user); NOT_NEEDED when it needs no token."""
    view = app.view_functions[rule.endpoint]
    handler = getattr(view.view_class, method.lower()) if hasattr(view, "view_class") else view
    return getattr(handler, "required_permission", NOT_NEEDED)


def api_routes(app: Flask) -> Iterator[tuple[Any, str]]:
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.rule.startswith("/api/v1/") and not rule.rule.startswith("/api/v1/ws/"):
            for method in methods(rule):
                yield rule, method


def user_id(username: str) -> int:
    with db.connection_context():
        return int(User.get(User.username == username).id)


@pytest.fixture
def world(client: FlaskClient, auth: Any) -> World:
    return build_world(client, auth("user", "alice"), user_id("alice"))


def call(client: FlaskClient, method: str, path: str, headers: dict[str, str], rule: str) -> Any:
    return client.open(path, method=method, headers=headers, json=WRITES.get((method, rule), {}))


def snapshot(app: Flask, client: FlaskClient, world: World, headers: dict[str, str]) -> dict[str, Any]:
    """What the owner reads at every GET route that names one of their objects."""
    return {rule.rule: client.get(world.path(rule.rule), headers=headers).get_json()
            for rule in app.url_map.iter_rules()
            if "GET" in (rule.methods or ()) and ROUTES.get(rule.rule, (None,))[0] in (PRIVATE, SHARED)}


def test_every_route_with_a_path_parameter_is_known_to_this_suite(app: Flask) -> None:
    with_parameters = {rule.rule for rule in app.url_map.iter_rules() if rule.arguments}
    unknown = with_parameters - set(ROUTES)
    assert not unknown, f"new routes: say in tests/security/world.py whose object each names: {sorted(unknown)}"
    assert set(ROUTES) - with_parameters == set(), "routes that no longer exist: drop them from ROUTES"


def test_every_api_route_needs_a_token_and_says_which_permission(app: Flask, client: FlaskClient) -> None:
    world = World(values={"build": str(uuid.uuid4()), "analysis": str(uuid.uuid4()), **dict.fromkeys(
        ("project", "webhook", "delivery", "rule", "alert", "cluster", "source", "pipeline", "user", "job",
         "organization", "team", "repository", "developer", "pull_request", "api_key"), "1"), "sprint": "sprint-1"})
    checked = 0
    for rule, method in api_routes(app):
        if rule.rule in PUBLIC_API:
            assert needs(app, rule, method) is NOT_NEEDED
            continue
        assert needs(app, rule, method) is not NOT_NEEDED, f"{method} {rule.rule} has no auth_required"
        path = world.path(rule.rule) if rule.arguments else rule.rule
        assert_envelope(client.open(path, method=method, json={}), 401, "UNAUTHORIZED")
        checked += 1
    assert checked >= 60


def test_another_users_private_objects_answer_404_to_every_method(
        app: Flask, client: FlaskClient, auth: Any, world: World) -> None:
    alice, bob, admin = auth("user", "alice"), auth("user", "bob"), auth("admin")
    before = snapshot(app, client, world, alice)
    tried = []
    for rule in app.url_map.iter_rules():
        if ROUTES.get(rule.rule, (None,))[0] != PRIVATE:
            continue
        for method in methods(rule):
            response = call(client, method, world.path(rule.rule), bob, rule.rule)
            assert response.status_code == 404, (method, rule.rule, response.get_json())
            assert_envelope(response, 404, "NOT_FOUND")
            tried.append(f"{method} {rule.rule}")
    assert len(tried) >= 18, tried
    assert snapshot(app, client, world, alice) == before  # nothing bob tried changed anything
    # The objects are there: their owner and an admin reach every one of them.
    for rule in app.url_map.iter_rules():
        if ROUTES.get(rule.rule, (None,))[0] == PRIVATE and "GET" in (rule.methods or ()):
            for headers in (alice, admin):
                assert client.get(world.path(rule.rule), headers=headers).status_code == 200, rule.rule


def test_signed_routes_refuse_any_delivery_without_the_objects_signature(
        app: Flask, client: FlaskClient, auth: Any, world: World) -> None:
    """The hooks take no token (a token, even the owner's, is no signature) and store nothing unsigned."""
    alice = auth("user", "alice")
    signed = [rule.rule for rule in app.url_map.iter_rules() if ROUTES.get(rule.rule, (None,))[0] == SIGNED]
    assert len(signed) == 2
    for rule in signed:
        for headers in ({}, alice, {**alice, "X-Hub-Signature-256": "sha256=" + "0" * 64, "X-Gitlab-Token": "guess"}):
            response = client.post(world.path(rule), headers={**headers, "X-GitHub-Event": "push",
                                                               "X-GitHub-Delivery": "d", "X-Gitlab-Event-UUID": "d"},
                                    json={"commits": []})
            assert_envelope(response, 401, "UNAUTHORIZED")
    with db.connection_context():
        assert HookDelivery.select().count() == 0


def test_shared_objects_are_read_by_all_but_changed_only_by_their_creator(
        app: Flask, client: FlaskClient, auth: Any, world: World) -> None:
    alice, bob, viewer = auth("user", "alice"), auth("user", "bob"), auth("viewer")
    before = snapshot(app, client, world, alice)
    shared = [rule for rule in app.url_map.iter_rules() if ROUTES.get(rule.rule, (None,))[0] == SHARED]
    assert len(shared) >= 2
    for rule in shared:
        for method in methods(rule):
            for headers in (bob, viewer):
                response = call(client, method, world.path(rule.rule), headers, rule.rule)
                if method in SAFE:
                    assert response.status_code == 200, (method, rule.rule, response.get_json())
                else:
                    assert_envelope(response, 403, "FORBIDDEN")
    assert snapshot(app, client, world, alice) == before
    assert client.put(world.path("/api/v1/alert-rules/<int:rule_id>"), headers=alice,
                      json={"threshold": 5}).status_code == 200  # the creator can


def test_no_list_shows_another_users_private_objects(
        app: Flask, client: FlaskClient, auth: Any, world: World) -> None:
    alice, bob = auth("user", "alice"), auth("user", "bob")
    build_world(client, bob, user_id("bob"), tag="bob")  # bob has objects of his own: his lists are not empty
    today = date.today()
    lists = [rule.rule + LIST_QUERIES.get(rule.rule, "").format(year_ago=today - timedelta(days=365), today=today)
             for rule, method in api_routes(app)
             if method == "GET" and not rule.arguments and needs(app, rule, method) != "admin"
             and rule.rule not in QUERY_OBJECTS and rule.rule not in PUBLIC_API]  # the public ones list nothing
    assert len(lists) >= 15, lists
    seen_by_alice = " ".join(client.get(path, headers=alice).get_data(as_text=True) for path in lists)
    assert all(marker in seen_by_alice for marker in world.private_markers)  # the lists do show them to her
    for path in lists:
        response = client.get(path, headers=bob)
        assert response.status_code == 200, (path, response.get_json())
        leaked = [marker for marker in world.private_markers if marker in response.get_data(as_text=True)]
        assert leaked == [], f"{path} shows bob alice's {leaked}"


def test_another_users_object_named_in_a_query_answers_404(client: FlaskClient, auth: Any, world: World) -> None:
    alice, bob = auth("user", "alice"), auth("user", "bob")
    for path, (argument, kind) in QUERY_OBJECTS.items():
        query = f"{path}?{argument}={world.values[kind]}"
        assert client.get(query, headers=alice).status_code == 200, query
        assert_envelope(client.get(query, headers=bob), 404, "NOT_FOUND")


@pytest.mark.parametrize("role", ["user", "viewer"])
def test_every_admin_route_refuses_users_and_viewers(
        app: Flask, client: FlaskClient, auth: Any, world: World, role: str) -> None:
    headers = auth(role, f"not-admin-{role}")
    refused = []
    for rule, method in api_routes(app):
        if needs(app, rule, method) == "admin":
            path = world.path(rule.rule) if rule.arguments else rule.rule
            assert_envelope(client.open(path, method=method, headers=headers, json={}), 403, "FORBIDDEN")
            refused.append(f"{method} {rule.rule}")
    assert len(refused) >= 11, refused  # users (5), admin (4), cache warm and invalidate
    admin_only = {rule for rule, (policy, _) in ROUTES.items() if policy == ADMIN}
    assert all(any(rule in entry for entry in refused) for rule in admin_only)


def test_a_viewer_is_refused_every_write(app: Flask, client: FlaskClient, auth: Any, world: World) -> None:
    viewer = auth("viewer")
    allowed = set(permissions_for("viewer"))
    refused, open_to_viewers = [], []
    for rule, method in api_routes(app):
        if method in SAFE or rule.rule in PUBLIC_API:
            continue
        needed = needs(app, rule, method)
        if needed is None or needed in allowed:
            open_to_viewers.append(f"{method} {rule.rule}")
            continue
        path = world.path(rule.rule) if rule.arguments else rule.rule
        assert_envelope(call(client, method, path, viewer, rule.rule), 403, "FORBIDDEN")
        refused.append(f"{method} {rule.rule}")
    # Ending one's own session, linking or unlinking one's own GitHub account, editing one's own profile and
    # managing one's own API keys (a viewer's key can only read) are no writes to data.
    assert sorted(open_to_viewers) == ["DELETE /api/v1/api-keys/<int:key_id>", "DELETE /api/v1/auth/github/link",
                                       "PATCH /api/v1/api-keys/<int:key_id>", "POST /api/v1/api-keys",
                                       "POST /api/v1/auth/github/link", "POST /api/v1/auth/logout",
                                       "PUT /api/v1/users/me"]
    assert len(refused) >= 30, refused
    assert all(ROUTES[rule][0] != FILES for rule in ROUTES if rule.startswith("/api/v1/"))
