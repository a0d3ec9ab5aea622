"""The dashboard's "Sign in with GitHub": shown only when GitHub sign-in is configured for this dashboard's
address, and the whole round trip in a browser (to the fake GitHub's authorize page and back, signed in)."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask

from tests.conftest import create_user, serving_api
from tests.dashboard.browser import Page, expect, log_in, session_value
from tests.support.fake_github_oauth import FakeGitHubOAuth
from tests.support.github_sign_in import github_settings
from tests.support.processes import free_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def github(port: int) -> Iterator[FakeGitHubOAuth]:
    with FakeGitHubOAuth([f"http://127.0.0.1:{port}/"]) as fake:
        fake.add_account("octocat", 583231, "The Octocat", "octocat@example.com")
        fake.approving = "octocat"
        yield fake


@pytest.fixture
def configured() -> bool:
    return True


@pytest.fixture
def api_server(base_env: dict[str, str], tmp_path: Path, github: FakeGitHubOAuth, port: int,
               configured: bool, app: Flask) -> Iterator[str]:
    """The API under gunicorn with GitHub sign-in pointed at the fake and this dashboard on the allow-list
    (unless not `configured`)."""
    env = {**base_env, **github_settings(github, OAUTH_REDIRECT_URIS=f"http://127.0.0.1:{port}/")} if configured \
        else base_env
    with (tmp_path / "api.log").open("w") as log, serving_api(env, log, port=port) as base:
        yield base


@pytest.mark.parametrize("configured", [False])
def test_without_github_sign_in_the_login_form_has_no_github_button(page: Page, api_server: str) -> None:
    page.goto("/")
    expect(page.locator("form#login-form")).to_be_visible()
    expect(page.locator("#github-sign-in")).to_have_count(0)


def test_the_github_button_signs_in_through_github_and_lands_signed_in(
        page: Page, shot: Callable[[str], None], github: FakeGitHubOAuth, api_server: str) -> None:
    page.goto("/")
    button = page.locator("#github-sign-in")
    expect(button).to_be_visible()
    shot("login-with-github")
    button.click()
    expect(page.locator("#app")).to_be_visible()
    expect(page.locator("#whoami")).to_contain_text("octocat (user)")
    assert page.url == api_server + "/"  # the code and state left the address bar
    assert session_value(page, "token") and session_value(page, "github_state") is None
    assert github.hits("/login/oauth/authorize") == 1 and github.hits("/login/oauth/access_token") == 1


def test_a_password_login_still_works_beside_the_button(page: Page, api_server: str) -> None:
    create_user("alice")
    log_in(page, "alice")
    expect(page.locator("#github-sign-in")).to_be_hidden()
