"""Cycle time, pull request metrics and timelines (domain/engineering/cycle.py, links.py, pull_analytics.py) on a
hand-computed scenario: five pull requests with known times, reviews (one by a bot, one by the author), CI runs on
a head commit, a squash merge, and deployments (one failed, one of an older commit, one of another organization's
CI source). Every figure the answers hold is stated here, worked out by hand from the times below.

Times are 2026-11-02 (a Monday) to 2026-11-04, UTC. The pull requests:
  #1 alice: first commit 09:00, opened 10:00, bot comment 10:05, bob comments 11:00 and approves 12:00, CI on its
     head 10:10-10:40 and 10:20-10:50, merged 14:00 as m1, deployed by D1 (head m1) at 16:00.
     coding 1 h, pickup 1 h, review 3 h, testing 40 min, deployment 2 h, cycle 09:00 -> 16:00 = 7 h.
  #2 alice (squash): first commit unknown, opened Nov 3 09:00, bob approves 09:30, merged 10:30 as s2 (10:30),
     D2 (head x, committed 11:00) finishes 12:00: pickup 0.5 h, review 1 h, deployment 1.5 h, cycle 3 h.
  #3 alice: first commit Nov 3 12:00, opened 13:00, reviewed only by a bot and herself, merged 15:00 as m3; D3
     failed at 16:00, D4 (18:00) deployed an older commit (14:00), D5 (head y, 15:30) finishes Nov 4 09:00:
     coding 1 h, no pickup, no review, deployment 18 h, cycle 21 h.
  #4 alice: opened Nov 4 10:00, bob comments 11:00, closed unmerged 12:00: pickup 1 h.
  #5 dependabot[bot]: opened Nov 4 08:00, merged 08:30: a bot's, left out unless asked for.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from domain.dora import dora
from domain.engineering.ingest import ingest
from domain.engineering.links import pipelines_of
from domain.engineering.pull_analytics import change_lead_hours, cycle_time, pull_request_metrics, timeline
from domain.engineering.pull_facts import Scope, measured_facts
from domain.engineering.records import Activity, CommitRecord, Person, PullRecord, ReviewRecord
from domain.engineering.rollup import roll_up
from models.activity import PullRequest
from models.db import db
from models.developer import Developer, TeamMember
from models.organization import Organization, OrganizationMember, Team
from models.pipeline import CISource, Pipeline
from models.repository import Repository
from models.user import User

ALICE = Person("github", user_id="1001", login="alice", name="Alice")
BOB = Person("github", user_id="1002", login="bob", name="Bob")
BOT = Person("github", user_id="49699333", login="dependabot[bot]", bot=True)
START, END = datetime(2026, 11, 2), datetime(2026, 11, 5)  # the range: Nov 2 to Nov 4, whole days


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute)


def sha(name: str) -> str:
    return name.encode().hex().ljust(40, "0")[:40]


def pull(number: int, author: Person, opened: datetime, *, merged: datetime | None = None,
         closed: datetime | None = None, first: datetime | None = None, landed: str | None = None,
         head: str | None = None, lines: tuple[int, int] = (0, 0)) -> PullRecord:
    state = "merged" if merged else ("closed" if closed else "open")
    return PullRecord(number=number, title=f"PR {number}", author=author, state=state, opened_at=opened,
                      updated_at=merged or closed or opened, merged_at=merged, closed_at=closed or merged,
                      additions=lines[0], deletions=lines[1], merge_commit_sha=landed, first_commit_at=first,
                      head_sha=head)


def review(number: int, n: int, author: Person, state: str, when: datetime) -> ReviewRecord:
    return ReviewRecord(pull_number=number, external_id=f"{number}-{n}", author=author, state=state,
                        submitted_at=when)


def commit(name: str, when: datetime) -> CommitRecord:
    return CommitRecord(sha=sha(name), author=ALICE, authored_at=when, committed_at=when, message=name)


def ci_source(org: Organization, owner: str, member: bool) -> CISource:
    user = User.create(username=owner, password_hash="x")
    if member:
        OrganizationMember.create(organization=org.id, user=user.id, role="member")
    return CISource.create(owner=user.id, provider="github", repository="Acme/Widgets", api_url="https://x",
                           token="t")


def run(source: CISource, name: str, head: str, status: str, finished: datetime, *, deploy: bool,
        started: datetime | None = None) -> Pipeline:
    return Pipeline.create(source=source.id, external_id=name, repository=source.repository, is_deploy=deploy,
                           status=status, provider_status=status, started_at=started or finished,
                           finished_at=finished, commit_sha=sha(head))


@pytest.fixture
def scenario(org: Organization, github_repo: Repository) -> dict[str, Any]:
    activity = Activity(
        commits=[commit("m1", at(2, 14)), commit("s2", at(3, 10, 30)), commit("x", at(3, 11)),
                 commit("m3", at(3, 15)), commit("old", at(3, 14)), commit("y", at(3, 15, 30))],
        pulls=[pull(1, ALICE, at(2, 10), merged=at(2, 14), first=at(2, 9), landed=sha("m1"), head=sha("h1"),
                    lines=(100, 20)),
               pull(2, ALICE, at(3, 9), merged=at(3, 10, 30), landed=sha("s2"), lines=(30, 10)),
               pull(3, ALICE, at(3, 13), merged=at(3, 15), first=at(3, 12), landed=sha("m3"), lines=(5, 5)),
               pull(4, ALICE, at(4, 10), closed=at(4, 12), lines=(200, 0)),
               pull(5, BOT, at(4, 8), merged=at(4, 8, 30), lines=(1, 1))],
        reviews=[review(1, 1, BOT, "commented", at(2, 10, 5)), review(1, 2, BOB, "commented", at(2, 11)),
                 review(1, 3, BOB, "approved", at(2, 12)), review(2, 1, BOB, "approved", at(3, 9, 30)),
                 review(3, 1, BOT, "commented", at(3, 13, 30)), review(3, 2, ALICE, "commented", at(3, 14)),
                 review(4, 1, BOB, "commented", at(4, 11))])
    with db.connection_context():
        ingest(github_repo, activity)
        ours, theirs = ci_source(org, "ci-owner", member=True), ci_source(org, "stranger", member=False)
        run(ours, "ci-1", "h1", "success", at(2, 10, 40), deploy=False, started=at(2, 10, 10))
        run(ours, "ci-2", "h1", "failed", at(2, 10, 50), deploy=False, started=at(2, 10, 20))
        deploys = {name: run(ours, name, head, status, when, deploy=True).id for name, head, status, when in (
            ("D1", "m1", "success", at(2, 16)), ("D2", "x", "success", at(3, 12)),
            ("D3", "y", "failed", at(3, 16)), ("D4", "old", "success", at(3, 18)),
            ("D5", "y", "success", at(4, 9)))}
        # Another organization's source of the same repository: had it counted, #1 would be deployed at 14:30.
        run(theirs, "elsewhere", "m1", "success", at(2, 14, 30), deploy=True)
        pulls = {p.number: p.id for p in PullRequest.select()}
        developers = {d.name: d.id for d in Developer.select()}
        assert roll_up()["measured"] == 5  # the figures answer from the rollup (and each test checks it against
        # the same figures measured now from the raw rows)
    return {"deploys": deploys, "pulls": pulls, "developers": developers, "org": org, "repo": github_repo}


def figures(function: Any, scope: Scope, *args: Any) -> dict[str, Any]:
    """The figures from the rollup, which must be those measured now from the raw rows."""
    with db.connection_context():
        rolled, measured_now = function(scope, *args), function(scope, *args, facts=measured_facts)
    assert rolled == measured_now
    return rolled  # type: ignore[no-any-return]


def test_cycle_time_of_the_merged_pull_requests_stage_by_stage(scenario: dict[str, Any]) -> None:
    answer = figures(cycle_time, Scope(organization_id=scenario["org"].id), START, END, "weekly")
    assert answer["pull_requests"] == 3 and answer["deployed"] == 3  # #1, #2, #3; the bot's #5 left out
    assert answer["total_cycle_time_hours"] == 10.33  # (7 + 3 + 21) / 3
    assert answer["breakdown"] == {"coding_hours": 1.0,  # #1 and #3: #2's first commit is unknown
                                   "pickup_hours": 0.75,  # #1 1 h, #2 0.5 h; #3 had none but the bot's and hers
                                   "review_hours": 2.0,  # #1 3 h, #2 1 h
                                   "testing_hours": 0.67,  # #1: 10:10 -> 10:50
                                   "deployment_hours": 7.17}  # (2 + 1.5 + 18) / 3
    assert answer["percentiles"] == {"p50": 7.0, "p75": 14.0, "p90": 18.2}  # of [3, 7, 21], interpolated
    assert answer["series"] == [{"period_start": datetime(2026, 11, 2), "pull_requests": 3,
                                 "total_cycle_time_hours": 10.33, "p50": 7.0}]
    assert (answer["previous"], answer["trend"]) == (None, "no_data")  # nothing merged Oct 30 - Nov 1


def test_bots_count_only_when_asked_for(scenario: dict[str, Any]) -> None:
    answer = figures(cycle_time, Scope(organization_id=scenario["org"].id, include_bots=True), START, END, "weekly")
    assert answer["pull_requests"] == 4 and answer["deployed"] == 3  # #5: merged after D5's head: not deployed
    assert answer["total_cycle_time_hours"] == 7.88  # (7 + 3 + 21 + 0.5) / 4: opened -> merged for #5


def test_pull_request_metrics(scenario: dict[str, Any]) -> None:
    answer = figures(pull_request_metrics, Scope(organization_id=scenario["org"].id), START, END)
    # opened -> merged: #1 4 h, #2 1.5 h, #3 2 h
    assert answer["time_to_merge_hours"] == {"mean": 2.5, "p50": 2.0, "p75": 3.0, "p90": 3.6, "samples": 3}
    assert answer["pickup_hours"] == {"mean": 0.83, "p50": 1.0, "p75": 1.0, "p90": 1.0, "samples": 3}
    assert answer["review_depth"] == {"mean": 1.0, "p50": 1.0, "p75": 1.25, "p90": 1.7, "samples": 4}  # 2, 1, 0, 1
    assert answer["size_lines"] == {"mean": 92.5, "p50": 80.0, "p75": 140.0, "p90": 176.0, "samples": 4}
    assert answer["merge_rate"] == {"merged": 3, "closed": 4, "rate": 0.75}
    assert (answer["opened"], answer["merged"]) == (4, 3)


def test_a_scope_with_no_pull_requests_answers_zeros_and_no_data(scenario: dict[str, Any]) -> None:
    with db.connection_context():
        team = Team.create(organization=scenario["org"].id, name="Reviewers")
        TeamMember.create(team=team.id, developer=scenario["developers"]["Bob"])
    answer = figures(cycle_time, Scope(team_id=team.id), START, END, "daily")
    assert answer["pull_requests"] == 0 and answer["total_cycle_time_hours"] == 0.0
    assert set(answer["breakdown"].values()) == {0.0} and set(answer["percentiles"].values()) == {0.0}
    assert answer["trend"] == "no_data" and [p["pull_requests"] for p in answer["series"]] == [0, 0, 0]
    metrics = figures(pull_request_metrics, Scope(team_id=team.id), START, END)
    assert metrics["merge_rate"] == {"merged": 0, "closed": 0, "rate": 0.0}
    assert metrics["time_to_merge_hours"]["p90"] == 0.0 and metrics["time_to_merge_hours"]["samples"] == 0


def test_a_developers_scope_is_their_own_pull_requests(scenario: dict[str, Any]) -> None:
    alice = figures(cycle_time, Scope(developer_id=scenario["developers"]["Alice"]), START, END, "weekly")
    everyone = figures(cycle_time, Scope(organization_id=scenario["org"].id), START, END, "weekly")
    assert alice == everyone  # every pull request but the bot's is hers
    one_day = figures(cycle_time, Scope(repository_id=scenario["repo"].id), START, at(3, 0), "daily")
    assert (one_day["pull_requests"], one_day["total_cycle_time_hours"]) == (1, 7.0)


def test_the_timeline_shows_each_stage_and_why_the_deployment_is_that_one(scenario: dict[str, Any]) -> None:
    with db.connection_context():
        first = timeline(scenario["pulls"][1])
        third = timeline(scenario["pulls"][3])
    assert first["stages"] == {"coding": 1.0, "pickup": 1.0, "review": 3.0, "testing": 0.67, "deployment": 2.0,
                               "cycle": 7.0}
    assert [(e["event"], e["at"]) for e in first["events"]] == [
        ("first_commit", at(2, 9)), ("opened", at(2, 10)), ("ci_started", at(2, 10, 10)),
        ("ci_finished", at(2, 10, 50)), ("first_review", at(2, 11)), ("merged", at(2, 14)),
        ("deployed", at(2, 16))]
    assert first["events"][4]["developer_id"] == scenario["developers"]["Bob"]
    assert first["deployment"]["pipeline_id"] == scenario["deploys"]["D1"]
    assert first["deployment"]["linked_by"] == "the deployment's head commit is the merge commit"
    assert first["review_depth"] == 2 and first["size_lines"] == 120
    assert third["stages"] == {"coding": 1.0, "pickup": None, "review": None, "testing": None, "deployment": 18.0,
                               "cycle": 21.0}
    assert third["deployment"]["pipeline_id"] == scenario["deploys"]["D5"]  # not D3 (failed), not D4 (older head)
    assert "2026-11-03T15:30:00Z" in third["deployment"]["linked_by"]


def test_an_unmerged_pull_request_has_no_cycle(scenario: dict[str, Any]) -> None:
    with db.connection_context():
        fourth = timeline(scenario["pulls"][4])
    assert fourth["stages"] == {"coding": None, "pickup": 1.0, "review": None, "testing": None, "deployment": None,
                                "cycle": None}
    assert [e["event"] for e in fourth["events"]] == ["opened", "first_review", "closed"]
    assert fourth["deployment"] is None


def dora_of(org: Organization, repositories: Any) -> dict[str, Any]:
    """DORA as the route computes it over registered repositories."""
    names = [r.full_name.lower() for r in repositories]
    scope = Scope(organization_id=org.id, repositories=repositories.select(Repository.id))
    return dora(pipelines_of({org.id}, names), START, END, "daily",
                lead_times=lambda start, end: change_lead_hours(scope, start, end))


def test_dora_over_an_organizations_repositories_measures_lead_time_from_first_commits(
        scenario: dict[str, Any]) -> None:
    org = scenario["org"]
    with db.connection_context():
        answer = dora_of(org, Repository.select().where(Repository.organization == org.id))
    # D1, D2, D4, D5 succeeded over 3 days; D3 failed; the stranger's deploy is not the organization's
    assert answer["deployment_frequency"]["deployments"] == 4 and answer["deployment_frequency"]["value"] == 1.33
    assert (answer["change_failure_rate"]["failed"], answer["change_failure_rate"]["total"]) == (1, 5)
    assert answer["time_to_restore"]["median_hours"] == 2.0  # D3 16:00 -> D4 18:00
    # each change from its first commit (or opening) to the deploy that shipped it: #2 3 h, #1 7 h, #3 21 h
    lead = answer["lead_time_for_changes"]
    assert (lead["median_hours"], lead["p90_hours"], lead["samples"]) == (7.0, 18.2, 3)


def test_dora_of_a_team_is_its_repositories(scenario: dict[str, Any]) -> None:
    org, repo = scenario["org"], scenario["repo"]
    with db.connection_context():
        platform, other = Team.create(organization=org.id, name="Platform"), Team.create(organization=org.id,
                                                                                         name="Other")
        Repository.update(team=platform.id).where(Repository.id == repo.id).execute()
        theirs = dora_of(org, Repository.select().where(Repository.team == platform.id))
        nobodys = dora_of(org, Repository.select().where(Repository.team == other.id))
    assert theirs["lead_time_for_changes"]["samples"] == 3 and theirs["deployment_frequency"]["deployments"] == 4
    assert nobodys["deployment_frequency"]["deployments"] == 0
    assert nobodys["lead_time_for_changes"] == {"median_hours": None, "p90_hours": None, "samples": 0,
                                                "previous": None, "trend": "no_data"}
