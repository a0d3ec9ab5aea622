"""Sign in with GitHub against a fake GitHub (tests/support/fake_github_oauth.py): the whole flow with PKCE,
accounts found by GitHub's id and never by email, links and unlinks, and every refusal in the envelope."""
from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from domain.engineering.identities import resolve_all
from domain.engineering.records import Person
from models.db import db
from models.developer import Developer, DeveloperIdentity
from models.organization import Organization
from models.user import User
from tests.conftest import PASSWORD, create_user, login
from tests.support.audit import entries, only_entry
from tests.support.envelope import assert_envelope
from tests.support.fake_github_oauth import CLIENT_SECRET, FakeGitHubOAuth, s256
from tests.support.github_sign_in import (
    APP_REDIRECT,
    CALLBACK,
    LINK,
    REDIRECT,
    START,
    approve,
    github_settings,
    link,
    sign_in,
    start,
)

OCTO_ID = 583231


@pytest.fixture
def github() -> Iterator[FakeGitHubOAuth]:
    with FakeGitHubOAuth([REDIRECT, APP_REDIRECT]) as fake:
        fake.add_account("octocat", OCTO_ID, "The Octocat", "octocat@example.com")
        yield fake


@pytest.fixture
def app(make_app: Any, github: FakeGitHubOAuth) -> Flask:
    return make_app(**github_settings(github))  # type: ignore[no-any-return]


def users() -> list[User]:
    with db.connection_context():
        return list(User.select().order_by(User.id))


def the_user(**where: Any) -> User:
    with db.connection_context():
        return User.get(*(getattr(User, name) == value for name, value in where.items()))


def bearer(body: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {body['access_token']}"}


def test_a_first_sign_in_creates_a_user_with_the_default_role_and_no_password(
        client: FlaskClient, github: FakeGitHubOAuth) -> None:
    response = sign_in(client, github, "octocat")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["token_type"] == "bearer" and body["expires_in"] > 0 and body["refresh_token"]
    user = the_user(github_id=OCTO_ID)
    assert body["user"] == {"id": user.id, "login": "octocat", "name": "The Octocat", "email": "octocat@example.com",
                            "avatar_url": f"https://avatars.githubusercontent.com/u/{OCTO_ID}?v=4"}
    assert (user.username, user.role, user.has_password) == ("octocat", "user", False)
    me = client.get("/api/v1/users/me", headers=bearer(body)).get_json()
    assert (me["username"], me["login"], me["has_password"]) == ("octocat", "octocat", False)
    refused = client.post("/api/v1/auth/login", json={"username": "octocat", "password": ""})
    assert_envelope(refused, 422, "VALIDATION_ERROR")
    for password in ("!", user.password_hash, PASSWORD):
        assert_envelope(client.post("/api/v1/auth/login", json={"username": "octocat", "password": password}),
                        401, "UNAUTHORIZED")


def test_the_default_role_is_a_setting(make_app: Any, github: FakeGitHubOAuth) -> None:
    client = make_app(**github_settings(github, OAUTH_DEFAULT_ROLE="viewer")).test_client()
    assert sign_in(client, github, "octocat").status_code == 200
    assert the_user(github_id=OCTO_ID).role == "viewer"


def test_a_later_sign_in_finds_the_same_user_by_github_id_after_a_rename(
        client: FlaskClient, github: FakeGitHubOAuth) -> None:
    first = sign_in(client, github, "octocat").get_json()["user"]
    github.accounts["octocat"].login = "octo-renamed"
    second = sign_in(client, github, "octocat").get_json()["user"]
    assert second["id"] == first["id"] and second["login"] == "octo-renamed"
    assert len(users()) == 1 and the_user(id=first["id"]).username == "octocat"
    # the audit log: the account's creation, then a sign-in, each by the user, from the test client's address
    signed_up, signed_in = only_entry("github.sign_up"), only_entry("github.sign_in")
    assert (signed_up["actor_id"], signed_up["target_id"], signed_up["details"]) == (
        first["id"], str(first["id"]), {"provider": "github", "login": "octocat"})
    assert (signed_in["actor_label"], signed_in["remote_addr"], signed_in["details"]["login"]) == (
        "octocat", "127.0.0.1", "octo-renamed")


def test_a_taken_username_is_numbered(client: FlaskClient, github: FakeGitHubOAuth) -> None:
    create_user("octocat")
    assert sign_in(client, github, "octocat").status_code == 200
    assert the_user(github_id=OCTO_ID).username == "octocat-2"


def test_the_code_exchange_proves_the_pkce_verifier(client: FlaskClient, github: FakeGitHubOAuth) -> None:
    github.approving = "octocat"
    auth_url = start(client)["auth_url"]
    query = parse_qs(urlsplit(auth_url).query)
    assert query["code_challenge_method"] == ["S256"] and query["redirect_uri"] == [REDIRECT]
    assert client.get(CALLBACK, query_string=approve(auth_url)).status_code == 200
    exchange = next(r for r in github.requests if r.path == "/login/oauth/access_token")
    assert s256(exchange.form["code_verifier"]) == query["code_challenge"][0]
    assert exchange.headers["accept"] == "application/json"


def test_a_code_approved_for_another_challenge_is_refused(client: FlaskClient, github: FakeGitHubOAuth) -> None:
    """Someone who intercepted a code cannot use it: the challenge GitHub holds is not this flow's."""
    github.approving = "octocat"
    parts = urlsplit(start(client)["auth_url"])
    query = {name: values[0] for name, values in parse_qs(parts.query).items()}
    query["code_challenge"] = s256("an attacker's own verifier, not this flow's")
    came_back = approve(urlunsplit(parts._replace(query=urlencode(query))))
    assert_envelope(client.get(CALLBACK, query_string=came_back), 401, "UNAUTHORIZED")
    assert users() == []


def test_a_matching_email_never_links_an_existing_account(client: FlaskClient, github: FakeGitHubOAuth) -> None:
    alice = create_user("alice")
    with db.connection_context():
        User.update(email="OctoCat@Example.com").where(User.id == alice.id).execute()
    assert_envelope(sign_in(client, github, "octocat"), 409, "CONFLICT")
    assert [(u.username, u.github_id) for u in users()] == [("alice", None)]


def test_a_signed_in_user_links_and_unlinks_github(client: FlaskClient, github: FakeGitHubOAuth) -> None:
    create_user("alice")
    alice = bearer(login(client, "alice"))
    linked = link(client, github, "octocat", alice)
    assert linked.status_code == 200, linked.get_json()
    assert linked.get_json()["user"]["login"] == "octocat"
    assert sign_in(client, github, "octocat").get_json()["user"]["id"] == the_user(username="alice").id
    unlinked = client.delete(LINK, headers=alice)
    assert unlinked.status_code == 200 and unlinked.get_json()["login"] is None
    assert the_user(username="alice").github_id is None
    assert_envelope(client.delete(LINK, headers=alice), 409, "CONFLICT")
    assert [(e["action"], e["actor_label"], e["details"].get("login")) for e in entries()
            if e["action"].startswith("github.")] == [
        ("github.link", "alice", "octocat"), ("github.sign_in", "alice", "octocat"),
        ("github.unlink", "alice", "octocat")]  # the refused second unlink recorded nothing


def test_a_link_is_finished_only_by_the_user_who_started_it(client: FlaskClient, github: FakeGitHubOAuth) -> None:
    create_user("alice")
    create_user("mallory")
    alice, mallory = bearer(login(client, "alice")), bearer(login(client, "mallory"))
    assert_envelope(link(client, github, "octocat", alice, callback_headers={}), 401, "UNAUTHORIZED")
    assert_envelope(link(client, github, "octocat", alice, callback_headers=mallory), 403, "FORBIDDEN")
    assert [u.github_id for u in users()] == [None, None]


def test_a_github_account_linked_to_another_user_answers_409(client: FlaskClient, github: FakeGitHubOAuth) -> None:
    first = sign_in(client, github, "octocat").get_json()["user"]
    create_user("alice")
    assert_envelope(link(client, github, "octocat", bearer(login(client, "alice"))), 409, "CONFLICT")
    assert the_user(github_id=OCTO_ID).id == first["id"] and the_user(username="alice").github_id is None


def test_an_account_without_a_password_cannot_unlink(client: FlaskClient, github: FakeGitHubOAuth) -> None:
    body = sign_in(client, github, "octocat").get_json()
    assert_envelope(client.delete(LINK, headers=bearer(body)), 409, "CONFLICT")
    assert the_user(id=body["user"]["id"]).github_id == OCTO_ID


def test_the_developers_of_a_github_account_become_its_users(client: FlaskClient, github: FakeGitHubOAuth) -> None:
    with db.connection_context():
        org = Organization.create(name="octo-org")
        mine, other = Developer.create(organization=org, name="Octo"), Developer.create(organization=org, name="X")
        DeveloperIdentity.create(organization=org, developer=mine, provider="github", provider_user_id=str(OCTO_ID),
                                 login="octocat")
        DeveloperIdentity.create(organization=org, developer=other, provider="github", provider_user_id="7")
    user_id = sign_in(client, github, "octocat").get_json()["user"]["id"]
    with db.connection_context():
        assert Developer.get_by_id(mine.id).user_id == user_id and Developer.get_by_id(other.id).user_id is None


def test_a_developer_first_seen_after_the_sign_in_is_the_users_at_once(
        client: FlaskClient, github: FakeGitHubOAuth) -> None:
    """Ingestion making the developer of a GitHub account that already signed in links it then (not only at the
    next sign-in); someone else's new identity stays nobody's."""
    user_id = sign_in(client, github, "octocat").get_json()["user"]["id"]
    with db.connection_context():
        org = Organization.create(name="octo-org")
        octo, other = resolve_all(org.id, [Person(provider="github", user_id=str(OCTO_ID), login="octocat"),
                                           Person(provider="github", user_id="7", login="someone")])
        assert octo is not None and other is not None
        assert Developer.get_by_id(octo.developer_id).user_id == user_id
        assert Developer.get_by_id(other.developer_id).user_id is None


def test_unlinking_releases_the_developers(client: FlaskClient, github: FakeGitHubOAuth) -> None:
    with db.connection_context():
        org = Organization.create(name="octo-org")
        mine = Developer.create(organization=org, name="Octo")
        DeveloperIdentity.create(organization=org, developer=mine, provider="github", provider_user_id=str(OCTO_ID))
    create_user("alice")
    alice = bearer(login(client, "alice"))
    assert link(client, github, "octocat", alice).status_code == 200
    with db.connection_context():
        assert Developer.get_by_id(mine.id).user_id == the_user(username="alice").id
    assert client.delete(LINK, headers=alice).status_code == 200
    with db.connection_context():
        assert Developer.get_by_id(mine.id).user_id is None


def test_an_unknown_or_replayed_state_is_refused(client: FlaskClient, github: FakeGitHubOAuth) -> None:
    github.approving = "octocat"
    came_back = approve(start(client)["auth_url"])
    forged = {**came_back, "state": "x" * 43}
    assert_envelope(client.get(CALLBACK, query_string=forged), 401, "UNAUTHORIZED")
    assert client.get(CALLBACK, query_string=came_back).status_code == 200
    assert_envelope(client.get(CALLBACK, query_string=came_back), 401, "UNAUTHORIZED")
    assert len(users()) == 1
    assert github.hits("/login/oauth/access_token") == 1  # refused here, before GitHub is asked


def test_a_state_expires_after_ten_minutes(client: FlaskClient, github: FakeGitHubOAuth,
                                           redis_client: redis.Redis) -> None:
    github.approving = "octocat"
    came_back = approve(start(client)["auth_url"])
    [key] = redis_client.keys("github_sign_in:flow:*")
    assert 590 <= redis_client.ttl(key) <= 600
    redis_client.pexpire(key, 1)
    time.sleep(0.05)
    assert_envelope(client.get(CALLBACK, query_string=came_back), 401, "UNAUTHORIZED")
    assert users() == [] and github.hits("/login/oauth/access_token") == 0


def test_a_redirect_uri_off_the_list_is_refused(client: FlaskClient, redis_client: redis.Redis) -> None:
    for uri in ("https://evil.example/", REDIRECT + "x", REDIRECT.rstrip("/")):
        body = assert_envelope(client.get(START, query_string={"redirect_uri": uri}), 422, "VALIDATION_ERROR")
        assert "redirect_uri" in body["error"]["details"]
    assert_envelope(client.get(START), 422, "VALIDATION_ERROR")
    assert redis_client.keys("github_sign_in:*") == []


def test_a_failed_code_exchange_is_refused(client: FlaskClient, github: FakeGitHubOAuth) -> None:
    github.approving = "octocat"
    came_back = approve(start(client)["auth_url"])
    wrong = {**came_back, "code": "not-the-code-github-gave"}
    assert_envelope(client.get(CALLBACK, query_string=wrong), 401, "UNAUTHORIZED")
    assert_envelope(client.get(CALLBACK, query_string=came_back), 401, "UNAUTHORIZED")  # the state was used
    assert users() == []


def test_github_failing_is_a_502_and_unreachable_a_503(client: FlaskClient, github: FakeGitHubOAuth) -> None:
    github.token_status = 500
    assert_envelope(sign_in(client, github, "octocat"), 502, "BAD_GATEWAY")
    github.token_status = None
    github.approving = "octocat"
    came_back = approve(start(client)["auth_url"])
    github.stop()
    assert_envelope(client.get(CALLBACK, query_string=came_back), 503, "SERVICE_UNAVAILABLE")
    assert users() == []


def test_a_slow_github_times_out_as_503(make_app: Any, github: FakeGitHubOAuth) -> None:
    client = make_app(**github_settings(github, GITHUB_TIMEOUT_SECONDS="1")).test_client()
    github.api_delay = 2
    began = time.monotonic()
    assert_envelope(sign_in(client, github, "octocat"), 503, "SERVICE_UNAVAILABLE")
    assert time.monotonic() - began < 5 and users() == []


def test_an_unverified_primary_email_is_refused(client: FlaskClient, github: FakeGitHubOAuth) -> None:
    github.add_account("unverified", 42, email="new@example.com", verified=False, others=["other@example.com"])
    github.add_account("no-email", 43)
    assert_envelope(sign_in(client, github, "unverified"), 403, "FORBIDDEN")
    assert_envelope(sign_in(client, github, "no-email"), 403, "FORBIDDEN")
    assert users() == []


def test_a_private_github_address_is_refused_without_oauth_allow_private(
        make_app: Any, github: FakeGitHubOAuth) -> None:
    client = make_app(**github_settings(github, OAUTH_ALLOW_PRIVATE="false")).test_client()
    github.approving = "octocat"
    came_back = approve(start(client)["auth_url"])
    assert_envelope(client.get(CALLBACK, query_string=came_back), 503, "SERVICE_UNAVAILABLE")
    assert github.hits("/login/oauth/access_token") == 0 and users() == []


def test_without_a_client_every_github_route_answers_404(make_app: Any, auth: Any) -> None:
    client = make_app().test_client()
    assert_envelope(client.get(START, query_string={"redirect_uri": REDIRECT}), 404, "NOT_FOUND")
    assert_envelope(client.get(CALLBACK, query_string={"code": "c", "state": "s" * 43}), 404, "NOT_FOUND")
    headers = {"Authorization": f"Bearer {login(client, 'u1')['access_token']}"} if create_user("u1") else {}
    assert_envelope(client.post(LINK, json={"redirect_uri": REDIRECT}, headers=headers), 404, "NOT_FOUND")
    assert_envelope(client.delete(LINK, headers=headers), 404, "NOT_FOUND")


def test_the_system_status_shows_the_github_settings_but_not_the_secret(client: FlaskClient, auth: Any) -> None:
    response = client.get("/api/v1/admin/system/status", headers=auth("admin"))
    assert response.status_code == 200, response.get_json()
    shown = response.get_json()["settings"]["github"]
    assert shown["enabled"] is True and shown["redirect_uris"] == [REDIRECT, APP_REDIRECT]
    assert "client_secret" not in shown and CLIENT_SECRET not in response.get_data(as_text=True)


def test_an_admin_unlinks_even_an_account_without_a_password(
        client: FlaskClient, github: FakeGitHubOAuth, auth: Any) -> None:
    body = sign_in(client, github, "octocat").get_json()
    path = f"/api/v1/users/{body['user']['id']}/github"
    assert_envelope(client.delete(path, headers=bearer(body)), 403, "FORBIDDEN")
    admin = auth("admin")
    response = client.delete(path, headers=admin)
    assert response.status_code == 200 and response.get_json()["login"] is None
    assert the_user(id=body["user"]["id"]).github_id is None
    assert_envelope(client.delete(path, headers=admin), 409, "CONFLICT")
    unlinked = only_entry("github.unlink")  # by the admin, of the user's account
    assert (unlinked["actor_label"], unlinked["target_id"]) == (the_user(role="admin").username,
                                                                str(body["user"]["id"]))
    assert_envelope(client.delete("/api/v1/users/999999/github", headers=admin), 404, "NOT_FOUND")
    assert_envelope(sign_in(client, github, "octocat"), 409, "CONFLICT")  # its email is the old account's
