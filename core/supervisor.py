"""`make run`: start the embedded services, initialise the database, then run and watch
the API, the worker(s) and the scheduler until Ctrl-C, restarting any that dies."""
from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import requests

from core.embedded_redis import ensure_embedded_redis, stop_embedded_redis
from core.logging import configure_logging
from core.settings import ConfigError, Settings, load_settings

log = logging.getLogger("conveyor.supervisor")
STOP_TIMEOUT = 20.0
_PR_SET_PDEATHSIG = 1


def detach() -> None:
    """In the child: own process group (Ctrl-C reaches only us), and die if the supervisor dies."""
    os.setsid()
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


@dataclass
class Child:
    name: str
    argv: list[str]
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    backoff: float = 1.0
    restart_at: float = field(default=0.0)

    def start(self, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(self.argv, env=env, preexec_fn=detach)
        self.started_at = time.monotonic()
        log.info("started", extra={"service": self.name, "pid": self.process.pid})

    def signal_group(self, signum: int) -> None:
        """Signal the child's whole process group (it leads it), including orphans of a dead leader."""
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signum)
        except ProcessLookupError:
            pass


def commands(settings: Settings) -> list[Child]:
    bin_dir = Path(sys.executable).parent
    return [
        Child("api", [str(bin_dir / "gunicorn"), "--bind", f"{settings.host}:{settings.port}",
                      "--worker-class", "gthread", "--workers", "1", "--threads", str(settings.api_threads),
                      "--graceful-timeout", "10", "--timeout", "60", "--no-control-socket",
                      "api:create_app()"]),
        Child("worker", [str(bin_dir / "dramatiq"), "workers.setup:configure", "--skip-logging",
                         "--processes", str(settings.worker_processes),
                         "--threads", str(settings.worker_threads), "--worker-shutdown-timeout", "10000"]),
        Child("scheduler", [sys.executable, "-m", "scheduler"]),
    ]


class Supervisor:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.children = commands(settings)
        self.stopping = False
        self.env = dict(os.environ, VAR_DIR=str(settings.var_dir),
                        dramatiq_worker_timeout=str(settings.worker_timeout_ms))
        self.started_redis = False

    def prepare(self) -> None:
        if not self.settings.redis_url:
            server, self.started_redis = ensure_embedded_redis(self.settings.var_dir)
            self.env["REDIS_URL"] = server.url
        flask = str(Path(sys.executable).parent / "flask")
        subprocess.run([flask, "--app", "api", "init"], env=self.env, check=True)

    def run(self) -> None:
        if self.stopping:  # Ctrl-C during initialisation
            self._stop_all()
            return
        for child in self.children:
            child.start(self.env)
        self._announce_when_ready()
        while not self.stopping:
            self._watch()
            time.sleep(0.2)
        self._stop_all()

    def _watch(self) -> None:
        now = time.monotonic()
        for child in self.children:
            if child.process is None or child.process.poll() is None or self.stopping:
                continue
            if child.restart_at == 0.0:
                # Whatever the dead process left in its group (Dramatiq's forked workers) goes too.
                child.signal_group(signal.SIGKILL)
                # Back off when a process keeps dying at start; reset once it has run a while.
                child.backoff = 1.0 if now - child.started_at > 60 else min(child.backoff * 2, 30.0)
                child.restart_at = now + child.backoff
                log.warning("exited; restarting", extra={"service": child.name,
                                                         "code": child.process.returncode,
                                                         "in_seconds": child.backoff})
            elif now >= child.restart_at:
                child.restart_at = 0.0
                child.start(self.env)

    def _announce_when_ready(self) -> None:
        url = f"http://{self.settings.host}:{self.settings.port}"
        deadline = time.monotonic() + 60
        while not self.stopping and time.monotonic() < deadline:
            try:
                if requests.get(f"{url}/health/ready", timeout=1).status_code == 200:
                    print(f"\nConveyor is ready at {url} (API docs: {url}/docs). Ctrl-C stops it.\n",
                          flush=True)
                    return
            except requests.RequestException:
                pass
            time.sleep(0.3)

    def request_stop(self, signum: int, frame: FrameType | None) -> None:
        self.stopping = True

    def _stop_all(self) -> None:
        log.info("stopping")
        for child in self.children:
            # The leader only: gunicorn's and Dramatiq's masters stop their own processes in order (a
            # Dramatiq worker process signalled twice, by the group and by its master, dies at once
            # instead of interrupting its builds and killing their steps).
            if child.process and child.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        for child in self.children:
            if child.process is None:
                continue
            try:
                child.process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                log.warning("did not stop in time; killing", extra={"service": child.name})
                child.signal_group(signal.SIGKILL)
                child.process.wait(timeout=5)
            child.signal_group(signal.SIGKILL)  # anything the stopped leader left behind in its group
        if self.started_redis:
            stop_embedded_redis(self.settings.var_dir)
        log.info("stopped")


def main() -> int:
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    supervisor = Supervisor(settings)
    signal.signal(signal.SIGINT, supervisor.request_stop)
    signal.signal(signal.SIGTERM, supervisor.request_stop)
    try:
        supervisor.prepare()
    except subprocess.CalledProcessError as exc:
        print(f"initialisation failed (exit {exc.returncode})", file=sys.stderr)
        return 1
    supervisor.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
