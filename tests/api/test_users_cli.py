"""The users CLI: `flask users create`, and `flask init` creating the first admin once."""
from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import PASSWORD, create_user, login
from tests.support.auth import ME
from tests.support.users import can_log_in, user_count, usernames


def test_cli_users_create_makes_a_user_who_can_log_in(app: Flask, client: FlaskClient) -> None:
    # when
    result = app.test_cli_runner().invoke(
        args=["users", "create", "carol", "--role", "viewer", "--password", "longenough1"])
    # then
    assert result.exit_code == 0, result.output
    assert "carol" in result.output
    token = login(client, "carol", "longenough1")["access_token"]
    me = client.get(ME, headers={"Authorization": f"Bearer {token}"}).get_json()
    assert me["username"] == "carol" and me["role"] == "viewer"


def test_cli_users_create_with_a_taken_username_fails(app: Flask, client: FlaskClient) -> None:
    # given
    runner = app.test_cli_runner()
    first = runner.invoke(args=["users", "create", "carol", "--role", "viewer", "--password", "longenough1"])
    assert first.exit_code == 0, first.output
    # when
    second = runner.invoke(args=["users", "create", "carol", "--role", "admin", "--password", "otherpass99"])
    # then
    assert second.exit_code != 0
    assert "taken" in second.output
    assert user_count() == 1
    assert can_log_in(client, "carol", "longenough1")
    assert not can_log_in(client, "carol", "otherpass99")


@pytest.mark.parametrize("args", [
    ["users", "create", "carol", "--password", "short"],
    ["users", "create", "carol", "--role", "root", "--password", "longenough1"],
])
def test_cli_users_create_refuses_bad_input(app: Flask, args: list[str]) -> None:
    # when
    result = app.test_cli_runner().invoke(args=args)
    # then
    assert result.exit_code != 0
    assert user_count() == 0


def test_cli_init_creates_the_first_admin_with_a_generated_password_once(
        make_app: Callable[..., Flask]) -> None:
    # given: no admin yet
    app = make_app(ADMIN_USERNAME="root")
    client = app.test_client()
    runner = app.test_cli_runner()
    # when
    first = runner.invoke(args=["init"])
    # then
    assert first.exit_code == 0, first.output
    match = re.search(r"created admin 'root' with password: (\S+)", first.output)
    assert match, first.output
    password = match.group(1)
    assert len(password) >= 12
    token = login(client, "root", password)["access_token"]
    me = client.get(ME, headers={"Authorization": f"Bearer {token}"}).get_json()
    assert me["username"] == "root" and me["role"] == "admin"

    # when: a second run, with the admin in place
    second = runner.invoke(args=["init"])
    # then: nothing about a password, and the first password still works
    assert second.exit_code == 0, second.output
    assert "password" not in second.output.lower()
    assert password not in second.output
    assert can_log_in(client, "root", password)
    assert user_count() == 1


def test_cli_init_does_nothing_to_users_when_an_admin_exists(make_app: Callable[..., Flask]) -> None:
    # given
    create_user("existing-admin", role="admin")
    app = make_app(ADMIN_USERNAME="root")
    # when
    result = app.test_cli_runner().invoke(args=["init"])
    # then
    assert result.exit_code == 0, result.output
    assert "password" not in result.output.lower()
    assert usernames() == {"existing-admin"}
    assert can_log_in(app.test_client(), "existing-admin", PASSWORD)
