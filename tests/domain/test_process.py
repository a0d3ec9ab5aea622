"""Running a step: its exit status is its own, and whatever it leaves behind in its group is killed."""
from __future__ import annotations

import os
import time
from pathlib import Path

from domain.builds.process import run_streaming


def run(script: str, tmp_path: Path, timeout: float = 10, cancel_after: float | None = None) -> object:
    lines: list[str] = []
    started = time.monotonic()

    def cancel() -> bool:
        return cancel_after is not None and time.monotonic() - started > cancel_after

    outcome = run_streaming(["bash", "-c", script], cwd=tmp_path, env={"PATH": os.environ["PATH"]}, timeout=timeout,
                            on_lines=lines.extend, should_cancel=cancel)
    return outcome, lines


def test_a_step_that_closes_its_output_before_it_exits_keeps_its_exit_status(tmp_path: Path) -> None:
    """Output closed is not the end: the step is left to exit on its own (it used to be SIGTERMed, -15)."""
    outcome, lines = run("echo bye; exec >&- 2>&-; sleep 0.5; exit 3", tmp_path)
    assert outcome.exit_code == 3 and not outcome.timed_out and lines == ["bye"]  # type: ignore[attr-defined]
    outcome, _ = run("exec >&- 2>&-; sleep 0.3", tmp_path)
    assert outcome.exit_code == 0  # type: ignore[attr-defined]


def test_a_silent_step_is_still_bound_by_its_timeout_and_by_cancel(tmp_path: Path) -> None:
    outcome, _ = run("exec >&- 2>&-; sleep 30", tmp_path, timeout=1)
    assert outcome.timed_out and outcome.exit_code is None and outcome.duration < 10  # type: ignore[attr-defined]
    outcome, _ = run("exec >&- 2>&-; sleep 30", tmp_path, cancel_after=0.5)
    assert outcome.cancelled and outcome.duration < 10  # type: ignore[attr-defined]
