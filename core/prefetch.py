"""Reading ahead: an iterator's next items made in a thread of their own while the caller works on the current one.

A poll reads a page of activity over HTTP and parses it (Python), then stores it (mostly waiting on the database,
with the interpreter lock released): read ahead, the next pages are fetched and parsed while the database writes
the last batch, instead of each waiting on the other."""
from __future__ import annotations

import contextvars
import queue
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")
_END = object()
_WAKE_SECONDS = 0.1  # how often a reader waiting for room checks whether it was stopped


@contextmanager
def prefetched(items: Iterable[T], depth: int = 1, name: str = "prefetch") -> Iterator[Iterator[T]]:
    """`items` in order, up to `depth` of them made ahead (and one more in the making) in a thread:

        with prefetched(pages()) as ahead:
            for page in ahead: store(page)

    The exception that ends `items` is raised by the iteration after the items made before it. Leaving the block
    (at the end, a `break`, an exception) stops the thread before its next item and waits for it, so nothing is
    still reading once the block is left. The thread runs in a copy of the caller's context (log fields)."""
    if depth < 1:
        raise ValueError("depth must be at least 1")
    ready: queue.Queue[tuple[Any, BaseException | None]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(entry: tuple[Any, BaseException | None]) -> bool:
        while not stop.is_set():
            try:
                ready.put(entry, timeout=_WAKE_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def make() -> None:
        source = iter(items)
        try:
            for item in source:
                if not put((item, None)):
                    return
            put((_END, None))
        except BaseException as exc:
            put((_END, exc))
        finally:
            close = getattr(source, "close", None)
            if close is not None:  # a generator stopped early runs its own clean-up here, in its thread
                close()

    thread = threading.Thread(target=contextvars.copy_context().run, args=(make,), name=name, daemon=True)
    thread.start()
    try:
        yield _taken(ready)
    finally:
        stop.set()
        thread.join()


def _taken(ready: queue.Queue[tuple[Any, BaseException | None]]) -> Iterator[Any]:
    while True:
        item, error = ready.get()
        if item is _END:
            if error is not None:
                raise error
            return
        yield item
