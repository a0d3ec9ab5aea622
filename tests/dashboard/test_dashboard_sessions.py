"""The dashboard across roles and sessions: a viewer's pages make no call it may not make, and a session that
ends while a page is open leads to the login form, after which the page starts once (not twice)."""
from __future__ import annotations

from collections.abc import Callable

import pytest
import requests

from tests.conftest import PASSWORD
from tests.dashboard.browser import Api, Page, Watch, expect, log_in, session_value

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


def test_a_viewer_sees_every_page_without_a_refused_call_or_a_write_button(
        page: Page, seen: Watch, shot: Callable[[str], None], api_server: str) -> None:
    Api(api_server, "reader", role="viewer")
    log_in(page, "reader")
    expect(page.locator("#builds")).to_be_visible()
    expect(page.locator("#start-card")).to_be_hidden()
    expect(page.locator("#summary .stat")).to_have_count(4)
    for path, shown, absent in (("/webhooks", "#no-webhooks", "#deliveries-card:visible"),
                                ("/alerts", "#alerts", "button.acknowledge, button.resolve"),
                                ("/charts", "#chart", "#metric-form:has(button)"),
                                ("/system", "#queues", "#jobs:visible, button.run-job")):
        page.locator(f'nav a[href="{path}"]').click()
        expect(page.locator(shown)).to_be_visible()
        expect(page.locator(absent)).to_have_count(0)
        expect(page.locator("#flash.error")).to_have_count(0)
        page.wait_for_timeout(500)  # let the page's first reads land: a 403 among them fails the test
    expect(page.locator("#workers")).to_be_visible()
    shot("viewer-system")


def test_after_the_session_ends_elsewhere_logging_in_again_starts_the_page_once(
        page: Page, seen: Watch, shot: Callable[[str], None], api_server: str) -> None:
    Api(api_server, "returning")
    log_in(page, "returning")

    # Log this tab's session out from elsewhere: its access and refresh tokens stop working at once.
    token = session_value(page, "token")
    assert requests.post(f"{api_server}/api/v1/auth/logout", headers={"Authorization": f"Bearer {token}"},
                         timeout=10).status_code == 204
    seen.expect_failure("/api/v1/", 401)  # the page's next read, and its one refresh attempt
    expect(page.locator("#login")).to_be_visible()
    expect(page.locator("#login-error")).to_contain_text("session has ended")
    assert session_value(page, "token") is None
    shot("session-ended")

    form = page.locator("form#login-form")
    form.locator("input[name=username]").fill("returning")
    form.locator("input[name=password]").fill(PASSWORD)
    form.locator("button[type=submit]").click()
    expect(page.locator("#app")).to_be_visible()
    expect(page.locator("#whoami")).to_contain_text("returning")

    # One page, one set of timers: the builds list is read at the start and every 5 s, so 2 or 3 reads in
    # 14.5 s. Starting the page again on top of the first one's timers would make that 4 to 6.
    before = len(seen.requests)
    page.wait_for_timeout(14500)
    reads = [url for url in seen.requests[before:] if "/api/v1/builds?limit=20" in url]
    assert 1 <= len(reads) <= 3, reads
    shot("logged-in-again")
