"""The synthetic organization of the engineering analytics benchmark (issue 20): one organization, 20 teams, 500
developers (a few bots), 200 repositories, and a year of history: commits, pull requests (merged, closed and open,
some squash-merged), reviews (some by bots, some by their author), CI runs on the pull requests' head commits, and
deploy runs of production with the commit each shipped. Seeded, so a scale always makes the same history.

The rows are what ingestion and CI polling store (`domain.engineering.ingest`, `domain.ci`): a pull request's
`first_commit_at`, `head_sha` and `merge_commit_sha`; the merge commits stored as commits (most of them: the
others' time is then the merge's); CI sources owned by a member of the organization, one per repository, whose
pipelines name the repository (some in upper case: links compare without case). They are written with COPY on
PostgreSQL and multi-row inserts on SQLite (`models.bulk`), a chunk at a time, in one transaction.
"""
from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

END = datetime(2026, 11, 30)  # the history's last day (exclusive), fixed: a scale always makes the same rows
DAYS = 365
FIRST = END - timedelta(days=DAYS)
TEAMS, DEVELOPERS, BOT_EVERY = 20, 500, 50  # developers 0, 50, 100, ... are bots
FULL = {"commits": 1_000_000, "pulls": 100_000, "reviews": 300_000, "deployments": 5_000, "repositories": 200}
CHUNK = 20_000  # pull requests generated and stored together
SEED = 20


@dataclass(frozen=True)
class Sizes:
    commits: int
    pulls: int
    reviews: int
    deployments: int
    repositories: int

    @classmethod
    def at(cls, scale: float) -> Sizes:
        """The issue's sizes times `scale`; teams and developers stay, repositories shrink only below a tenth."""
        counts = {name: max(int(count * scale), 1) for name, count in FULL.items()}
        counts["repositories"] = min(FULL["repositories"], max(int(FULL["repositories"] * scale * 10), 10))
        return cls(**counts)


@dataclass
class Loaded:
    """What was stored, and what the measurements need to name."""

    organization_id: int
    team_id: int
    counts: dict[str, int]
    pull_ids: list[int]  # merged ones, for timelines


def sha(n: int) -> str:
    return f"{n:040x}"


def minutes(rng: random.Random, low: datetime, span_minutes: int) -> datetime:
    return low + timedelta(minutes=rng.randrange(max(span_minutes, 1)))


class History:
    """The rows, generated in order: pull requests with their commits, reviews and CI runs a chunk at a time, then
    the other commits, then the deploy runs (which ship the merge commits made by then)."""

    def __init__(self, sizes: Sizes, seed: int = SEED) -> None:
        self.sizes, self.rng = sizes, random.Random(seed)
        self.next_sha = self.next_commit = self.next_review = self.next_pipeline = 0
        self.numbers = [0] * sizes.repositories
        self.landed: list[list[tuple[datetime, str]]] = [[] for _ in range(sizes.repositories)]  # merge commits
        self.counts = {"commits": 0, "pull_requests": 0, "reviews": 0, "ci_runs": 0, "deploy_runs": 0}

    def people(self) -> Iterator[tuple[int, bool, int]]:
        """(developer id, is a bot, team id): ids from 1, the teams' from 1."""
        for n in range(DEVELOPERS):
            yield n + 1, n % BOT_EVERY == 0, n % TEAMS + 1

    def author(self) -> int:
        """A human mostly; a bot (dependency updates) for about 3% of pull requests."""
        if self.rng.random() < 0.03:
            return self.rng.randrange(0, DEVELOPERS, BOT_EVERY) + 1
        n = self.rng.randrange(DEVELOPERS)
        return n + 2 if n % BOT_EVERY == 0 else n + 1

    def commit(self, repository: int, developer: int, when: datetime, message: str) -> tuple[Any, ...]:
        self.next_commit += 1
        self.next_sha += 1
        return (self.next_commit, repository, sha(self.next_sha), developer, developer, f"Dev {developer}",
                f"dev{developer}@example.com", when, when, self.rng.randrange(1, 400), self.rng.randrange(0, 120),
                message, when)

    def pulls(self, count: int, first_id: int) -> dict[str, list[tuple[Any, ...]]]:
        """`count` pull requests from id `first_id`, with their head and merge commits, reviews and CI runs."""
        rows: dict[str, list[tuple[Any, ...]]] = {"commits": [], "pulls": [], "reviews": [], "runs": []}
        rng = self.rng
        for pull_id in range(first_id, first_id + count):
            repo = rng.randrange(self.sizes.repositories)
            self.numbers[repo] += 1
            author, opened = self.author(), minutes(rng, FIRST, (DAYS - 3) * 1440)
            first = opened - timedelta(minutes=rng.randrange(10, 4320)) if rng.random() < 0.9 else None
            head = self.commit(repo + 1, author, first or opened, "Change")
            rows["commits"].append(head)
            fate = rng.random()
            merged = opened + timedelta(hours=min(rng.lognormvariate(2.5, 1.2), 24 * 30)) if fate < 0.75 else None
            closed = merged or (opened + timedelta(hours=rng.randrange(1, 200)) if fate < 0.9 else None)
            landed = None
            if merged is not None:
                squash = rng.random() < 0.4
                landed_commit = self.commit(repo + 1, author, merged, "Squashed change" if squash else "Merge pull")
                landed = landed_commit[2]
                if rng.random() < 0.9:  # the rest: a merge commit not polled yet (its time: the merge's)
                    rows["commits"].append(landed_commit)
                self.landed[repo].append((merged, landed))
            state = "merged" if merged else ("closed" if closed else "open")
            rows["pulls"].append((pull_id, repo + 1, self.numbers[repo], f"Change {pull_id}", author, author, state,
                                  opened, merged, closed, first, rng.randrange(1, 800), rng.randrange(0, 200), "main",
                                  f"feature/{pull_id}", landed, head[2], closed or opened, opened, closed or opened))
            rows["reviews"] += self.reviews(pull_id, author, opened)
            rows["runs"] += self.ci_runs(repo, head[2], opened)
        self.counts["pull_requests"] += count
        self.counts["commits"] += len(rows["commits"])
        return rows

    def reviews(self, pull_id: int, author: int, opened: datetime) -> list[tuple[Any, ...]]:
        mean = self.sizes.reviews / self.sizes.pulls
        found = []
        for _ in range(self.rng.randrange(int(2 * mean) + 1)):
            roll = self.rng.random()
            who = self.author() if roll >= 0.1 else (author if roll < 0.05 else self.rng.randrange(0, DEVELOPERS,
                                                                                                   BOT_EVERY) + 1)
            self.next_review += 1
            found.append((self.next_review, pull_id, str(self.next_review), who, who,
                          self.rng.choice(("approved", "commented", "changes_requested")),
                          minutes(self.rng, opened, 48 * 60), opened))
        self.counts["reviews"] += len(found)
        return found

    def ci_runs(self, repo: int, head: str, opened: datetime) -> list[tuple[Any, ...]]:
        found = []
        for _ in range(1 + (self.rng.random() < 0.5)):
            started = minutes(self.rng, opened, 60)
            status = self.rng.choices(("success", "failed", "cancelled"), (85, 10, 5))[0]
            found.append(self.pipeline(repo, False, status, started, self.rng.randrange(5, 45), head, None))
        self.counts["ci_runs"] += len(found)
        return found

    def pipeline(self, repo: int, deploy: bool, status: str, started: datetime, took: int, head: str,
                 head_time: datetime | None) -> tuple[Any, ...]:
        self.next_pipeline += 1
        finished = started + timedelta(minutes=took)
        return (self.next_pipeline, repo + 1, f"run-{self.next_pipeline}", repository_name(repo), "main",
                "deploy" if deploy else "ci", deploy, status, status, took * 60, started, finished, head, head_time,
                [], finished, finished)

    def filler(self) -> Iterator[list[tuple[Any, ...]]]:
        """The commits outside pull requests, until the commit count is the size's."""
        while self.counts["commits"] < self.sizes.commits:
            part = min(CHUNK * 5, self.sizes.commits - self.counts["commits"])
            self.counts["commits"] += part
            yield [self.commit(self.rng.randrange(self.sizes.repositories) + 1, self.author(),
                               minutes(self.rng, FIRST, DAYS * 1440), "Work") for _ in range(part)]

    def deploys(self) -> list[tuple[Any, ...]]:
        """Each repository's deploy runs, spread over the year; each ships the newest merge commit by then (or,
        one in seven, a commit only the CI provider reported, with its time)."""
        found = []
        repos = self.sizes.repositories
        for repo in range(repos):
            landed = sorted(self.landed[repo])
            share = self.sizes.deployments // repos + (repo < self.sizes.deployments % repos)
            for _ in range(share):
                at = minutes(self.rng, FIRST + timedelta(days=3), (DAYS - 3) * 1440)
                before = [item for item in landed if item[0] <= at - timedelta(minutes=20)]
                status = "success" if self.rng.random() < 0.85 else "failed"
                if before and self.rng.random() < 6 / 7:
                    head = before[-1][1]
                    found.append(self.pipeline(repo, True, status, at - timedelta(minutes=15), 15, head, None))
                else:
                    self.next_sha += 1
                    found.append(self.pipeline(repo, True, status, at - timedelta(minutes=15), 15,
                                               sha(self.next_sha), at - timedelta(minutes=30)))
        self.counts["deploy_runs"] = len(found)
        return found


def repository_name(repo: int) -> str:
    """The CI source's name of repository `repo` (0-based): upper case for every fifth, as a user may type it."""
    name = f"acme/service-{repo:03d}"
    return name.upper() if repo % 5 == 0 else name


def load(sizes: Sizes, member_id: int) -> Loaded:
    """Store the history of `sizes` into an empty database, in one transaction; `member_id` (a user) joins the
    organization and owns its CI sources."""
    from bench import engineering_plans
    from models.db import db, is_postgres
    from models.organization import Organization

    if Organization.select().exists():
        raise SystemExit("bench.engineering needs an empty database")
    history = History(sizes)
    merged: list[int] = []
    with db.atomic():
        organization_id = _organization(history, member_id)
        for first in range(1, sizes.pulls + 1, CHUNK):
            rows = history.pulls(min(CHUNK, sizes.pulls - first + 1), first)
            _store(rows)
            merged += [row[0] for row in rows["pulls"] if row[6] == "merged"]
        for part in history.filler():
            _store({"commits": part})
        _store({"runs": history.deploys()})
        planned = engineering_plans.plans(sizes, sizes.pulls / FULL["pulls"])
        engineering_plans.store(planned)
        history.counts.update(issues=len(planned["issues"]), quality_snapshots=len(planned["snapshots"]))
    if is_postgres():  # ids were given: move the sequences past them; and the planner's statistics, as autovacuum
        for table in ("organization", "team", "developer", "developer_identity", "repository", "ci_source", "commit",
                      "pull_request", "review", "pipeline", "milestone", "issue", "issue_change", "quality_snapshot"):
            db.execute_sql(f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "  # noqa: S608
                           f'(SELECT MAX(id) FROM "{table}"))')
        db.execute_sql("ANALYZE")
    return Loaded(organization_id=organization_id, team_id=1, counts=dict(history.counts), pull_ids=merged)


def _organization(history: History, member_id: int) -> int:
    """The organization, its teams, developers (one GitHub identity each, the same id), repositories and CI
    sources; ids from 1 (the database is empty)."""
    from models.developer import Developer, DeveloperIdentity, TeamMember
    from models.organization import Organization, OrganizationMember, Team
    from models.pipeline import CISource
    from models.repository import Repository

    org = Organization.create(id=1, name="bench")
    OrganizationMember.create(organization=org.id, user=member_id, role="member")
    Team.insert_many([{"id": t, "organization": org.id, "name": f"team-{t}"} for t in range(1, TEAMS + 1)]).execute()
    people = list(history.people())
    Developer.insert_many([{"id": d, "organization": org.id, "name": f"Dev {d}", "email": f"dev{d}@example.com",
                            "is_bot": bot} for d, bot, _ in people]).execute()
    DeveloperIdentity.insert_many([{"id": d, "organization": org.id, "developer": d, "provider": "github",
                                    "provider_user_id": str(10_000 + d), "login": f"dev{d}", "name": f"Dev {d}",
                                    "is_bot": bot} for d, bot, _ in people]).execute()
    TeamMember.insert_many([{"team": team, "developer": d} for d, _, team in people]).execute()
    repos = range(history.sizes.repositories)
    Repository.insert_many([{"id": r + 1, "organization": org.id, "team": r % TEAMS + 1, "name": f"service-{r:03d}",
                             "url": f"https://github.com/acme/service-{r:03d}", "full_name": f"acme/service-{r:03d}",
                             "provider": "github", "api_url": "https://api.github.com",
                             "hook_secret": "bench-hook-secret"} for r in repos]).execute()
    CISource.insert_many([{"id": r + 1, "owner": member_id, "provider": "github", "repository": repository_name(r),
                           "api_url": "https://api.github.com", "token": "bench", "deploy_workflow": "deploy"}
                          for r in repos]).execute()
    return int(org.id)


def _store(rows: dict[str, list[tuple[Any, ...]]]) -> None:
    """Rows of `History` into their tables (in this order: reviews and runs name pull requests and commits)."""
    from models import bulk
    from models.activity import Commit, PullRequest, Review
    from models.pipeline import Pipeline

    columns = {
        "commits": (Commit, ("id", "repository", "sha", "identity", "developer", "author_name", "author_email",
                             "authored_at", "committed_at", "additions", "deletions", "message", "created_at")),
        "pulls": (PullRequest, ("id", "repository", "number", "title", "identity", "developer", "state", "opened_at",
                                "merged_at", "closed_at", "first_commit_at", "additions", "deletions", "base_ref",
                                "head_ref", "merge_commit_sha", "head_sha", "provider_updated_at", "created_at",
                                "changed_at")),
        "reviews": (Review, ("id", "pull_request", "external_id", "identity", "developer", "state", "submitted_at",
                             "created_at")),
        "runs": (Pipeline, ("id", "source", "external_id", "repository", "branch", "workflow", "is_deploy", "status",
                            "provider_status", "duration", "started_at", "finished_at", "commit_sha",
                            "commit_timestamp", "stages", "created_at", "updated_at")),
    }
    for name in ("commits", "pulls", "reviews", "runs"):
        if rows.get(name):
            model, names = columns[name]
            bulk.bulk_insert([model._meta.fields[n] for n in names], rows[name])
