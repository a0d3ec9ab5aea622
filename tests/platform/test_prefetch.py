"""`core.prefetch.prefetched`: items in order, made ahead in a thread no further than asked, the source's error
after what came before it, and nothing left running once the block is left, however it is left."""
from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Iterator

import pytest

from core.prefetch import prefetched

who: contextvars.ContextVar[str] = contextvars.ContextVar("who", default="nobody")


def counting(made: list[int], count: int, closed: list[str] | None = None) -> Iterator[int]:
    try:
        for n in range(count):
            made.append(n)
            yield n
    finally:
        if closed is not None:  # by which thread
            closed.append(threading.current_thread().name)


def reader_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("test-prefetch")]


def test_every_item_comes_in_order() -> None:
    made: list[int] = []
    with prefetched(counting(made, 500), depth=3, name="test-prefetch") as ahead:
        assert list(ahead) == list(range(500))
    assert not reader_threads()


@pytest.mark.parametrize("depth", [1, 4])
def test_it_reads_no_further_ahead_than_its_depth(depth: int) -> None:
    made: list[int] = []
    with prefetched(counting(made, 100), depth=depth, name="test-prefetch") as ahead:
        for taken, _ in enumerate(ahead, start=1):
            time.sleep(0.02)  # room for the thread to run as far ahead as it may
            # what the caller holds, `depth` waiting, and one made that waits for room
            assert len(made) <= taken + depth + 1
            if taken == 10:
                break
    assert len(made) <= 10 + depth + 1


def test_the_sources_error_comes_after_the_items_before_it() -> None:
    def failing() -> Iterator[int]:
        yield 1
        yield 2
        raise ValueError("the third page was garbage")

    got: list[int] = []
    with pytest.raises(ValueError, match="third page"), prefetched(failing(), name="test-prefetch") as ahead:
        for item in ahead:
            got.append(item)
    assert got == [1, 2]
    assert not reader_threads()


def test_leaving_early_stops_the_thread_and_closes_the_source() -> None:
    made: list[int] = []
    closed: list[str] = []
    source = counting(made, 10_000, closed)
    with pytest.raises(RuntimeError), prefetched(source, depth=2, name="test-prefetch") as ahead:
        for item in ahead:
            if item == 3:
                raise RuntimeError("storing failed")
    assert not reader_threads()  # joined before the block was left
    assert closed == ["test-prefetch"]  # the generator's own clean-up ran, in the thread that ran it
    assert len(made) <= 4 + 2 + 1


def test_the_thread_sees_the_callers_context() -> None:
    def whose() -> Iterator[str]:
        yield who.get()

    token = who.set("poll-7")
    try:
        with prefetched(whose(), name="test-prefetch") as ahead:
            assert list(ahead) == ["poll-7"]
    finally:
        who.reset(token)


def test_a_depth_below_one_is_refused() -> None:
    with pytest.raises(ValueError), prefetched(iter([1]), depth=0):
        pass
