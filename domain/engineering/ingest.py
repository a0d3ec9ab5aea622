"""Store activity idempotently: the same commit, pull request or review brought by a hook and by a poll (or by
a replayed delivery) is one row. A commit keeps the line counts once a source that knows them has said; a
pull request is only overwritten by a copy at least as new as the one stored (`provider_updated_at`)."""
from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

from peewee import EXCLUDED, fn

from domain.engineering.identities import _key, resolve, resolve_all
from domain.engineering.records import Activity, Person
from domain.engineering.sprint_history import record_changes, sprint_states
from models import bulk
from models.activity import Commit, Issue, Milestone, PullRequest, Review
from models.db import db, utc_naive
from models.developer import DeveloperIdentity
from models.repository import Repository


class People:
    """Identities resolved once per poll or delivery: a history names few authors, many times. A poll keeps one
    for all its pages."""

    def __init__(self, org_id: int, bot_logins: Iterable[str]) -> None:
        self.org_id, self.bot_logins = org_id, tuple(bot_logins)
        self._seen: dict[tuple[str, str], DeveloperIdentity | None] = {}

    def resolve(self, people: list[Person]) -> None:
        """Resolve the people not seen yet, together (new ones in one transaction)."""
        fresh: dict[tuple[str, str], Person] = {}
        for person in people:
            key = _key(person)
            if key not in self._seen:
                fresh[key] = person
        if fresh:
            for key, identity in zip(fresh, resolve_all(self.org_id, list(fresh.values()), self.bot_logins),
                                     strict=True):
                self._seen[key] = identity

    def identity(self, person: Person) -> DeveloperIdentity | None:
        """The identity `person` resolves to (None: a bot, or nobody to know them by)."""
        key = _key(person)
        if key not in self._seen:
            self._seen[key] = resolve(self.org_id, person, self.bot_logins)
        return self._seen[key]

    def ids(self, person: Person) -> dict[str, Any]:
        identity = self.identity(person)
        return {"identity": identity.id if identity else None,
                "developer": identity.developer_id if identity else None}


def _excluded(field: Any) -> Any:
    """The value an upsert proposed for `field` (by its column: a foreign key's is `<name>_id`)."""
    return getattr(EXCLUDED, field.column_name)


COMMIT_COLUMNS = ("repository", "sha", "identity", "developer", "author_name", "author_email", "authored_at",
                  "committed_at", "additions", "deletions", "message", "created_at")
COMMIT_KEPT = ("additions", "deletions", "identity", "developer", "message", "authored_at", "committed_at")


def _commit_rows(repo: Repository, activity: Activity, people: People) -> list[tuple[Any, ...]]:
    """A batch's commits as rows of COMMIT_COLUMNS, one a sha (as one upsert statement needs)."""
    now = utc_naive()
    rows = []
    for c in {c.sha: c for c in activity.commits}.values():
        identity = people.identity(c.author)
        rows.append((repo.id, c.sha, identity.id if identity else None, identity.developer_id if identity else None,
                     c.author.name, c.author.email or None, c.authored_at, c.committed_at, c.additions, c.deletions,
                     c.message, now))
    return rows


@functools.lru_cache(maxsize=1)
def _commit_conflict() -> str:
    """What a commit seen again keeps: its line counts, author, message and times when the newer copy lacks them.
    (Written once: peewee would build a query's SQL anew for each page of commits, 1,200 values.)"""
    table, fields = Commit._meta.table_name, Commit._meta.fields
    kept = ", ".join(f'"{c}" = COALESCE(EXCLUDED."{c}", "{table}"."{c}")'
                     for c in (fields[name].column_name for name in COMMIT_KEPT))
    return f'ON CONFLICT ("repository_id", "sha") DO UPDATE SET {kept}'


def _store_pulls(repo: Repository, activity: Activity, people: People) -> dict[int, int]:
    newest = {p.number: p for p in sorted(activity.pulls, key=lambda p: p.updated_at or utc_naive())}
    fields = ("title", "state", "opened_at", "merged_at", "closed_at", "additions", "deletions", "base_ref",
              "head_ref", "merge_commit_sha", "url")  # head_sha below: kept when a copy lacks it
    for pull in newest.values():
        row = {"repository": repo.id, "number": pull.number, **people.ids(pull.author),
               "provider_updated_at": pull.updated_at, "first_commit_at": pull.first_commit_at,
               "head_sha": pull.head_sha,
               **{f: getattr(pull, f) for f in fields}}
        update = {getattr(PullRequest, f): getattr(EXCLUDED, f) for f in (*fields, "provider_updated_at")}
        update.update({field: fn.COALESCE(_excluded(field), field) for field in (
            PullRequest.identity, PullRequest.developer, PullRequest.additions, PullRequest.deletions,
            PullRequest.first_commit_at, PullRequest.head_sha)})
        newer = (PullRequest.provider_updated_at.is_null() | EXCLUDED.provider_updated_at.is_null()
                 | (EXCLUDED.provider_updated_at >= PullRequest.provider_updated_at))
        (PullRequest.insert(row)
         .on_conflict(conflict_target=[PullRequest.repository, PullRequest.number], update=update, where=newer)
         .execute())
    numbers = {p.number for p in activity.pulls} | {r.pull_number for r in activity.reviews}
    if not numbers:
        return {}
    query = PullRequest.select(PullRequest.id, PullRequest.number).where(
        PullRequest.repository == repo.id, PullRequest.number << list(numbers))
    return {row.number: row.id for row in query}


def _store_reviews(activity: Activity, pulls: dict[int, int], people: People) -> int:
    stored = 0
    for review in {r.external_id: r for r in activity.reviews}.values():
        pull_id = pulls.get(review.pull_number)
        if pull_id is None:  # a review of a pull request not seen yet: the next poll brings both
            continue
        row = {"pull_request": pull_id, "external_id": review.external_id, **people.ids(review.author),
               "state": review.state, "submitted_at": review.submitted_at}
        (Review.insert(row).on_conflict(
            conflict_target=[Review.pull_request, Review.external_id],
            # The first time seen stays: an approval read again later (dated by its merge request's update, when
            # GitLab does not say when) does not move.
            update={Review.state: EXCLUDED.state, Review.submitted_at: fn.COALESCE(Review.submitted_at,
                                                                                    _excluded(Review.submitted_at))})
         .execute())
        stored += 1
    return stored


def _authors(activity: Activity) -> list[Person]:
    return [*(c.author for c in activity.commits), *(p.author for p in activity.pulls),
            *(r.author for r in activity.reviews), *(i.author for i in activity.issues)]


def _store_milestones(repo: Repository, activity: Activity) -> dict[str, int]:
    milestones = {m.external_id: m for m in [*(i.milestone for i in activity.issues if i.milestone is not None),
                                             *activity.milestones]}
    for m in milestones.values():
        row = {"repository": repo.id, "external_id": m.external_id, "title": m.title, "state": m.state,
               "due_on": m.due_on, "starts_on": m.starts_on, "opened_at": m.opened_at}
        (Milestone.insert(row).on_conflict(
            conflict_target=[Milestone.repository, Milestone.external_id],
            update={field: fn.COALESCE(_excluded(field), field)
                    for field in (Milestone.title, Milestone.state, Milestone.due_on, Milestone.starts_on,
                                  Milestone.opened_at)})
         .execute())
    if not milestones:
        return {}
    query = Milestone.select(Milestone.id, Milestone.external_id).where(
        Milestone.repository == repo.id, Milestone.external_id << list(milestones))
    return {row.external_id: row.id for row in query}


def _store_issues(repo: Repository, activity: Activity, people: People, milestones: dict[str, int]) -> int:
    """Issues, upserted like pull requests: only a copy at least as new as the stored one overwrites it."""
    newest = {i.number: i for i in sorted(activity.issues, key=lambda i: i.updated_at or utc_naive())}
    before = sprint_states(repo.id, list(newest))
    for issue in newest.values():
        row = {"repository": repo.id, "number": issue.number, **people.ids(issue.author), "title": issue.title,
               "state": issue.state, "opened_at": issue.opened_at, "closed_at": issue.closed_at,
               "milestone": milestones.get(issue.milestone.external_id) if issue.milestone else None,
               "points": issue.points, "labels": list(issue.labels), "provider_updated_at": issue.updated_at}
        update = {getattr(Issue, f): _excluded(getattr(Issue, f))
                  for f in ("title", "state", "opened_at", "closed_at", "milestone", "points", "labels",
                            "provider_updated_at")}
        update.update({field: fn.COALESCE(_excluded(field), field) for field in (Issue.identity, Issue.developer)})
        newer = (Issue.provider_updated_at.is_null() | EXCLUDED.provider_updated_at.is_null()
                 | (EXCLUDED.provider_updated_at >= Issue.provider_updated_at))
        (Issue.insert(row).on_conflict(conflict_target=[Issue.repository, Issue.number], update=update, where=newer)
         .execute())
    record_changes(repo.id, before, {number: issue.updated_at or issue.opened_at for number, issue in newest.items()})
    return len(newest)


def ingest(repo: Repository, activity: Activity, bot_logins: Iterable[str] = (),
           people: People | None = None) -> dict[str, int]:
    """Store one batch in one transaction; what it counted (commits, pull requests, reviews)."""
    people = people or People(repo.organization_id, bot_logins)
    people.resolve(_authors(activity))  # before the batch's transaction: new identities are committed at once
    with db.atomic():
        rows = _commit_rows(repo, activity, people)
        bulk.upsert([Commit._meta.fields[name] for name in COMMIT_COLUMNS], rows, _commit_conflict())
        pulls = _store_pulls(repo, activity, people)
        reviews = _store_reviews(activity, pulls, people)
        if pulls:  # their cycles are measured again (`domain.engineering.rollup`)
            PullRequest.update(changed_at=utc_naive()).where(PullRequest.id << list(pulls.values())).execute()
        milestones = _store_milestones(repo, activity)
        issues = _store_issues(repo, activity, people, milestones) if activity.issues else 0
        newest = max((m for m in [*(c.committed_at or c.authored_at for c in activity.commits),
                                  *(p.updated_at for p in activity.pulls),
                                  *(r.submitted_at for r in activity.reviews),
                                  *(i.updated_at for i in activity.issues)] if m is not None), default=None)
        if newest is not None:
            Repository.update(last_event_at=newest).where(
                (Repository.id == repo.id)
                & (Repository.last_event_at.is_null() | (Repository.last_event_at < newest))).execute()
    counts = {"commits": len(rows), "pull_requests": len(activity.pulls), "reviews": reviews}
    return {**counts, "issues": issues} if activity.issues else counts
