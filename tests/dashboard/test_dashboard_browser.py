"""The web dashboard in a real browser (Playwright driving Debian's chromium) against a real gunicorn server and
a real dramatiq worker. Every test fails on a console error, an uncaught page error, a response >= 400 it did not
provoke, or a request that would leave 127.0.0.1; screenshots go to artifacts/screenshots/."""
from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from core.runtime import Runtime
from domain import alerting
from models.alert import Alert
from models.db import db, utc_naive
from models.user import User
from tests.conftest import create_user
from tests.dashboard.browser import (
    Api,
    Page,
    Watch,
    expect,
    gated_steps,
    is_local,
    log_in,
    session_value,
    wait_until,
)
from tests.support.processes import wait_for
from tests.support.receiver import receiving

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


def build_link(page: Page, task_id: str) -> Any:
    return page.locator(f'table#builds a.status[data-task-id="{task_id}"]')


def raise_alert(runtime: Runtime, username: str, key: str) -> int:
    """An alert owned by `username`, raised the way the platform raises them (outbox, WebSocket relay)."""
    with db.connection_context():
        owner = User.get(User.username == username).id
        alerting.publish(runtime.broker, alerting.raise_alert(
            runtime.redis, f"browser|{key}", owner_id=owner, rule_name=f"browser.{key}", metric="browser.metric",
            severity="CRITICAL", tags={"key": key}, message=f"{key} needs attention", context={}))
        return int(Alert.get(Alert.open_key == f"browser|{key}").id)


def test_login_stores_the_tokens_and_a_wrong_password_stores_nothing(
        page: Page, seen: Watch, shot: Callable[[str], None], api_server: str) -> None:
    create_user("alice")
    page.goto("/")
    expect(page.locator("#login")).to_be_visible()
    expect(page.locator("#app")).to_be_hidden()
    shot("login-form")

    seen.expect_failure("/api/v1/auth/login", 401)
    form = page.locator("form#login-form")
    form.locator("input[name=username]").fill("alice")
    form.locator("input[name=password]").fill("not-the-password")
    form.locator("button[type=submit]").click()
    expect(page.locator("#login-error")).not_to_be_empty()
    expect(page.locator("#login-error")).to_be_visible()
    expect(page.locator("#app")).to_be_hidden()
    assert session_value(page, "token") is None and session_value(page, "refresh_token") is None
    shot("wrong-password")

    log_in(page, "alice")
    token = session_value(page, "token")
    assert token and session_value(page, "refresh_token")
    me = requests.get(f"{api_server}/api/v1/users/me", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert me.status_code == 200 and me.json()["username"] == "alice"
    shot("logged-in")

    page.locator("button#logout").click()
    expect(page.locator("#login")).to_be_visible()
    expect(page.locator("#app")).to_be_hidden()
    assert session_value(page, "token") is None


def test_a_build_started_from_the_form_goes_running_then_completed_live_and_shows_its_log(
        page: Page, shot: Callable[[str], None], api_server: str, worker: Any, repo: Path, step_dir: Path) -> None:
    api = Api(api_server, "builder")
    gate = step_dir / "gate"
    api.project("browser-demo", repo, gated_steps(gate, "warming-up", "hello-from-build"))
    log_in(page, "builder")
    page.evaluate("window.__marker = 1")

    form = page.locator("form#start-build")
    expect(form.locator("select[name=project_name] option", has_text="browser-demo")).to_have_count(1)
    form.locator("select[name=project_name]").select_option("browser-demo")
    form.locator("input[name=ref]").fill("main")
    form.locator("button[type=submit]").click()
    link = page.locator("table#builds tr.build a.status[data-task-id]")
    expect(link).to_have_count(1)
    task_id = str(link.get_attribute("data-task-id"))
    assert api.get(f"/builds/{task_id}")["project_name"] == "browser-demo"

    expect(link).to_have_text("running")  # the build waits at the gate until the page has shown this
    shot("running")
    gate.touch()
    expect(build_link(page, task_id)).to_have_text("completed")
    # The row and the cards follow at once, not at their next poll (5 s and 15 s).
    row = page.locator("table#builds tr.build", has=page.locator(f'a.status[data-task-id="{task_id}"]'))
    expect(row.locator("td.took")).not_to_be_empty(timeout=2500)
    expect(page.locator("#summary .stat", has_text="Builds, last 24 h")).to_contain_text("completed", timeout=2500)
    assert page.evaluate("window.__marker") == 1, "the page reloaded or navigated"
    shot("completed")

    build_link(page, task_id).click()
    expect(page.locator("#log-panel")).to_be_visible()
    expect(page.locator("pre#log-lines")).to_contain_text("hello-from-build")
    expect(page.locator("pre#log-lines")).to_contain_text("warming-up")
    shot("log")


def test_the_log_of_a_running_build_grows_live(
        page: Page, shot: Callable[[str], None], api_server: str, worker: Any, repo: Path, step_dir: Path) -> None:
    api = Api(api_server, "watcher")
    gate = step_dir / "gate"
    api.project("live-log", repo, gated_steps(gate, "first-line", "second-line"))
    log_in(page, "watcher")
    page.evaluate("window.__marker = 1")
    task_id = api.build("live-log")  # after the page loaded: the list must pick it up by itself
    expect(build_link(page, task_id)).to_have_text("running")
    build_link(page, task_id).click()

    lines = page.locator("pre#log-lines")
    expect(page.locator("#log-panel")).to_be_visible()
    expect(lines).to_contain_text("first-line")
    expect(page.locator("button#cancel-build")).to_be_visible()
    expect(lines).not_to_contain_text("second-line")
    shot("first-line")
    gate.touch()
    expect(lines).to_contain_text("second-line")
    expect(build_link(page, task_id)).to_have_text("completed")
    assert re.search(r"first-line[\s\S]*second-line", lines.inner_text()), "lines out of order"
    assert page.evaluate("window.__marker") == 1, "the page reloaded or navigated"
    shot("second-line")


def test_acknowledging_an_alert(runtime: Runtime, page: Page, shot: Callable[[str], None], api_server: str) -> None:
    api = Api(api_server, "oncall")
    alert_id = raise_alert(runtime, "oncall", "disk")
    log_in(page, "oncall", path="/alerts")
    row = page.locator(f'table#alerts tr.alert[data-alert-id="{alert_id}"]')
    expect(row.locator(".alert-status")).to_have_text("pending")
    shot("pending")
    row.locator("button.acknowledge").click()
    expect(row.locator(".alert-status")).to_have_text("acknowledged")
    expect(row.locator("button.acknowledge")).to_have_count(0)
    assert api.get(f"/alerts/{alert_id}")["status"] == "acknowledged"
    shot("acknowledged")


def test_a_new_alert_arrives_over_the_websocket_at_the_top(runtime: Runtime,
        page: Page, seen: Watch, shot: Callable[[str], None], api_server: str) -> None:
    Api(api_server, "pager")
    older = raise_alert(runtime, "pager", "older")
    log_in(page, "pager", path="/alerts")
    expect(page.locator(f'tr.alert[data-alert-id="{older}"]')).to_be_visible()
    page.evaluate("window.__marker = 1")
    # Raise it only once the page has subscribed: alerts raised before that are not relayed to it.
    wait_until(page, lambda: any('"subscribed"' in frame for url, frame in seen.ws_frames if "/ws/alerts" in url),
               "the page to subscribe on the alerts WebSocket")

    newer = raise_alert(runtime, "pager", "newer")
    expect(page.locator("table#alerts tr.alert").first).to_have_attribute("data-alert-id", str(newer))
    expect(page.locator(f'tr.alert[data-alert-id="{newer}"] .alert-status')).to_have_text("pending")
    expect(page.locator(f'tr.alert[data-alert-id="{older}"]')).to_be_visible()
    assert page.evaluate("window.__marker") == 1, "the page reloaded or navigated"
    shot("live-alert")


@pytest.mark.local_receivers
def test_webhook_deliveries_show_every_attempt_and_a_redelivery_sends_the_same_id(
        page: Page, shot: Callable[[str], None], api_server: str, worker: Any) -> None:
    api = Api(api_server, "integrator")
    with receiving([200]) as receiver:
        hook = api.post("/webhooks", {"name": "browser-hook", "url": receiver.url, "events": ["deployment.*"]},
                        expected=201)
        api.post("/events", {"type": "deployment.completed", "data": {"service": "web"}}, expected=202)
        [delivery] = wait_for(lambda: [d for d in api.get(f"/webhooks/{hook['id']}/deliveries")["items"]
                                       if d["status"] == "succeeded"], timeout=30, what="the delivery")
        assert receiver.count() == 1

        log_in(page, "integrator", path="/webhooks")
        page.locator(f'table#webhooks tr.webhook[data-webhook-id="{hook["id"]}"] button.show-deliveries').click()
        row = page.locator(f'table#deliveries tr.delivery[data-delivery-id="{delivery["id"]}"]')
        expect(row.locator(".delivery-status")).to_contain_text("succeeded")
        expect(row.locator("ol.attempts li")).to_have_count(1)
        shot("deliveries")

        row.locator("button.redeliver").click()
        expect(page.locator("#flash")).to_contain_text("Redelivery queued")
        wait_until(page, lambda: receiver.count() == 2, "the redelivery to reach the receiver")
        ids = [r.headers["webhook-id"] for r in receiver.requests]
        assert ids == [delivery["id"], delivery["id"]]
        expect(row.locator("ol.attempts li")).to_have_count(2)  # the table refreshes itself
        expect(row.locator(".delivery-status")).to_contain_text("succeeded")
        shot("redelivered")


def test_the_metrics_chart_draws_one_point_per_point_of_the_series(
        page: Page, seen: Watch, shot: Callable[[str], None], api_server: str) -> None:
    api = Api(api_server, "grapher")
    now = utc_naive()
    values = [(2, 30.0), (4, 55.5), (6, 42.0), (8, 71.25), (10, 12.0)]  # minutes ago, value
    points = [{"name": "cpu.usage", "value": v, "unit": "percent",
               "timestamp": (now - timedelta(minutes=m)).isoformat() + "Z"} for m, v in values]
    api.post("/metrics", {"metrics": [*points, {"name": "mem.usage", "value": 1.0}]}, expected=202)

    log_in(page, "grapher")
    page.locator("nav a", has_text="Metrics").click()  # by the nav: /metrics itself is Prometheus's
    expect(page.locator("select#metric-name option", has_text="cpu.usage")).to_have_count(1)
    page.locator("select#metric-resolution").select_option("raw")  # rollups only exist after the job ran
    page.locator("select#metric-name").select_option("cpu.usage")

    def series() -> list[Any]:
        return [r for r in seen.responses if urlsplit(r.url).path == "/api/v1/metrics" and r.ok
                and parse_qs(urlsplit(r.url).query).get("name") == ["cpu.usage"]
                and parse_qs(urlsplit(r.url).query).get("resolution", ["raw"]) == ["raw"]]

    wait_until(page, series, "the page to fetch the cpu.usage series")
    returned = series()[-1].json()["metrics"]
    assert len(returned) == len(values)
    expect(page.locator("svg#chart path.series")).not_to_have_count(0)
    expect(page.locator("svg#chart circle.point")).to_have_count(len(returned))
    shot("chart")


def test_the_system_page_shows_queues_workers_and_jobs_to_an_admin(
        page: Page, shot: Callable[[str], None], api_server: str, worker: Any) -> None:
    Api(api_server, "root", role="admin")
    log_in(page, "root", path="/system")
    for section in ("#queues", "#workers", "#scheduler", "#jobs", "#cache"):
        expect(page.locator(section)).to_be_visible()
    expect(page.locator("#jobs")).to_contain_text("warm_cache")
    expect(page.locator("#queues")).not_to_be_empty()
    shot("system")


def test_on_a_phone_the_builds_table_and_nav_fit_the_width(
        page: Page, shot: Callable[[str], None], api_server: str, worker: Any, repo: Path) -> None:
    api = Api(api_server, "mobile")
    api.project("a-rather-long-project-name-for-a-small-screen", repo, [{"name": "say", "run": "echo hi"}])
    task_id = api.build("a-rather-long-project-name-for-a-small-screen")
    wait_for(lambda: api.get(f"/builds/{task_id}")["status"] == "completed", timeout=30, what="the build")
    page.set_viewport_size({"width": 390, "height": 844})

    log_in(page, "mobile")
    expect(build_link(page, task_id)).to_have_text("completed")
    expect(page.locator("nav")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, "the builds page scrolls sideways"
    shot("builds")
    build_link(page, task_id).click()
    expect(page.locator("#log-panel")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, "the log panel scrolls sideways"

    page.locator('nav a[href="/alerts"]').click()
    expect(page).to_have_url(re.compile(r"/alerts$"))
    expect(page.locator("table#alerts")).to_be_attached()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, "the alerts page scrolls sideways"
    shot("alerts")


def only_local_requests(seen: Watch) -> None:
    assert seen.requests, "no requests recorded"
    assert [url for url in seen.requests if not is_local(url)] == [], "requests that leave 127.0.0.1"
    assert any(urlsplit(url).path == "/openapi.json" for url in seen.requests)


def test_swagger_ui_renders_offline(page: Page, seen: Watch, shot: Callable[[str], None]) -> None:
    page.goto("/docs")
    expect(page.locator(".opblock").first).to_be_visible()
    assert page.locator(".opblock").count() > 5
    # A spec this long is drawn as it scrolls into view (Swagger UI virtualizes it): the last tag's operations too.
    for _ in range(100):
        if page.locator("#operations-tag-velocity").count():
            break
        page.mouse.wheel(0, 2000)
    expect(page.locator("#operations-tag-velocity")).to_be_visible()
    expect(page.locator("[id^=operations-velocity-]").first).to_be_visible()
    shot("swagger")
    only_local_requests(seen)


def test_redoc_renders_offline(page: Page, seen: Watch, shot: Callable[[str], None]) -> None:
    page.goto("/redoc")
    rendered = page.locator("[role=search]").or_(page.get_by_role("heading", name=re.compile("Conveyor")))
    expect(rendered.first).to_be_visible()
    shot("redoc")
    only_local_requests(seen)
