"""A throwaway PostgreSQL that a test starts, stops and starts again (as .ci/with-postgres does, but owned
by the test): its own data directory and port on 127.0.0.1, run as `postgres` when the tests run as root."""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.processes import free_port


def postgres_bin() -> Path | None:
    """The newest PostgreSQL's binaries on this machine, if any."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: int(p.parent.parent.name))
    return found[-1].parent if found else None


class Postgres:
    def __init__(self, bin_dir: Path, root: Path) -> None:
        self.bin_dir = bin_dir
        self.root = root
        self.data = root / "db"
        self.log = root / "server.log"
        self.port = free_port()
        self.url = f"postgresql://conveyor@127.0.0.1:{self.port}/conveyor"
        # PostgreSQL refuses to run as root.
        self.as_owner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run([*self.as_owner, str(self.bin_dir / tool), *args], check=True, timeout=60,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def create(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "conveyor", "-A", "trust", "--no-sync")
        self.start()
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "conveyor", "conveyor")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-o", options, "start")

    def stop(self) -> None:
        """A fast shutdown: open sessions are ended, as when a database server goes away."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def running(self) -> bool:
        return subprocess.run([*self.as_owner, str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "status"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0


@contextmanager
def throwaway_postgres(log_copy: Path | None = None) -> Iterator[Postgres]:
    """A new, empty PostgreSQL (database `conveyor`, user `conveyor`, trust on loopback); removed afterwards,
    its server log copied to `log_copy` first. Callers skip when `postgres_bin()` finds none."""
    bin_dir = postgres_bin()
    if bin_dir is None:
        raise RuntimeError("no PostgreSQL binaries under /usr/lib/postgresql")
    # Not under pytest's tmp_path: the `postgres` user must be able to reach it.
    root = Path(tempfile.mkdtemp(prefix="conveyor-pg-"))
    root.chmod(0o755)
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    server = Postgres(bin_dir, root)
    try:
        server.create()
        yield server
    finally:
        try:
            if server.running():
                server.stop()
        finally:
            if log_copy is not None and server.log.exists():
                shutil.copyfile(server.log, log_copy)
            shutil.rmtree(root, ignore_errors=True)
