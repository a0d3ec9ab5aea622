"""`python -m scheduler`: run the scheduler process until SIGTERM or SIGINT."""
from __future__ import annotations

import signal
import sys
from types import FrameType

from core.logging import configure_logging
from core.settings import ConfigError, load_settings
from scheduler.runner import SchedulerRunner
from workers.schedule import timed
from workers.setup import configure


def main() -> int:
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    try:
        jobs = timed(settings.scheduler_intervals)
    except ValueError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    runtime = configure(settings)
    runner = SchedulerRunner(runtime.redis, jobs, settings.scheduler_lock_ttl)

    def _stop(signum: int, frame: FrameType | None) -> None:
        runner.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    runner.start()
    runner.lock.release()
    return 0


if __name__ == "__main__":
    sys.exit(main())
