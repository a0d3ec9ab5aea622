"""What a process reports about itself in its heartbeat: who it is, since when, and what it uses (memory, CPU).

`psutil` reads the figures; the first CPU reading of a process is 0 (psutil measures since the previous call).
"""
from __future__ import annotations

import os
import socket
import time
from typing import Any

import psutil


class Process:
    """This process, as its heartbeats describe it."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.pid = os.getpid()
        self.id = f"{socket.gethostname()}:{self.pid}"
        self.started_at = time.time()
        self._psutil = psutil.Process(self.pid)

    def figures(self) -> dict[str, Any]:
        """Uptime, resident memory (bytes and percent of the machine) and CPU percent since the last call."""
        memory = self._psutil.memory_info().rss
        return {"id": self.id, "hostname": socket.gethostname(), "pid": self.pid, "started_at": self.started_at,
                "uptime_seconds": round(time.time() - self.started_at, 1), "memory_bytes": memory,
                "memory_percent": round(self._psutil.memory_percent(), 2),
                "cpu_percent": round(self._psutil.cpu_percent(interval=None), 1)}
