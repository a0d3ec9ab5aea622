"""A fake GitHub for "Sign in with GitHub", built on `FakeApiServer` like the other GitHub fakes: real HTTP on
127.0.0.1, every request recorded, the endpoints and JSON of GitHub's OAuth web flow and REST API, as
documented (docs.github.com: "Authorizing OAuth apps", "Users", "Emails"; made-up values):

- `GET /login/oauth/authorize?client_id&redirect_uri&scope&state&code_challenge&code_challenge_method`: the
  page where the user approves. Here `approving` (a login) has already approved: the answer is the 302 to
  `redirect_uri?code=...&state=...`, as GitHub sends it. An unknown client or a redirect URI off the app's
  callback URLs gets GitHub's error page (a 404 here); a challenge other than S256 a 400.
- `POST /login/oauth/access_token` (form: client_id, client_secret, code, redirect_uri, code_verifier), with
  `Accept: application/json` the JSON `{access_token, token_type: "bearer", scope}`. Failures are 200s with
  `{error, error_description, error_uri}`, as on GitHub: `incorrect_client_credentials`,
  `redirect_uri_mismatch`, `bad_verification_code` (unknown, used or expired code) and, when the
  `code_verifier` does not hash (S256) to the code's challenge, `invalid_grant`. A code is taken once.
- `GET /user` and `GET /user/emails` (also under `/api/v3`, where GitHub Enterprise Server has them) with
  `Authorization: Bearer <token>` (or `token <token>`): the account, and its emails with `primary`,
  `verified` and `visibility`; 401 "Bad credentials" without a token this server issued.

Switches: `token_status` (the token endpoint answers that status, e.g. 500 with an HTML page), `api_delay`
(seconds `/user` waits before answering, for time-outs).
"""
from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from tests.support.fake_payloads import FakeApiServer, Recorded, Reply, json_reply, presented_token

CLIENT_ID = "Iv1.fakeclient0123456"
CLIENT_SECRET = "fake-github-client-secret-0123456789abcdef"
DOCS = "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors"


@dataclass
class Account:
    id: int
    login: str
    name: str | None
    emails: list[dict[str, Any]] = field(default_factory=list)

    def user(self) -> dict[str, Any]:
        primary = next((e["email"] for e in self.emails if e["primary"] and e["visibility"] == "public"), None)
        return {"login": self.login, "id": self.id, "node_id": f"MDQ6VXNlcj{self.id}", "type": "User",
                "site_admin": False, "name": self.name, "email": primary, "company": None, "location": None,
                "avatar_url": f"https://avatars.githubusercontent.com/u/{self.id}?v=4",
                "html_url": f"https://github.com/{self.login}", "created_at": "2020-01-01T00:00:00Z"}


@dataclass
class Grant:
    login: str
    redirect_uri: str
    challenge: str
    expires: float


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


class FakeGitHubOAuth(FakeApiServer):
    def __init__(self, callback_urls: list[str]) -> None:
        super().__init__(token="")
        self.callback_urls = callback_urls
        self.accounts: dict[str, Account] = {}
        self.approving: str | None = None
        self.grants: dict[str, Grant] = {}
        self.tokens: dict[str, str] = {}  # access token -> login
        self.token_status: int | None = None
        self.api_delay = 0.0

    def add_account(self, login: str, account_id: int, name: str | None = None, email: str | None = None,
                    verified: bool = True, others: list[str] | None = None) -> Account:
        """An account whose primary email is `email` (verified or not), with other verified emails."""
        emails = [{"email": email, "primary": True, "verified": verified, "visibility": "private"}] if email else []
        emails += [{"email": other, "primary": False, "verified": True, "visibility": None} for other in others or []]
        self.accounts[login] = Account(account_id, login, name, emails)
        return self.accounts[login]

    def answer(self, request: Recorded) -> Reply:
        path = request.path.removeprefix("/api/v3")
        if request.method == "GET" and request.path == "/login/oauth/authorize":
            return self._authorize(request.query)
        if request.method == "POST" and request.path == "/login/oauth/access_token":
            return self._access_token(request)
        if request.method == "GET" and path in ("/user", "/user/emails"):
            return self._api(request, path)
        return json_reply(404, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"})

    def _authorize(self, query: dict[str, str]) -> Reply:
        if query.get("client_id") != CLIENT_ID or query.get("redirect_uri") not in self.callback_urls:
            return Reply(404, b"<html>The redirect_uri is not associated with this application.</html>",
                         {"Content-Type": "text/html"})
        if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
            return Reply(400, b"<html>code_challenge_method must be S256</html>", {"Content-Type": "text/html"})
        if self.approving is None:
            raise AssertionError("the test did not say which account approves (FakeGitHubOAuth.approving)")
        code = secrets.token_hex(10)
        self.grants[code] = Grant(self.approving, query["redirect_uri"], query["code_challenge"], time.time() + 600)
        location = f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query.get('state', '')})}"
        return Reply(302, b"", {"Location": location})

    def _access_token(self, request: Recorded) -> Reply:
        if self.token_status is not None:
            return Reply(self.token_status, b"<html>Unicorn!</html>", {"Content-Type": "text/html"})
        form = request.form
        if request.headers.get("accept") != "application/json":
            raise AssertionError("the token request must ask for JSON (Accept: application/json)")
        if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
            return self._error("incorrect_client_credentials", "The client_id and/or client_secret passed are "
                                                               "incorrect.")
        grant = self.grants.pop(form.get("code", ""), None)
        if grant is None or grant.expires < time.time():
            return self._error("bad_verification_code", "The code passed is incorrect or expired.")
        if form.get("redirect_uri") != grant.redirect_uri:
            return self._error("redirect_uri_mismatch", "The redirect_uri MUST match the registered callback URL "
                                                        "for this application.")
        if s256(form.get("code_verifier", "")) != grant.challenge:
            return self._error("invalid_grant", "The code_verifier does not match the code_challenge.")
        token = "gho_" + secrets.token_hex(18)
        self.tokens[token] = grant.login
        return json_reply(200, {"access_token": token, "token_type": "bearer", "scope": "read:user,user:email"})

    def _error(self, error: str, description: str) -> Reply:
        return json_reply(200, {"error": error, "error_description": description, "error_uri": DOCS})

    def _api(self, request: Recorded, path: str) -> Reply:
        login = self.tokens.get(presented_token(request.headers) or "")
        if login is None:
            return json_reply(401, {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"})
        if self.api_delay:
            time.sleep(self.api_delay)
        account = self.accounts[login]
        return json_reply(200, account.user() if path == "/user" else account.emails)

    def issued_tokens(self) -> list[str]:
        return list(self.tokens)
