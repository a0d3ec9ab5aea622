"""Activity as the providers report it, normalised: what a poll or a hook hands to `ingest`."""
from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

BOT_SUFFIX = "[bot]"


@dataclass(frozen=True)
class Person:
    """Who did something, as much as the provider said: an account (provider + id and/or login), and/or a
    git author's name and email. `email_verified`: the provider tied this email to the account."""

    provider: str  # github | gitlab | git
    user_id: str | None = None
    login: str | None = None
    name: str | None = None
    email: str | None = None
    email_verified: bool = False
    bot: bool = False

    @property
    def known(self) -> bool:
        return bool(self.user_id or self.login or self.email)


@dataclass(frozen=True)
class CommitRecord:
    sha: str
    author: Person
    authored_at: datetime | None
    committed_at: datetime | None
    message: str | None
    additions: int | None = None
    deletions: int | None = None


@dataclass(frozen=True)
class PullRecord:
    number: int
    title: str
    author: Person
    state: str  # open | closed | merged
    opened_at: datetime | None
    updated_at: datetime | None
    merged_at: datetime | None = None
    closed_at: datetime | None = None
    additions: int | None = None
    deletions: int | None = None
    base_ref: str | None = None
    head_ref: str | None = None
    merge_commit_sha: str | None = None  # the commit the merge put on the base branch (squash and rebase too)
    url: str | None = None
    first_commit_at: datetime | None = None  # when its earliest commit was authored (polls only: hooks do not say)
    head_sha: str | None = None  # the head commit: CI runs on it are the pull request's testing time


@dataclass(frozen=True)
class ReviewRecord:
    pull_number: int
    external_id: str
    author: Person
    state: str  # approved | changes_requested | commented | dismissed
    submitted_at: datetime | None


@dataclass(frozen=True)
class MilestoneRecord:
    external_id: str
    title: str | None = None  # None: not said (GitLab's issue hook names only the milestone's id)
    state: str | None = None  # open | closed
    due_on: datetime | None = None
    starts_on: datetime | None = None
    opened_at: datetime | None = None


@dataclass(frozen=True)
class IssueRecord:
    """An issue, with what part 2's velocity needs: its milestone and its points (GitLab's weight, or a
    `points:N` label on GitHub)."""

    number: int
    title: str
    author: Person
    state: str  # open | closed
    opened_at: datetime | None
    updated_at: datetime | None
    closed_at: datetime | None = None
    milestone: MilestoneRecord | None = None
    points: int | None = None
    labels: tuple[str, ...] = ()


@dataclass
class Activity:
    """What one hook delivery or one poll page carried."""

    commits: list[CommitRecord] = field(default_factory=list)
    pulls: list[PullRecord] = field(default_factory=list)
    reviews: list[ReviewRecord] = field(default_factory=list)
    issues: list[IssueRecord] = field(default_factory=list)
    milestones: list[MilestoneRecord] = field(default_factory=list)  # told of apart from an issue

    def __len__(self) -> int:
        return len(self.commits) + len(self.pulls) + len(self.reviews) + len(self.issues) + len(self.milestones)

    def extend(self, other: Activity) -> None:
        self.commits += other.commits
        self.pulls += other.pulls
        self.reviews += other.reviews
        self.issues += other.issues
        self.milestones += other.milestones


def gathered(activities: Iterable[Activity], at_least: int) -> Iterator[Activity]:
    """Consecutive activities (pages, or a pull request with its reviews) as batches of at least `at_least`
    records (the last may hold fewer), each then stored in one transaction: a transaction a page cost a
    backfill most of its time, rewriting the same index pages at every commit. Should reading fail part way
    (a rate limit, an error), what was read before is handed over first, then the error raised."""
    batch = Activity()
    try:
        for activity in activities:
            batch.extend(activity)
            if len(batch) >= at_least:
                yield batch
                batch = Activity()
    except Exception:
        if len(batch):
            yield batch
        raise
    if len(batch):
        yield batch


class PayloadError(ValueError):
    """A hook body or an API answer that is not the shape it promises: a hook answers 400 and stores nothing,
    a poll marks the repository `error`. The message names what was wrong, never the value: an answer can
    echo what was sent (a token), and the message is stored and shown."""


def moment(text: Any) -> datetime | None:
    """A provider's time (ISO 8601 with Z or an offset, or GitLab hooks' older `2013-12-03 17:23:34 UTC`) as
    naive UTC; None when absent. Anything else is a PayloadError."""
    if text is None or text == "":
        return None
    if not isinstance(text, str):
        raise PayloadError("a time that is not a string")
    try:
        if text.endswith("Z"):  # the usual form, UTC already: no conversion to make
            value = datetime.fromisoformat(text[:-1])
            if value.tzinfo is not None:  # an offset and a Z
                raise ValueError(text)
            return value
        value = datetime.fromisoformat(text[:-4] + "+00:00" if text.endswith(" UTC") else text)
    except ValueError:
        raise PayloadError("a time that is not ISO 8601") from None
    return value if value.tzinfo is None else value.astimezone(UTC).replace(tzinfo=None)


POINTS_LABEL = re.compile(r"^points?\s*[:=]\s*(\d{1,4})$", re.IGNORECASE)


def points_of(labels: tuple[str, ...]) -> int | None:
    """A GitHub issue's points, from a label such as `points:3` (the first that says; None when none does)."""
    for label in labels:
        match = POINTS_LABEL.match(label.strip())
        if match:
            return int(match[1])
    return None


def first_line(message: Any) -> str | None:
    line = message.replace("\x00", "").splitlines()[0] if isinstance(message, str) and message.strip() else ""
    return line[:1024] or None


def whole(value: Any) -> int | None:
    """A count a provider sends (None stays None; a non-number is a PayloadError)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise PayloadError("a count that is not a whole number >= 0")
    return value


def text(value: Any, what: str, required: bool = True, limit: int = 254) -> str | None:
    """A provider's string as a column holds it: NUL characters removed (PostgreSQL refuses them in text) and
    cut to `limit` (the column's size: 254 fits names, logins, emails and refs; titles and URLs pass theirs)."""
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value):
        raise PayloadError(f"{what} must be a string")
    return value.replace("\x00", "")[:limit]


def pull_number_of(url: Any) -> int:
    """The number of the pull request a GitHub `pull_request_url` (`.../pulls/{number}`) names."""
    number = url.rstrip("/").rsplit("/", 1)[-1] if isinstance(url, str) else ""
    if not number.isdigit() or len(number) > 9:
        raise PayloadError("pull_request_url must name a pull request")
    return int(number)


def obj(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise PayloadError(f"{what} must be an object")
    return value
