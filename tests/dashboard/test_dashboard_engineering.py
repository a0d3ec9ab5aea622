"""The Engineering page in a real browser, against the API under gunicorn: an organization's DORA figures and cycle
time, the stages' breakdown and the weekly series as SVG bars, and a team chosen from the list with its velocity."""
from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from domain.engineering.ingest import ingest
from domain.engineering.records import Activity, IssueRecord, MilestoneRecord, Person, PullRecord, ReviewRecord
from domain.engineering.rollup import roll_up
from models.db import db, utc_naive
from models.repository import Repository
from tests.dashboard.browser import Api, Page, expect, log_in

ADA = Person("github", user_id="1", login="ada", name="Ada")
BOB = Person("github", user_id="2", login="bob", name="Bob")


def test_the_engineering_page_shows_an_organizations_cycle_time_and_dora(
        page: Page, shot: Callable[[str], None], api_server: str) -> None:
    api = Api(api_server, "manager")
    org = api.post("/organizations", {"name": "Acme"}, expected=201)
    team = api.post("/teams", {"organization_id": org["id"], "name": "Platform"}, expected=201)
    opened = utc_naive().replace(microsecond=0) - timedelta(days=3)
    with db.connection_context():
        repo = Repository.create(organization=org["id"], name="widgets", url="https://github.com/acme/widgets",
                                 full_name="acme/widgets", provider="github", api_url="https://api.github.com",
                                 hook_secret="hook-secret-for-the-test", team=team["id"])
        sprint = MilestoneRecord("1", "Sprint 1", "closed", opened + timedelta(days=1),
                                 opened_at=opened - timedelta(days=9))
        ingest(repo, Activity(issues=[  # planned 5 points, completed 3
            IssueRecord(1, "One", ADA, "closed", opened - timedelta(days=10), opened, opened, sprint, 3),
            IssueRecord(2, "Two", ADA, "open", opened - timedelta(days=10), opened, None, sprint, 2)]))
        ingest(repo, Activity(  # opened, picked up after 1 h, merged 3 h after that: a 4 h cycle
            pulls=[PullRecord(number=1, title="Change", author=ADA, state="merged", opened_at=opened,
                              updated_at=opened + timedelta(hours=4), merged_at=opened + timedelta(hours=4),
                              closed_at=opened + timedelta(hours=4))],
            reviews=[ReviewRecord(1, "r1", BOB, "approved", opened + timedelta(hours=1))]))
        roll_up()  # as the scheduled job does

    log_in(page, "manager", path="/engineering")
    expect(page.locator("select#engineering-organization option")).to_have_text(["Acme"])
    expect(page.locator("select#engineering-team option")).to_have_text(["All teams", "Platform"])
    expect(page.locator("#cycle dl")).to_contain_text("1 (0 deployed)")
    expect(page.locator("#cycle dl")).to_contain_text("4 h")
    expect(page.locator("#dora dl")).to_contain_text("change failure rate")
    expect(page.locator("svg#cycle-breakdown rect")).to_have_count(2)  # pickup 1 h, review 3 h
    expect(page.locator("svg#cycle-breakdown")).to_contain_text("review 3 h")
    expect(page.locator("svg#cycle-series rect")).not_to_have_count(0)
    shot("engineering")

    expect(page.locator("#velocity-caption")).to_contain_text("Pick a team")

    page.locator("select#engineering-team").select_option(label="Platform")  # nobody in it yet
    expect(page.locator("#cycle dl")).to_contain_text("0 (0 deployed)")
    expect(page.locator("svg#cycle-breakdown")).to_contain_text("no data")
    expect(page.locator("svg#velocity-sprints")).to_contain_text("Sprint 1 (3/5)")  # its repository's milestone
    expect(page.locator("svg#velocity-sprints rect.planned title")).to_have_text(["Sprint 1: 5 points planned"])
    expect(page.locator("svg#velocity-sprints rect.completed title")).to_have_text(["Sprint 1: 3 points completed"])
    expect(page.locator("#velocity dl")).to_contain_text("3 points (ended sprints)")
    shot("engineering-velocity")
