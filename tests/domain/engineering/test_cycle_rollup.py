"""The rollup's answers equal a brute-force recomputation from the raw rows, on random histories (seeded), before
and after late activity: reviews arriving for old pull requests, deploy runs found late, two developers merged.

The brute force below restates docs/engineering-analytics.md's definitions one pull request at a time, with a
query per thing it needs and its own percentile; it shares no code with `domain/engineering` beyond the models."""
from __future__ import annotations

import math
import random
from datetime import datetime, timedelta
from typing import Any

import pytest

from domain.dora import hours_spread
from domain.engineering import identities
from domain.engineering.ingest import ingest
from domain.engineering.pull_analytics import change_lead_hours, change_lead_spread, cycle_time, pull_request_metrics
from domain.engineering.pull_facts import Scope, measured_facts
from domain.engineering.records import Activity, CommitRecord, Person, PullRecord, ReviewRecord
from domain.engineering.rollup import full_due, roll_up
from models.activity import Commit, PullRequest, Review
from models.cycles import CycleWatermark, PullRequestCycle
from models.db import db, utc_naive
from models.developer import Developer, TeamMember
from models.organization import Organization, OrganizationMember, Team
from models.pipeline import CISource, Pipeline
from models.repository import Repository
from models.user import User
from tests.domain.engineering.conftest import make_repository

DAY0 = datetime(2026, 11, 1)
PEOPLE = [Person("github", user_id=str(100 + n), login=f"dev{n}", name=f"Dev {n}") for n in range(4)] + [
    Person("github", user_id="999", login="renovate[bot]", bot=True)]
STAGES = ("coding", "pickup", "review", "testing", "deployment")
START, END = DAY0 + timedelta(days=2), DAY0 + timedelta(days=9)


def sha(n: int) -> str:
    return f"{n:040x}"


def moment(rng: random.Random, low: datetime, hours: float) -> datetime:
    return low + timedelta(minutes=rng.randrange(int(hours * 60) + 1))


class History:
    """A random history of two repositories of one organization, and what later arrives for it."""

    def __init__(self, org: Organization, rng: random.Random) -> None:
        self.org, self.rng = org, rng
        self.repos = [make_repository(org, "github", path) for path in ("acme/widgets", "acme/gadgets")]
        with db.connection_context():
            owner = User.create(username=f"ci-{rng.random()}", password_hash="x")
            OrganizationMember.create(organization=org.id, user=owner.id)
            self.sources = {r.id: CISource.create(owner=owner.id, provider="github", repository=r.full_name.upper(),
                                                  api_url="https://x", token="t") for r in self.repos}
        self.next_sha, self.next_review, self.numbers = 1, 1, {r.id: 0 for r in self.repos}

    def commit(self, repo: Repository, when: datetime) -> str:
        self.next_sha += 1
        with db.connection_context():
            ingest(repo, Activity(commits=[CommitRecord(sha(self.next_sha), PEOPLE[0], when, when, "c")]))
        return sha(self.next_sha)

    def pulls(self, count: int) -> None:
        rng = self.rng
        for _ in range(count):
            repo = rng.choice(self.repos)
            self.numbers[repo.id] += 1
            number, author = self.numbers[repo.id], rng.choice(PEOPLE)
            opened = moment(rng, DAY0, 24 * 10)
            first = opened + timedelta(minutes=rng.randrange(-600, 120)) if rng.random() < 0.8 else None
            merged = opened + timedelta(minutes=rng.randrange(5, 3000)) if rng.random() < 0.7 else None
            closed = merged or (opened + timedelta(hours=rng.randrange(1, 50)) if rng.random() < 0.5 else None)
            landed = None
            if merged is not None and rng.random() < 0.9:
                landed = self.commit(repo, merged) if rng.random() < 0.7 else sha(10_000 + self.next_sha)
            head = sha(20_000 + rng.randrange(40))
            pull = PullRecord(number=number, title="t", author=author,
                              state="merged" if merged else ("closed" if closed else "open"), opened_at=opened,
                              updated_at=closed or opened, merged_at=merged, closed_at=closed,
                              additions=rng.randrange(0, 300) if rng.random() < 0.9 else None,
                              deletions=rng.randrange(0, 50), merge_commit_sha=landed, first_commit_at=first,
                              head_sha=head)
            with db.connection_context():
                ingest(repo, Activity(pulls=[pull], reviews=self.reviews(number, opened, rng.randrange(0, 4))))
            if rng.random() < 0.5:
                self.run(repo, head, moment(rng, opened, 5), deploy=False)

    def reviews(self, number: int, after: datetime, count: int) -> list[ReviewRecord]:
        found = []
        for _ in range(count):
            self.next_review += 1
            found.append(ReviewRecord(number, str(self.next_review), self.rng.choice(PEOPLE),
                                      self.rng.choice(("approved", "commented", "changes_requested")),
                                      moment(self.rng, after, 72)))
        return found

    def late_reviews(self, count: int) -> None:
        with db.connection_context():
            chosen = self.rng.sample(list(PullRequest.select()), count)
        for pull in chosen:
            repo = next(r for r in self.repos if r.id == pull.repository_id)
            with db.connection_context():
                ingest(repo, Activity(reviews=self.reviews(pull.number, pull.opened_at, 1)))

    def late_runs(self, count: int) -> None:
        with db.connection_context():
            chosen = self.rng.sample(list(PullRequest.select()), count)
        for pull in chosen:
            repo = next(r for r in self.repos if r.id == pull.repository_id)
            self.run(repo, pull.head_sha, moment(self.rng, pull.opened_at, 30), deploy=False)

    def run(self, repo: Repository, head: str, started: datetime, deploy: bool, status: str = "success") -> None:
        with db.connection_context():
            Pipeline.create(source=self.sources[repo.id].id, external_id=f"run-{self.rng.random()}",
                            repository=self.sources[repo.id].repository, is_deploy=deploy, status=status,
                            provider_status=status, started_at=started,
                            finished_at=started + timedelta(minutes=self.rng.randrange(1, 90)), commit_sha=head,
                            commit_timestamp=None if self.rng.random() < 0.7 else started, updated_at=utc_naive())

    def deploys(self, count: int) -> None:
        for _ in range(count):
            repo = self.rng.choice(self.repos)
            when = moment(self.rng, DAY0, 24 * 12)
            head = self.commit(repo, when - timedelta(minutes=self.rng.randrange(0, 600)))
            self.run(repo, head, when, deploy=True, status="success" if self.rng.random() < 0.8 else "failed")


# The brute force ---------------------------------------------------------------------------------------------

def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    rank = q * (len(ordered) - 1)
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def hours(a: datetime | None, b: datetime | None) -> float | None:
    return None if a is None or b is None else max((b - a).total_seconds(), 0.0) / 3600


def commit_time(repo_id: int, commit_sha: str | None) -> datetime | None:
    found = Commit.get_or_none(Commit.repository == repo_id, Commit.sha == commit_sha) if commit_sha else None
    return (found.committed_at or found.authored_at) if found else None


def members_sources(pull: Any) -> list[CISource]:
    repo = Repository.get_by_id(pull.repository_id)
    members = {m.user_id for m in OrganizationMember.select().where(
        OrganizationMember.organization == repo.organization_id)}
    return [s for s in CISource.select() if s.owner_id in members and s.repository.lower() == repo.full_name.lower()]


def brute(pull: Any) -> dict[str, Any]:
    """One pull request's figures (hours), from the definitions."""
    bots = {d.id for d in Developer.select().where(Developer.is_bot == True)}  # noqa: E712
    others = [r for r in Review.select().where(Review.pull_request == pull.id)
              if r.developer_id is not None and r.developer_id != pull.developer_id and r.developer_id not in bots
              and r.submitted_at is not None]
    first = min((r.submitted_at for r in others), default=None)
    sources = [s.id for s in members_sources(pull)]
    runs = list(Pipeline.select().where(
        Pipeline.source << sources, Pipeline.is_deploy == False,  # noqa: E712
        Pipeline.status << ["success", "failed"], Pipeline.commit_sha == pull.head_sha)) \
        if pull.head_sha and sources else []
    deployed = None
    if pull.merged_at is not None and sources:
        landed = commit_time(pull.repository_id, pull.merge_commit_sha) or pull.merged_at
        for run in Pipeline.select().where(Pipeline.source << sources, Pipeline.is_deploy == True,  # noqa: E712
                                           Pipeline.status == "success").order_by(Pipeline.finished_at, Pipeline.id):
            head_time = commit_time(pull.repository_id, run.commit_sha) or run.commit_timestamp
            if run.finished_at >= pull.merged_at and head_time is not None and (
                    run.commit_sha == pull.merge_commit_sha or head_time >= landed):
                deployed = run.finished_at
                break
    start = pull.first_commit_at if pull.first_commit_at and pull.first_commit_at <= pull.opened_at else pull.opened_at
    reviewed_before_merge = first is not None and (pull.merged_at is None or first <= pull.merged_at)
    span = (min(r.started_at for r in runs), max(r.finished_at for r in runs)) if runs else None
    return {
        "coding": hours(pull.first_commit_at, pull.opened_at) if pull.first_commit_at else None,
        "pickup": hours(pull.opened_at, first) if reviewed_before_merge else None,
        "review": hours(first, pull.merged_at) if reviewed_before_merge and pull.merged_at else None,
        "testing": (span[1] - span[0]).total_seconds() / 3600 if span and span[1] >= span[0] else None,
        "deployment": hours(pull.merged_at, deployed) if deployed else None,
        "cycle": hours(start, deployed or pull.merged_at) if pull.merged_at else None,
        "deployed": deployed, "depth": len(others),
        "size": None if pull.additions is None and pull.deletions is None
        else (pull.additions or 0) + (pull.deletions or 0),
        "bot": pull.developer_id in bots,
    }


def in_scope(pull: Any, scope: dict[str, Any]) -> bool:
    if scope.get("repository_id") and pull.repository_id != scope["repository_id"]:
        return False
    if scope.get("developer_id") and pull.developer_id != scope["developer_id"]:
        return False
    team = {m.developer_id for m in TeamMember.select().where(TeamMember.team == scope["team_id"])} \
        if scope.get("team_id") else None
    return team is None or pull.developer_id in team


def expected(scope: dict[str, Any]) -> dict[str, Any]:
    pulls = [(p, brute(p)) for p in PullRequest.select() if in_scope(p, scope)]
    pulls = [(p, f) for p, f in pulls if scope.get("include_bots") or not f["bot"]]
    merged = [(p, f) for p, f in pulls if p.merged_at and START <= p.merged_at < END]
    opened = [(p, f) for p, f in pulls if START <= p.opened_at < END]
    ended = [p for p, _ in pulls if p.state != "open" and START <= (p.merged_at or p.closed_at) < END]
    mean = lambda xs: round(sum(xs) / len(xs), 2) if xs else None  # noqa: E731
    cycles = [f["cycle"] for _, f in merged]
    leads = sorted(f["cycle"] for p, f in pulls if p.merged_at and START - timedelta(days=90) <= p.merged_at < END
                   and f["deployed"] and START <= f["deployed"] < END)
    return {
        "pull_requests": len(merged), "deployed": sum(1 for _, f in merged if f["deployed"]),
        "total": mean(cycles) if merged else 0.0,
        "breakdown": {s: (mean([f[s] for _, f in merged if f[s] is not None]) if merged else 0.0) for s in STAGES},
        "p75": (round(pct(cycles, 0.75), 2) if cycles else 0.0),
        "time_to_merge_p90": round(pct([hours(p.opened_at, p.merged_at) for p, _ in merged], 0.9), 2)
        if merged else None,
        "pickup_mean": mean([f["pickup"] for _, f in opened if f["pickup"] is not None]),
        "depth_p50": round(pct([float(f["depth"]) for _, f in opened], 0.5), 2) if opened else None,
        "merge_rate": (sum(p.state == "merged" for p in ended), len(ended)),
        "leads": [round(x, 6) for x in leads],
    }


def answered(scope: dict[str, Any]) -> dict[str, Any]:
    chosen = Scope(organization_id=scope.get("organization_id"), repository_id=scope.get("repository_id"),
                   developer_id=scope.get("developer_id"), team_id=scope.get("team_id"),
                   include_bots=scope.get("include_bots", False))
    cycle = cycle_time(chosen, START, END, "daily")
    metrics = pull_request_metrics(chosen, START, END)
    empty = not (metrics["merged"] or metrics["opened"] or metrics["merge_rate"]["closed"])
    return {
        "pull_requests": cycle["pull_requests"], "deployed": cycle["deployed"],
        "total": cycle["total_cycle_time_hours"],
        "breakdown": {s: cycle["breakdown"][f"{s}_hours"] for s in STAGES}, "p75": cycle["percentiles"]["p75"],
        "time_to_merge_p90": None if empty and not metrics["merged"] else metrics["time_to_merge_hours"]["p90"],
        "pickup_mean": None if empty else metrics["pickup_hours"]["mean"],
        "depth_p50": None if empty else metrics["review_depth"]["p50"],
        "merge_rate": (metrics["merge_rate"]["merged"], metrics["merge_rate"]["closed"]),
        "leads": sorted(round(x, 6) for x in change_lead_hours(chosen, START, END)),
    }


def scopes(history: History) -> list[dict[str, Any]]:
    with db.connection_context():
        developers = [d.id for d in Developer.select().where(Developer.organization == history.org.id)]
        team = Team.create(organization=history.org.id, name=f"team-{history.rng.random()}")
        for developer in history.rng.sample(developers, 2):
            TeamMember.create(team=team.id, developer=developer)
    return [{"organization_id": history.org.id}, {"organization_id": history.org.id, "include_bots": True},
            *({"repository_id": r.id} for r in history.repos), {"team_id": team.id},
            *({"developer_id": d} for d in developers)]


def same(got: Any, want: Any) -> bool:
    """Equal, but for the last rounded digit (the sums add the same hours in another order)."""
    if isinstance(want, dict):
        return set(got) == set(want) and all(same(got[k], want[k]) for k in want)
    if isinstance(want, list | tuple):
        return len(got) == len(want) and all(same(g, w) for g, w in zip(got, want, strict=True))
    if isinstance(want, float) and isinstance(got, float):
        return math.isclose(got, want, abs_tol=0.0101)
    return bool(got == want)


def age(hours: int = 1) -> None:
    """Everything so far changed `hours` before the last rollup started, not just before it: the next rollup must
    find what changes from now on by its marks, not because all of it lies within the rollup's overlap."""
    back = timedelta(hours=hours)
    with db.connection_context():
        for pull in PullRequest.select():
            PullRequest.update(changed_at=pull.changed_at - back).where(PullRequest.id == pull.id).execute()
        for run in Pipeline.select():
            Pipeline.update(updated_at=run.updated_at - back).where(Pipeline.id == run.id).execute()


def check_each(pull_ids: list[int]) -> None:
    """Every pull request's rolled row is what brute force finds for it."""
    rolled = {r.pull_request_id: r for r in PullRequestCycle.select()}
    for pull in PullRequest.select().where(PullRequest.id << pull_ids):
        want, row = brute(pull), rolled[pull.id]
        got = {s: None if getattr(row, s) is None else getattr(row, s) / 3600 for s in (*STAGES, "cycle")}
        assert same(got, {s: want[s] for s in (*STAGES, "cycle")}), (pull.number, got, want)
        assert (row.deployed_at, row.review_depth, row.size, row.is_bot) == (
            want["deployed"], want["depth"], want["size"], want["bot"]), pull.number


def check(history: History) -> None:
    with db.connection_context():
        roll_up()
        check_each([p.id for p in PullRequest.select()])
        for scope in scopes(history):
            want, got = expected(scope), answered(scope)
            if want["time_to_merge_p90"] is None:
                got["time_to_merge_p90"] = None  # no merged pull request: zeros or nulls both mean none
            if want["pickup_mean"] is None:
                got["pickup_mean"] = None
            if want["depth_p50"] is None:
                got["depth_p50"] = None
            assert same(got, want), (scope, got, want)
            chosen = Scope(**scope)
            for granularity in ("daily", "weekly"):  # every figure, the series too: SQL over the rollup as Python
                by_sql, by_python = (cycle_time(chosen, START, END, granularity, facts=facts)
                                     for facts in (None, measured_facts))
                assert same(by_sql, by_python), (scope, granularity)
            assert same(pull_request_metrics(chosen, START, END),
                        pull_request_metrics(chosen, START, END, facts=measured_facts)), scope
            assert same(change_lead_spread(chosen, START, END),
                        hours_spread(change_lead_hours(chosen, START, END, facts=measured_facts))), scope
    age()


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_the_rollup_answers_what_brute_force_finds_before_and_after_late_activity(
        org: Organization, seed: int) -> None:
    history = History(org, random.Random(seed))
    history.pulls(30)
    history.deploys(8)
    check(history)
    history.late_reviews(5)  # reviews of old pull requests
    history.deploys(3)  # deploy runs found late, some earlier than those already linked
    history.late_runs(4)  # CI runs on head commits
    check(history)
    with db.connection_context():  # two developers found to be one
        humans = list(Developer.select().where(Developer.organization == org.id, Developer.is_bot == False))  # noqa: E712
        identities.merge(org.id, humans[1], humans[0], None, "by owner")
    check(history)


def test_every_pull_request_is_measured_again_once_a_day(org: Organization) -> None:
    """A mark can be missed (a merge commit's time stored after its pull request was measured): once a day the job
    measures all of them."""
    history = History(org, random.Random(9))
    history.pulls(6)
    with db.connection_context():
        assert full_due() and roll_up(full=full_due())["full"]
        assert not full_due()
        assert roll_up(full=full_due())["full"] is False
        CycleWatermark.update(full_at=utc_naive() - timedelta(days=1, minutes=1)).execute()
        assert full_due() and roll_up(full=full_due()) == {"measured": 6, "full": True, "organizations": [org.id]}
