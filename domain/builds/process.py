"""Run a command in its own process group, stream its output line by line, and kill the whole group
on timeout or cancellation (SIGTERM, then SIGKILL after a grace period)."""
from __future__ import annotations

import os
import selectors
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

GRACE_SECONDS = 5.0
FLUSH_SECONDS = 0.25
MAX_LINE = 4096


@dataclass(frozen=True)
class Limits:
    cpu_seconds: int
    file_bytes: int = 1 << 30
    open_files: int = 1024

    def wrap(self, argv: list[str]) -> list[str]:
        """Apply rlimits through util-linux `prlimit`, so they hold before the command's first instruction."""
        return ["prlimit", f"--cpu={self.cpu_seconds}", f"--fsize={self.file_bytes}",
                f"--nofile={self.open_files}", "--", *argv]


@dataclass(frozen=True)
class Outcome:
    exit_code: int | None
    duration: float
    timed_out: bool = False
    cancelled: bool = False


def kill_group(process: subprocess.Popen[bytes], grace: float = GRACE_SECONDS) -> None:
    """SIGTERM the process group, wait up to `grace`, then SIGKILL whatever is left of it."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
        if sig == signal.SIGTERM:
            # The leader is gone; children that ignored SIGTERM must not outlive the step.
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return


class _LineBuffer:
    def __init__(self, emit: Callable[[list[str]], None]) -> None:
        self.emit = emit
        self.partial = b""
        self.lines: list[str] = []
        self.flushed_at = time.monotonic()

    def feed(self, chunk: bytes) -> None:
        data = self.partial + chunk
        *complete, self.partial = data.split(b"\n")
        if len(self.partial) > MAX_LINE:
            complete.append(self.partial)
            self.partial = b""
        self.lines.extend(line[:MAX_LINE].decode("utf-8", "replace").rstrip("\r") for line in complete)

    def flush(self, force: bool = False) -> None:
        if force and self.partial:
            self.lines.append(self.partial[:MAX_LINE].decode("utf-8", "replace"))
            self.partial = b""
        if self.lines and (force or len(self.lines) >= 200 or time.monotonic() - self.flushed_at >= FLUSH_SECONDS):
            self.emit(self.lines)
            self.lines = []
            self.flushed_at = time.monotonic()


def run_streaming(argv: list[str], *, cwd: Path, env: dict[str, str], timeout: float,
                  on_lines: Callable[[list[str]], None], should_cancel: Callable[[], bool],
                  on_tick: Callable[[], None] | None = None, identity: dict[str, Any] | None = None) -> Outcome:
    """Run `argv`, handing batches of output lines to `on_lines` as they come. `identity` holds Popen's
    user/group arguments, for a step run as another user (`sandbox.StepUser.popen_kwargs`)."""
    started = time.monotonic()
    process = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, start_new_session=True, **(identity or {}))
    assert process.stdout is not None
    buffer = _LineBuffer(on_lines)
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    timed_out = cancelled = False
    try:
        open_pipe = True
        while open_pipe:
            for _key, _mask in selector.select(timeout=FLUSH_SECONDS):
                chunk = os.read(process.stdout.fileno(), 65536)
                if not chunk:
                    open_pipe = False
                buffer.feed(chunk)
            buffer.flush()
            if time.monotonic() - started > timeout:
                timed_out = True
            elif should_cancel():
                cancelled = True
            if timed_out or cancelled:
                break
            if on_tick:
                on_tick()
        # Output closed, but the leader may still be exiting (coreutils close stdout in an exit handler):
        # let it finish before the group is killed, or a clean exit would read as death by SIGTERM.
        while not (timed_out or cancelled):
            try:
                process.wait(timeout=FLUSH_SECONDS)
                break
            except subprocess.TimeoutExpired:  # still running without output: still bound by timeout and cancel
                if time.monotonic() - started > timeout:
                    timed_out = True
                elif should_cancel():
                    cancelled = True
    finally:
        selector.close()
        # Also reaps children that outlived the leader but hold the group (background jobs).
        kill_group(process, grace=GRACE_SECONDS if (timed_out or cancelled) else 0.5)
        process.stdout.close()
    buffer.flush(force=True)
    return Outcome(exit_code=None if (timed_out or cancelled) else process.returncode,
                   duration=time.monotonic() - started, timed_out=timed_out, cancelled=cancelled)
