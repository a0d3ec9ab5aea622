"""Helpers of the GitHub sign-in tests: the app's settings for a fake GitHub, and the browser's part of the
flow (start, approve at "GitHub", come back with the code and state)."""
from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.support.fake_github_oauth import CLIENT_ID, CLIENT_SECRET, FakeGitHubOAuth

START = "/api/v1/auth/github"
CALLBACK = "/api/v1/auth/github/callback"
LINK = "/api/v1/auth/github/link"
REDIRECT = "http://localhost:8000/"  # the dashboard, as OAUTH_REDIRECT_URIS names it
APP_REDIRECT = "http://127.0.0.1:9999/oauth/done"


def github_settings(fake: FakeGitHubOAuth, **overrides: str) -> dict[str, str]:
    """A GitHub Enterprise-style configuration (API under /api/v3) pointing at the fake, on loopback."""
    return {"GITHUB_CLIENT_ID": CLIENT_ID, "GITHUB_CLIENT_SECRET": CLIENT_SECRET, "GITHUB_OAUTH_URL": fake.url,
            "GITHUB_API_URL": f"{fake.url}/api/v3", "OAUTH_REDIRECT_URIS": f"{REDIRECT},{APP_REDIRECT}",
            "OAUTH_ALLOW_PRIVATE": "true", **overrides}


def approve(auth_url: str) -> dict[str, str]:
    """What the browser brings back from GitHub's authorize page: `{code, state}` from the redirect."""
    response = requests.get(auth_url, allow_redirects=False, timeout=10)
    assert response.status_code == 302, response.text
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    return {"code": query["code"][0], "state": query["state"][0]}


def start(client: FlaskClient, redirect_uri: str = REDIRECT) -> dict[str, Any]:
    response = client.get(START, query_string={"redirect_uri": redirect_uri})
    assert response.status_code == 200, response.get_json()
    return response.get_json()  # type: ignore[no-any-return]


def sign_in(client: FlaskClient, fake: FakeGitHubOAuth, login: str) -> TestResponse:
    """The whole sign-in as `login`: start, approve at GitHub, the callback."""
    fake.approving = login
    return client.get(CALLBACK, query_string=approve(start(client)["auth_url"]))


def link(client: FlaskClient, fake: FakeGitHubOAuth, login: str, headers: dict[str, str],
         callback_headers: dict[str, str] | None = None) -> TestResponse:
    """A signed-in user links `login`'s GitHub account (the callback sent with `callback_headers`, by default
    the same user's)."""
    fake.approving = login
    started = client.post(LINK, json={"redirect_uri": REDIRECT}, headers=headers)
    assert started.status_code == 200, started.get_json()
    return client.get(CALLBACK, query_string=approve(started.get_json()["auth_url"]),
                      headers=headers if callback_headers is None else callback_headers)
