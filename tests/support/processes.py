"""Start and stop real processes for tests: by pid and process group, never by name."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from core.supervisor import detach
from tests.conftest import ROOT

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(predicate: Callable[[], Any], timeout: float, interval: float = 0.1, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def stop_group(process: subprocess.Popen[Any], sig: int = signal.SIGTERM, timeout: float = 30) -> int:
    if process.poll() is None:
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            pass
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        raise


@contextmanager
def running(argv: list[str], env: dict[str, str], log: IO[Any]) -> Iterator[subprocess.Popen[Any]]:
    """Run `argv` in its own process group from the repo root; stop the whole group afterwards."""
    full_env = {"PATH": f"{BIN}:/usr/local/bin:/usr/bin:/bin", "HOME": os.environ.get("HOME", "/tmp"), **env}
    # Own session (signals go to its group), and killed if this test process dies (PDEATHSIG).
    process = subprocess.Popen(argv, cwd=ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT,
                               preexec_fn=detach)
    try:
        yield process
    finally:
        stop_group(process)


def worker_argv(processes: int = 1, threads: int = 2) -> list[str]:
    return [str(BIN / "dramatiq"), "workers.setup:configure", "--skip-logging",
            "--processes", str(processes), "--threads", str(threads), "--worker-shutdown-timeout", "5000"]
