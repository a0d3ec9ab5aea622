"""GitHub's OAuth web flow with Authlib's requests client: the authorization URL (with a PKCE S256 challenge),
the code exchange (with the verifier), then who signed in (`/user`) and their verified primary email
(`/user/emails`).

Each host (GITHUB_OAUTH_URL's, GITHUB_API_URL's) is resolved and SSRF-checked once (private addresses only
with OAUTH_ALLOW_PRIVATE) and every request goes to that checked address, as polls and webhook deliveries do:
no redirects, no proxies or .netrc from the environment, a time-out on every request. GitHub's access token
is used for these two reads and then dropped: nothing stores it, and no error message quotes it.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.requests_client import OAuth2Session

from core.settings import GitHubSignIn
from core.ssrf import Resolver, UnsafeTarget, resolve, system_resolver
from domain.webhooks.transport import PinnedAdapter, pinned_url

SCOPE = "read:user user:email"
API_HEADERS = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
TOKEN_HEADERS = {"Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded;charset=UTF-8"}


class GitHubRefused(Exception):
    """GitHub said no: the code is bad, expired or already used, or the token was refused (the user's fault
    or an attacker's, never ours: 401)."""


class GitHubUnavailable(Exception):
    """GitHub could not be reached in time (503), or answered something that is not its API (502)."""

    def __init__(self, message: str, unreachable: bool) -> None:
        super().__init__(message)
        self.unreachable = unreachable


@dataclass(frozen=True)
class GitHubProfile:
    """Who signed in: GitHub's numeric id (the link), login, name, avatar, and the verified primary email
    (None when the account has none)."""

    id: int
    login: str
    name: str | None
    avatar_url: str | None
    email: str | None


class GitHubOAuth:
    def __init__(self, config: GitHubSignIn, resolver: Resolver = system_resolver) -> None:
        self.config, self.resolver = config, resolver

    def authorization_url(self, state: str, code_verifier: str, redirect_uri: str) -> str:
        with OAuth2Session(self.config.client_id, scope=SCOPE, redirect_uri=redirect_uri,
                           code_challenge_method="S256") as client:  # builds a URL; connects nowhere
            url, _ = client.create_authorization_url(f"{self.config.oauth_url}/login/oauth/authorize", state=state,
                                                     code_verifier=code_verifier, allow_signup="true")
        return str(url)

    def profile(self, code: str, code_verifier: str, redirect_uri: str) -> GitHubProfile:
        """Exchange the code (with the verifier) for a token, and read who it belongs to."""
        token = self._exchange(code, code_verifier, redirect_uri)
        user = self._api_get(token, "/user")
        emails = self._api_get(token, "/user/emails")
        if not isinstance(user, dict) or not isinstance(emails, list) or type(user.get("id")) is not int:
            raise GitHubUnavailable("GitHub's answer is not the shape of its API", unreachable=False)
        primary = [e for e in emails if isinstance(e, dict) and e.get("primary") and e.get("verified") is True]
        return GitHubProfile(id=user["id"], login=str(user.get("login") or ""), name=_text(user.get("name")),
                             avatar_url=_text(user.get("avatar_url")),
                             email=_text(primary[0].get("email")) if primary else None)

    def _session(self, base_url: str, **kwargs: Any) -> tuple[OAuth2Session, str]:
        """An Authlib session whose requests go to the checked address of `base_url`'s host."""
        try:
            address = resolve(base_url, allow_private=self.config.allow_private, resolver=self.resolver)[0]
        except UnsafeTarget as exc:
            raise GitHubUnavailable(f"refused GitHub address: {exc}", unreachable=True) from None
        session = OAuth2Session(self.config.client_id, self.config.client_secret, **kwargs)
        session.trust_env = False
        session.mount(f"{urlsplit(base_url).scheme}://", PinnedAdapter(urlsplit(base_url).hostname or ""))
        return session, address

    def _exchange(self, code: str, code_verifier: str, redirect_uri: str) -> dict[str, Any]:
        url = f"{self.config.oauth_url}/login/oauth/access_token"
        session, address = self._session(url, token_endpoint_auth_method="client_secret_post")  # noqa: S106
        target, host = pinned_url(url, address)
        with session, _translated("the code exchange"):
            token = session.fetch_token(target, code=code, code_verifier=code_verifier, redirect_uri=redirect_uri,
                                        headers={**TOKEN_HEADERS, "Host": host}, timeout=self.config.timeout_seconds,
                                        allow_redirects=False)
        if not isinstance(token.get("access_token"), str):
            raise GitHubRefused("GitHub's token answer holds no access token")
        return dict(token)

    def _api_get(self, token: dict[str, Any], path: str) -> Any:
        url = f"{self.config.api_url}{path}"
        session, address = self._session(url, token={"access_token": token["access_token"], "token_type": "bearer"})
        target, host = pinned_url(url, address)
        with session, _translated(f"GET {path}"):
            response = session.get(target, headers={**API_HEADERS, "Host": host},
                                   timeout=self.config.timeout_seconds, allow_redirects=False)
        if response.status_code in (401, 403):
            raise GitHubRefused(f"GitHub refused GET {path} (HTTP {response.status_code})")
        if response.status_code != 200:
            raise GitHubUnavailable(f"GET {path}: GitHub answered HTTP {response.status_code}", unreachable=False)
        try:
            return response.json()
        except ValueError:
            raise GitHubUnavailable(f"GET {path}: GitHub's answer is not JSON", unreachable=False) from None


@contextmanager
def _translated(what: str) -> Iterator[None]:
    """Authlib's and requests' failures as ours, with messages that never quote a request (and its secrets)."""
    try:
        yield
    except AuthlibBaseError as exc:
        raise GitHubRefused(f"GitHub refused {what}: {str(getattr(exc, 'error', 'error'))[:80]}") from None
    except (requests.Timeout, requests.ConnectionError):
        raise GitHubUnavailable(f"{what}: GitHub did not answer in time, or at all", unreachable=True) from None
    except (requests.RequestException, ValueError):
        raise GitHubUnavailable(f"{what}: GitHub's answer was not usable", unreachable=False) from None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
