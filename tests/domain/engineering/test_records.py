"""Poll pages gathered into batches, each stored in one transaction (`records.gathered`); providers' times read as
naive UTC (`records.moment`)."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest

from domain.engineering.records import Activity, CommitRecord, PayloadError, Person, gathered, moment
from domain.polling.http import PollError


def page(*shas: str) -> Activity:
    return Activity(commits=[CommitRecord(sha, Person("git", email="a@example.com"), None, None, None)
                             for sha in shas])


def shas(batch: Activity) -> list[str]:
    return [c.sha for c in batch.commits]


def test_pages_are_merged_in_order_until_a_batch_holds_enough_and_the_rest_is_the_last_batch() -> None:
    pages = [page("a", "b"), page("c"), page("d", "e", "f"), page("g")]
    assert [shas(b) for b in gathered(pages, 3)] == [["a", "b", "c"], ["d", "e", "f"], ["g"]]
    assert [shas(b) for b in gathered(pages, 1)] == [["a", "b"], ["c"], ["d", "e", "f"], ["g"]]


def test_empty_pages_make_no_batch() -> None:
    assert list(gathered([page(), Activity(), page()], 10)) == []


def test_every_kind_of_record_counts_towards_a_batch() -> None:
    mixed = Activity(commits=page("a").commits, issues=[], reviews=[], pulls=[])
    assert len(mixed) == 1
    mixed.extend(page("b", "c"))
    assert len(mixed) == 3 and shas(mixed) == ["a", "b", "c"]


def test_what_was_read_before_a_failure_is_handed_over_before_the_failure_is_raised() -> None:
    def pages() -> Iterator[Activity]:
        yield page("a")
        yield page("b")
        raise PollError("rate limited")

    batches = gathered(pages(), 10)
    assert shas(next(batches)) == ["a", "b"]
    with pytest.raises(PollError, match="rate limited"):
        next(batches)


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-11-30T09:15:00Z", datetime(2026, 11, 30, 9, 15)),
    ("2026-11-30T09:15:00.250Z", datetime(2026, 11, 30, 9, 15, 0, 250_000)),
    ("2026-11-30T10:15:00+01:00", datetime(2026, 11, 30, 9, 15)),
    ("2026-11-30T04:15:00-05:00", datetime(2026, 11, 30, 9, 15)),
    ("2026-11-30 09:15:00 UTC", datetime(2026, 11, 30, 9, 15)),
    ("2026-11-30T09:15:00", datetime(2026, 11, 30, 9, 15)),
    (None, None), ("", None),
])
def test_a_providers_time_is_naive_utc(text: str | None, expected: datetime | None) -> None:
    assert moment(text) == expected


@pytest.mark.parametrize("text", ["2026-11-30T10:15:00+01:00Z", "yesterday", "Z", "2026-13-01T00:00:00Z", 1764493200])
def test_a_time_that_is_not_iso_8601_is_a_payload_error(text: object) -> None:
    with pytest.raises(PayloadError):
        moment(text)
