"""One reader per API process: a thread that XREADs every watched task stream on one Redis
connection and fans each event out to that task's sockets. No Redis connection and no polling per
socket, whatever the number of sockets.

A socket starts in queue mode (the hub queues events while the socket replays history); once caught
up it hands the hub a sink, and the hub then writes events to it directly, with no thread wake-up
per socket. A sink whose socket cannot take more data is dropped back to queue mode and re-reads the
stream from its last event, so a slow client never stalls the others and never misses an event."""
from __future__ import annotations

import json
import logging
import queue
import threading
import uuid
from collections import defaultdict
from typing import Any, Protocol

import redis

from core import streams
from domain.alerting import ALERTS_STREAM

log = logging.getLogger(__name__)
BLOCK_MS = 5000


class Sink(Protocol):
    def writable(self) -> bool: ...

    def deliver(self, event: dict[str, Any], text: str) -> None: ...


class Subscription:
    def __init__(self, task_id: str) -> None:
        self.task_id = task_id
        self.lock = threading.Lock()  # orders the hub's deliveries and the socket's own sends
        self.sink: Sink | None = None
        # (event, its JSON text): serialised once by the hub, not once per socket.
        self.events: queue.Queue[tuple[dict[str, Any], str]] = queue.Queue(maxsize=10_000)
        # Set when the queue filled up: the socket then re-reads the stream from its last event instead.
        self.overflowed = threading.Event()


class StreamHub:
    def __init__(self, redis_url: str) -> None:
        # Its own connection: a blocking XREAD must not hold one of the request pool's.
        self.reader = redis.Redis.from_url(redis_url, decode_responses=True, socket_connect_timeout=2,
                                           socket_timeout=BLOCK_MS / 1000 + 5)
        self.writer = redis.Redis.from_url(redis_url, decode_responses=True, socket_timeout=5)
        self.wake_key = f"conveyor:hub:{uuid.uuid4().hex}"
        self.lock = threading.Lock()
        self.subscribers: dict[str, set[Subscription]] = defaultdict(set)
        self.cursors: dict[str, str] = {}
        self.thread: threading.Thread | None = None

    def subscribe(self, task_id: str) -> Subscription:
        """Deliver every event appended to the task's stream from now on to the returned queue."""
        subscription = Subscription(task_id)
        with self.lock:
            if task_id not in self.cursors:
                self.cursors[task_id] = streams.last_id(self.writer, task_id)
            self.subscribers[task_id].add(subscription)
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._run, name="conveyor-stream-hub", daemon=True)
                self.thread.start()
        self._wake()
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        with self.lock:
            watchers = self.subscribers.get(subscription.task_id)
            if watchers is not None:
                watchers.discard(subscription)
                if not watchers:
                    del self.subscribers[subscription.task_id]
                    self.cursors.pop(subscription.task_id, None)
            last = not self.cursors
        if last:  # the reader may stop now rather than at the end of its blocking read
            try:
                self._wake()
            except redis.RedisError:
                pass  # it stops at the end of that read anyway

    def open_sockets(self) -> dict[str, int]:
        """Subscriptions now, by kind: `alerts` (the alerts channel) and `tasks` (build and analysis progress)."""
        with self.lock:
            counts = {task_id: len(watchers) for task_id, watchers in self.subscribers.items()}
        alerts = counts.pop(ALERTS_STREAM, 0)
        return {"alerts": alerts, "tasks": sum(counts.values())}

    def _wake(self) -> None:
        """Cut the reader's blocking wait short so a new stream joins its XREAD at once."""
        pipe = self.writer.pipeline(transaction=False)
        pipe.xadd(self.wake_key, {"w": "1"}, maxlen=10, approximate=False)
        pipe.expire(self.wake_key, 3600)
        pipe.execute()

    def _run(self) -> None:
        """Relay until no socket is subscribed any more (the next subscription starts a new reader)."""
        wake_cursor = "0-0"
        while True:
            with self.lock:
                if not self.cursors:
                    self.thread = None
                    return
                keys: dict[Any, Any] = {streams.stream_key(task): cursor for task, cursor in self.cursors.items()}
            keys[self.wake_key] = wake_cursor
            try:
                replies: Any = self.reader.xread(keys, count=500, block=BLOCK_MS)
            except redis.RedisError:
                with self.lock:
                    idle = not self.cursors
                if not idle:
                    log.warning("stream hub lost Redis; retrying", exc_info=True)
                    threading.Event().wait(1.0)
                continue
            for key, entries in replies or []:
                if key == self.wake_key:
                    wake_cursor = entries[-1][0]
                    continue
                self._dispatch(key.removeprefix(streams.STREAM_PREFIX), entries)

    def _dispatch(self, task_id: str, entries: list[Any]) -> None:
        events = [streams.decode(entry_id, fields) for entry_id, fields in entries]
        encoded = [(event, json.dumps(event, default=str)) for event in events]
        with self.lock:
            if task_id not in self.cursors:
                return
            self.cursors[task_id] = events[-1]["id"]
            watchers = list(self.subscribers.get(task_id, ()))
        for subscription in watchers:
            with subscription.lock:
                self._deliver(subscription, encoded)

    @staticmethod
    def _deliver(subscription: Subscription, encoded: list[tuple[dict[str, Any], str]]) -> None:
        sink = subscription.sink
        if sink is not None and not sink.writable():
            subscription.sink = sink = None
            subscription.overflowed.set()
            return
        for item in encoded:
            if sink is not None:
                sink.deliver(*item)
                continue
            try:
                subscription.events.put_nowait(item)
            except queue.Full:
                subscription.overflowed.set()
                return
