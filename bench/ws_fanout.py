"""WebSocket fan-out: N clients watch one running build on one API process.

Starts its own embedded Redis, SQLite, gunicorn API and Dramatiq worker under a temp VAR_DIR, connects
the clients while the build is still queued, then starts the worker so every event is live. Reports
latency from an event's append (its timestamp) to its receipt, whether every client got every event,
and the API process's threads and the Redis client count with and without the sockets.
"""
from __future__ import annotations

import json
import multiprocessing
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import redis
import requests
import websocket

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import answers  # noqa: E402
from core.embedded_redis import ensure_embedded_redis, stop_embedded_redis  # noqa: E402
from tests.support.processes import BIN, free_port, running, wait_for, worker_argv  # noqa: E402

LINES = 120
STEP = f"for i in $(seq 1 {LINES}); do echo line-$i; sleep 0.05; done"


def _status(pid: int, field: str) -> int:
    """A number from /proc/PID/status (Threads, VmRSS in kB)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return -1


def _snapshot(pid: int, client: redis.Redis) -> dict[str, Any]:
    return {"api_threads": _status(pid, "Threads"), "api_rss_mb": round(_status(pid, "VmRSS") / 1024, 1),
            "redis_clients": client.info("clients")["connected_clients"]}


def _allow_open_files(wanted: int) -> None:
    """A thousand sockets need more descriptors than the usual soft limit of 1,024 (the processes started
    from here inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard) if hard != resource.RLIM_INFINITY else wanted,
                                                    hard))


def _api_worker_pid(master: int) -> int:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return int(children[0]) if children else master


class Client(threading.Thread):
    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.received: list[tuple[str, float]] = []
        self.connected = threading.Event()
        self.error: str | None = None

    def run(self) -> None:
        try:
            ws = websocket.create_connection(self.url, timeout=120)
            json.loads(ws.recv())  # connected
            self.connected.set()
            while raw := ws.recv():
                event = json.loads(raw)
                sent = datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00")).timestamp()
                self.received.append((event["id"], time.time() - sent))
        except Exception as exc:  # reported, not raised: one bad client must not hide the others' figures
            self.error = f"{type(exc).__name__}: {exc}"
            self.connected.set()


CLIENT_PROCESSES = 4


def _client_group(url: str, count: int, ready: Any, go: Any, out: Any) -> None:
    """One of several client processes, so the clients' own GIL does not inflate the latencies."""
    watchers = [Client(url) for _ in range(count)]
    for watcher in watchers:
        watcher.start()
    for watcher in watchers:
        watcher.connected.wait(60)
    ready.put(count)
    for watcher in watchers:
        watcher.join(timeout=120)
    out.put([(w.received, w.error) for w in watchers])


def measure(clients: int, var: Path, env: dict[str, str], base: str, token: str, api_pid: int) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    task_id = requests.post(f"{base}/api/v1/builds", headers=headers, json={"project_name": "fanout"},
                            timeout=10).json()["task_id"]
    client = redis.Redis.from_url(env["REDIS_URL"])
    idle = _snapshot(api_pid, client)
    url = base.replace("http://", "ws://") + f"/api/v1/ws/builds/{task_id}?token={token}"
    ctx = multiprocessing.get_context("fork")
    ready, out = ctx.Queue(), ctx.Queue()
    each, extra = divmod(clients, CLIENT_PROCESSES)
    share = [each + (1 if i < extra else 0) for i in range(CLIENT_PROCESSES)]
    groups = [ctx.Process(target=_client_group, args=(url, n, ready, None, out)) for n in share if n]
    for group in groups:
        group.start()
    for _ in groups:
        ready.get(timeout=120)
    busy = _snapshot(api_pid, client)
    started = time.monotonic()
    with (var / f"worker-{clients}.log").open("w") as log, running(worker_argv(1, 2), env, log):
        watchers = [item for _ in groups for item in out.get(timeout=180)]
    for group in groups:
        group.join(timeout=10)
    expected = [e[0].decode() for e in client.xrange(f"conveyor:stream:{task_id}")]
    latencies = sorted(lat for received, _ in watchers for _, lat in received)
    complete = sum(1 for received, _ in watchers if [i for i, _ in received] == expected)
    return {
        "clients": clients, "events_per_client": len(expected), "clients_with_every_event": complete,
        "client_errors": sum(1 for _, error in watchers if error), "client_processes": len(groups),
        "latency_ms": {"p50": round(1000 * statistics.median(latencies), 1),
                       "p99": round(1000 * latencies[int(0.99 * (len(latencies) - 1))], 1),
                       "max": round(1000 * latencies[-1], 1)},
        "idle": idle, "with_sockets": busy, "seconds": round(time.monotonic() - started, 1),
    }


def main(counts: list[int]) -> list[dict[str, Any]]:
    _allow_open_files(4 * max(counts) + 1024)
    var = Path(tempfile.mkdtemp(prefix="conveyor-bench-"))
    server, _ = ensure_embedded_redis(var)
    env = {"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(var), "VAR_DIR": str(var), "REDIS_URL": server.url,
           "SECRET_KEY": "bench-secret-key-long-enough-0123456789", "RATE_LIMITS_ENABLED": "false",
           "LOG_LEVEL": "WARNING", "ADMIN_PASSWORD": "bench-admin-pw", "dramatiq_worker_timeout": "100"}
    subprocess.run([str(BIN / "flask"), "--app", "api", "init"], cwd=ROOT, env=env, check=True, capture_output=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    argv = [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--worker-class", "gthread", "--threads",
            str(max(counts) + 64), "--worker-connections", str(max(counts) + 100), "--no-control-socket",
            "api:create_app()"]
    results = []
    try:
        with (var / "api.log").open("w") as log, running(argv, env, log) as api:
            wait_for(lambda: answers(f"{base}/health/ready"), timeout=60, what="the API")
            token = requests.post(f"{base}/api/v1/auth/login", timeout=10,
                                  json={"username": "admin", "password": "bench-admin-pw"}).json()["access_token"]
            repo = var / "repo"
            repo.mkdir()
            for args in (["init", "-q", "-b", "main"], ["commit", "-q", "--allow-empty", "-m", "x"]):
                subprocess.run(["git", "-c", "user.name=b", "-c", "user.email=b@x", *args], cwd=repo, check=True)
            requests.post(f"{base}/api/v1/projects", headers={"Authorization": f"Bearer {token}"}, timeout=10,
                          json={"name": "fanout", "repo_url": str(repo), "build_steps": [{"name": "s", "run": STEP}]})
            api_pid = _api_worker_pid(api.pid)
            for count in counts:
                print(f"ws-fanout: {count} clients ...", flush=True)
                results.append(measure(count, var, env, base, token, api_pid))
                print(f"  {json.dumps(results[-1])}", flush=True)
    finally:
        stop_embedded_redis(var)
    return results



if __name__ == "__main__":
    print(json.dumps(main([int(n) for n in (sys.argv[1:] or ["20", "200"])]), indent=2))
    os._exit(0)
