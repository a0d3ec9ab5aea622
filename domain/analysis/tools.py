"""Running an analyser as a subprocess: scrubbed env, own process group, hard time limit."""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


class AnalysisError(Exception):
    """An analysis could not produce a result."""


class ToolTimeout(AnalysisError):
    """A tool ran past the analysis time budget and was killed with its process group."""


class ToolFailed(AnalysisError):
    """A tool exited in a way that gives no usable findings (crash, bad usage, unreadable output)."""


class Cancelled(AnalysisError):
    """The analysis was cancelled; the running tool's process group was killed."""


CANCEL_POLL_SECONDS = 0.5


def tool_argv(module: str, *args: str) -> list[str]:
    """Command line that runs `module` from this interpreter's environment.

    `-I` keeps the checked-out project off sys.path: with plain `-m` the current directory comes first,
    so a repository containing `mypy.py` would run its own code instead of the tool.
    """
    return [sys.executable, "-I", "-m", module, *args]


def run_tool(argv: list[str], cwd: Path, timeout: float, env: dict[str, str],
             should_cancel: Callable[[], bool] | None = None) -> subprocess.CompletedProcess[str]:
    """Run `argv` with exactly `env`; on timeout or cancel kill its whole process group and raise."""
    name = argv[3] if argv[:3] == [sys.executable, "-I", "-m"] else Path(argv[0]).name
    if timeout <= 0:
        raise ToolTimeout(f"{name}: no time left in the analysis budget")
    proc = subprocess.Popen(
        argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, encoding="utf-8", errors="replace", start_new_session=True,
    )
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                wait = min(CANCEL_POLL_SECONDS, deadline - time.monotonic()) if should_cancel else timeout
                stdout, stderr = proc.communicate(timeout=max(wait, 0.01))
                break
            except subprocess.TimeoutExpired:
                if time.monotonic() >= deadline:
                    _kill_group(proc)
                    raise ToolTimeout(f"{name} did not finish within {timeout:.0f}s and was killed") from None
                if should_cancel is not None and should_cancel():
                    _kill_group(proc)
                    raise Cancelled(f"{name} was killed: the analysis was cancelled") from None
    except BaseException:
        # An interrupted worker (cancel, shutdown) must not leave analysers running behind it.
        _kill_group(proc)
        raise
    return subprocess.CompletedProcess(argv, proc.returncode, stdout, stderr)


def _kill_group(proc: subprocess.Popen[str]) -> None:
    # The leader is not reaped yet, so its pid still names our group and cannot have been reused.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()


@dataclass
class ToolContext:
    """What every tool run shares: the project, the env, a scratch dir and one deadline for the analysis."""

    root: Path
    env: dict[str, str]
    scratch: Path
    deadline: float
    should_cancel: Callable[[], bool] | None = None

    def run(self, module: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        """Run a tool module within what is left of the time budget."""
        remaining = self.deadline - time.monotonic()
        return run_tool(tool_argv(module, *args), cwd or self.root, remaining, self.env, self.should_cancel)


def failed(result: subprocess.CompletedProcess[str], why: str) -> ToolFailed:
    """A ToolFailed carrying the tail of stderr, which is where tools explain themselves."""
    tail = (result.stderr or result.stdout or "").strip()[-500:]
    return ToolFailed(f"{result.args[3]} {why} (exit {result.returncode}): {tail}")
