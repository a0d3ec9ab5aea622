"""The browser fixtures of the dashboard tests: one Chromium per session,
and per test a fresh context whose page is watched (see browser.py) and screenshotted."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.dashboard.browser import TIMEOUT_MS, Browser, Page, Watch, running_browser, screenshot, watch

WATCH = pytest.StashKey[Watch]()
SHOTS = pytest.StashKey[list[Path]]()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    yield from running_browser()


@pytest.fixture
def page(browser: Browser, api_server: str, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh browser context on the test's server. Teardown: a screenshot if the test failed (or took none),
    then no console errors, page errors, unexpected failed responses or foreign requests allowed."""
    failures_before = request.session.testsfailed
    context = browser.new_context(base_url=api_server, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    page = context.new_page()
    request.node.stash[WATCH] = watch(page)
    request.node.stash[SHOTS] = shots = []
    yield page
    problems = request.node.stash[WATCH].problems()
    failed = request.session.testsfailed > failures_before or bool(problems)
    try:
        if failed or not shots:
            shots.append(screenshot(page, request.node.name, "failed" if failed else "end"))
    finally:
        context.close()
    if problems:
        pytest.fail("the page reported problems:\n" + "\n".join(problems), pytrace=False)


@pytest.fixture
def seen(page: Page, request: pytest.FixtureRequest) -> Watch:
    return request.node.stash[WATCH]


@pytest.fixture
def shot(page: Page, request: pytest.FixtureRequest) -> Callable[[str], None]:
    def take(label: str) -> None:
        request.node.stash[SHOTS].append(screenshot(page, request.node.name, label))

    return take


