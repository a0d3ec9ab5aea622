"""A real webhook receiver on 127.0.0.1 for tests: records every request, answers from a script."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    at: float
    path: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    """`answers` are used in order (the last one repeats): an int status, or a callable returning one."""

    def __init__(self, answers: list[int | Callable[[], int]]) -> None:
        self.answers = answers
        self.requests: list[Received] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.requests.append(Received(time.monotonic(), self.path,
                                                      {k.lower(): v for k, v in self.headers.items()}, body))
                    answer = receiver.answers[min(len(receiver.requests), len(receiver.answers)) - 1]
                status = answer() if callable(answer) else answer
                payload = b'{"ok": true}' if status < 300 else b"nope " * 1000
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:  # the client gave up (a timeout test)
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

    def count(self) -> int:
        with self.lock:
            return len(self.requests)


@contextmanager
def receiving(answers: list[int | Callable[[], int]]) -> Iterator[Receiver]:
    receiver = Receiver(answers)
    thread = threading.Thread(target=receiver.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
