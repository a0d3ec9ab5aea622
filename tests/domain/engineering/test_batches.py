"""Poll pages gathered into batches, each stored in one transaction (`records.gathered`)."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from domain.engineering.records import Activity, CommitRecord, Person, gathered
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
