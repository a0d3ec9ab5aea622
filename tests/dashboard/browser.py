"""Helpers for the dashboard's browser tests: Playwright (sync API) driving Debian's chromium.

Playwright's own browser download is not used; the tests launch /usr/bin/chromium (`.ci/install-chromium`
installs it). Every page is watched for console errors, uncaught exceptions and failed responses, and no
request may leave 127.0.0.1 (others are aborted and reported).
"""
from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from tests.conftest import PASSWORD, ROOT, create_user

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
LAUNCH_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 30_000  # every Playwright action and expectation
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
LOCAL_HOSTS = {"127.0.0.1"}
INSTALL_HINT = "run `bash .ci/install-chromium` (as root) or `apt-get install chromium`"

if not os.environ.get("CI"):  # in CI a missing Playwright is an error, not a skip
    pytest.importorskip("playwright.sync_api", reason=f"BROWSER TESTS SKIPPED: playwright is not installed "
                                                      f"(pip install -e '.[test]'); {INSTALL_HINT}")
from playwright.sync_api import Browser, Page, Response, WebSocket, expect, sync_playwright  # noqa: E402


def missing_browser(reason: str) -> None:
    """No browser: a failure under CI, else a skip that is hard to overlook."""
    message = f"BROWSER TESTS SKIPPED: {reason}; {INSTALL_HINT}"
    if os.environ.get("CI"):
        pytest.fail(f"CI is set and the browser tests cannot run: {reason}; {INSTALL_HINT}", pytrace=False)
    print(f"\n{'!' * 100}\n!!! {message}\n{'!' * 100}")
    pytest.skip(message)


def running_browser() -> Iterator[Browser]:
    """Chromium under Playwright, for a session-scoped fixture."""
    if not CHROMIUM.exists():
        missing_browser(f"{CHROMIUM} does not exist")
    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS,
                                             timeout=TIMEOUT_MS)
        yield browser
        browser.close()


@dataclass
class Watch:
    """What went wrong in a page: console errors, page errors, failed responses, requests off this host."""
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed_responses: list[str] = field(default_factory=list)
    foreign_requests: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    responses: list[Response] = field(default_factory=list)
    ws_frames: list[tuple[str, str]] = field(default_factory=list)  # (socket URL, frame received)
    expected: list[tuple[str, int]] = field(default_factory=list)

    def expect_failure(self, path: str, status: int) -> None:
        """A response the test provokes on purpose (e.g. a 401 from a wrong password) is not a problem."""
        self.expected.append((path, status))

    def _expected(self, url: str, status: int) -> bool:
        return any(path in url and status == wanted for path, wanted in self.expected)

    def on_console(self, message: Any) -> None:
        if message.type != "error":
            return
        # Chromium logs each failed response as "Failed to load resource: ... status of 401 (UNAUTHORIZED)".
        if "ERR_BLOCKED_BY_CLIENT" in message.text and message.location.get("url") in self.foreign_requests:
            return  # reported as a foreign request already
        failed = re.search(r"status of (\d{3})", message.text)
        if failed and self._expected(message.location.get("url", ""), int(failed.group(1))):
            return
        self.console_errors.append(f"{message.text} at {message.location}")

    def on_response(self, response: Response) -> None:
        self.responses.append(response)
        if response.status >= 400 and not self._expected(response.url, response.status):
            self.failed_responses.append(f"{response.status} {response.request.method} {response.url}")

    def problems(self) -> list[str]:
        return [*(f"console error: {m}" for m in self.console_errors),
                *(f"page error: {m}" for m in self.page_errors),
                *(f"failed response: {m}" for m in self.failed_responses),
                *(f"request off 127.0.0.1 (aborted): {m}" for m in self.foreign_requests)]


def is_local(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in {"data", "blob", "about"} or parts.hostname in LOCAL_HOSTS


def watch(page: Page) -> Watch:
    seen = Watch()
    page.on("console", seen.on_console)
    page.on("pageerror", lambda error: seen.page_errors.append(str(error)))
    page.on("response", seen.on_response)
    page.on("request", lambda request: seen.requests.append(request.url))

    def on_socket(socket: WebSocket) -> None:
        socket.on("framereceived", lambda payload: seen.ws_frames.append(
            (socket.url, payload if isinstance(payload, str) else payload.decode(errors="replace"))))

    page.on("websocket", on_socket)

    def guard(route: Any) -> None:
        if is_local(route.request.url):
            route.fallback()
        else:
            seen.foreign_requests.append(route.request.url)
            route.abort("blockedbyclient")

    page.context.route("**/*", guard)
    return seen


def screenshot(page: Page, test_name: str, label: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{test_name}-{label}")
    path = SCREENSHOTS / f"{safe}.png"
    page.screenshot(path=str(path), full_page=True, timeout=TIMEOUT_MS)
    return path


def wait_until(page: Page, predicate: Callable[[], Any], what: str, timeout: float = TIMEOUT_MS / 1000) -> Any:
    """Poll while letting the page's events through (a plain sleep would hold Playwright's event loop)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        page.wait_for_timeout(100)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def log_in(page: Page, username: str, password: str = PASSWORD, path: str = "/") -> None:
    """Log in through the form (the page at `path` shows it when there is no token) and wait for the app."""
    page.goto(path)
    form = page.locator("form#login-form")
    form.locator("input[name=username]").fill(username)
    form.locator("input[name=password]").fill(password)
    form.locator("button[type=submit]").click()
    expect(page.locator("#app")).to_be_visible()
    expect(page.locator("#whoami")).to_contain_text(username)


def session_value(page: Page, key: str) -> Any:
    return page.evaluate("key => window.sessionStorage.getItem(key)", key)


class Api:
    """The HTTP API as a user (created here), through the real server; for fixture data and cross-checks."""

    def __init__(self, base: str, username: str, role: str = "user") -> None:
        create_user(username, role)
        self.base, self.username = base, username
        response = requests.post(f"{base}/api/v1/auth/login", json={"username": username, "password": PASSWORD},
                                 timeout=10)
        assert response.status_code == 200, response.text
        self.headers = {"Authorization": f"Bearer {response.json()['access_token']}"}

    def call(self, method: str, path: str, expected: int | tuple[int, ...] = 200, **kwargs: Any) -> Any:
        response = requests.request(method, f"{self.base}/api/v1{path}", headers=self.headers, timeout=10, **kwargs)
        assert response.status_code in ((expected,) if isinstance(expected, int) else expected), \
            f"{method} {path}: {response.status_code} {response.text}"
        return response.json() if response.content else None

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, json: Any, expected: int | tuple[int, ...] = 200) -> Any:
        return self.call("POST", path, expected, json=json)

    def project(self, name: str, repo: Path, steps: list[dict[str, Any]]) -> None:
        self.post("/projects", {"name": name, "repo_url": str(repo), "build_steps": steps}, expected=201)

    def build(self, project: str) -> str:
        return str(self.post("/builds", {"project_name": project}, expected=202)["task_id"])


def gated_steps(gate: Path, before: str, after: str) -> list[dict[str, Any]]:
    """Build steps that echo `before`, wait (at most a minute) until the test creates `gate`, then echo `after`:
    the test decides how long the build stays `running`, so nothing depends on timing."""
    wait = f"for i in $(seq 600); do [ -e '{gate}' ] && break; sleep 0.1; done"
    return [{"name": "before", "run": f"echo {before}"}, {"name": "wait", "run": wait},
            {"name": "after", "run": f"echo {after}"}]
