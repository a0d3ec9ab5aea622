"""`make soak`: `make run`'s whole platform under mixed load for a while (10 minutes by default).

Starts `python -m core.supervisor` (what `make run` runs) on a temp VAR_DIR and a free port, a webhook receiver
and a git repository, then 6 client threads loop over a weighted mix: list reads, metric batches, builds,
webhook test sends, alert acknowledgements and build progress WebSockets. It samples every process's resident
memory every 15 s and reports, per process, the growth from the end of the first minute to the end; per kind of
request, the count, the errors (an answer other than the expected one, or no answer) and the p99 of the first and
of the last minute (the drift); and what was lost: builds not finished, webhook sends not received (within 3
minutes of the load's end).

Usage: python -m bench.soak [SECONDS]   (SOAK_SECONDS also sets it; writes bench/soak-results.{md,json})
"""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
import websocket
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import answers  # noqa: E402
from tests.support.processes import BIN, free_port, running, stop_group, wait_for  # noqa: E402
from tests.support.receiver import Receiver  # noqa: E402

CLIENTS, SAMPLE_EVERY, WARMUP = 6, 15.0, 60.0
ADMIN_PASSWORD = "soak-admin-pw-0123456789"  # noqa: S105 (a throwaway admin in a temp database)
PASSWORD = "soak-user-pw-0123456789"  # noqa: S105


class Load:
    """The client side: one session per thread, every request timed and checked."""

    def __init__(self, base: str, token: str, project: str, hook_id: str, duration: float) -> None:
        self.base, self.project, self.hook_id = base, project, hook_id
        self.headers = {"Authorization": f"Bearer {token}"}
        self.token = token
        self.started = time.monotonic()
        self.deadline = self.started + duration
        self.samples: dict[str, list[tuple[float, float]]] = defaultdict(list)  # kind -> (at, ms)
        self.errors: dict[str, list[str]] = defaultdict(list)
        self.builds: list[str] = []
        self.test_sends = 0
        self.lock = threading.Lock()
        self.ops: list[tuple[int, Callable[[requests.Session], None]]] = [
            (30, self.read_builds), (15, self.read_webhooks), (15, self.read_alerts), (10, self.post_metrics),
            (5, self.start_build), (10, self.send_test), (5, self.acknowledge), (3, self.watch_build)]

    def timed(self, kind: str, call: Callable[[], requests.Response], expected: int) -> requests.Response | None:
        began = time.monotonic()
        try:
            response = call()
        except requests.RequestException as exc:
            self.note(kind, began, f"{type(exc).__name__}: {exc}")
            return None
        self.note(kind, began, None if response.status_code == expected else f"{response.status_code} "
                  f"{response.text[:200]}")
        return response

    def note(self, kind: str, began: float, error: str | None) -> None:
        ms = (time.monotonic() - began) * 1000
        with self.lock:
            self.samples[kind].append((began - self.started, ms))
            if error:
                self.errors[kind].append(f"{began - self.started:.1f}s {error}")

    def get(self, session: requests.Session, kind: str, path: str) -> requests.Response | None:
        return self.timed(kind, lambda: session.get(self.base + path, headers=self.headers, timeout=30), 200)

    def post(self, session: requests.Session, kind: str, path: str, body: Any,
             expected: int) -> requests.Response | None:
        return self.timed(kind, lambda: session.post(self.base + path, json=body, headers=self.headers, timeout=30),
                          expected)

    def read_builds(self, session: requests.Session) -> None:
        self.get(session, "GET /builds", "/api/v1/builds?limit=20")

    def read_webhooks(self, session: requests.Session) -> None:
        self.get(session, "GET /webhooks", "/api/v1/webhooks")

    def read_alerts(self, session: requests.Session) -> None:
        self.get(session, "GET /alerts/summary", "/api/v1/alerts/summary")

    def post_metrics(self, session: requests.Session) -> None:
        now = time.time()
        points = [{"name": "soak.latency", "value": random.uniform(1, 100),
                   "timestamp": datetime.fromtimestamp(now - i, UTC).isoformat(),
                   "tags": {"shard": str(i % 4)}} for i in range(200)]
        self.post(session, "POST /metrics", "/api/v1/metrics", {"metrics": points}, 202)

    def start_build(self, session: requests.Session) -> None:
        response = self.post(session, "POST /builds", "/api/v1/builds", {"project_name": self.project}, 202)
        if response is not None and response.status_code == 202:
            with self.lock:
                self.builds.append(response.json()["task_id"])

    def send_test(self, session: requests.Session) -> None:
        response = self.post(session, "POST /webhooks/{id}/test", f"/api/v1/webhooks/{self.hook_id}/test", None, 202)
        if response is not None and response.status_code == 202:
            with self.lock:
                self.test_sends += 1

    def acknowledge(self, session: requests.Session) -> None:
        self.post(session, "POST /alerts/acknowledge", "/api/v1/alerts/acknowledge", {"alert_ids": [1]}, 200)

    def watch_build(self, session: requests.Session) -> None:
        """Open a progress socket on the newest build and read it to its end (or for at most 20 s)."""
        with self.lock:
            task = self.builds[-1] if self.builds else None
        if task is None:
            return
        began = time.monotonic()
        url = f"ws://{self.base.split('://', 1)[1]}/api/v1/ws/builds/{task}?token={self.token}"
        try:
            ws = websocket.create_connection(url, timeout=20)
            try:
                first = json.loads(ws.recv())
                self.note("WS connect", began, None if first.get("type") == "connected" else str(first)[:200])
                while time.monotonic() - began < 20 and ws.recv():
                    pass
            finally:
                ws.close()
        except websocket.WebSocketConnectionClosedException:
            pass  # the server closes after the final event
        except (OSError, websocket.WebSocketException) as exc:
            self.note("WS connect", began, f"{type(exc).__name__}: {exc}")

    def run(self) -> None:
        weights = [w for w, _ in self.ops]
        with requests.Session() as session:
            # Like any HTTP client, resend a GET once when the server closed an idle keep-alive connection just as
            # it was reused (the race every keep-alive server has); writes are never resent.
            session.mount("http://", HTTPAdapter(max_retries=Retry(total=1, connect=1, read=1, status=0,
                                                                    allowed_methods={"GET"})))
            while time.monotonic() < self.deadline:
                random.choices([op for _, op in self.ops], weights)[0](session)


def processes(root_pid: int) -> dict[int, tuple[str, int]]:
    """Every process under `root_pid` (itself included): pid -> (what it is, resident KB)."""
    table = subprocess.run(["ps", "-e", "-o", "pid=,ppid=,rss=,args="], capture_output=True, text=True,
                           check=True).stdout.splitlines()
    rows = {int(p): (int(pp), int(rss), args) for p, pp, rss, args in (line.split(None, 3) for line in table)}
    found, frontier = {}, [root_pid]
    while frontier:
        pid = frontier.pop()
        if pid in rows:
            found[pid] = (describe(rows[pid][2]), rows[pid][1])
            frontier += [child for child, row in rows.items() if row[0] == pid]
    return found


def describe(args: str) -> str:
    for needle, name in (("gunicorn", "api"), ("dramatiq", "worker"), ("-m scheduler", "scheduler"),
                         ("redis-server", "redis"), ("core.supervisor", "supervisor"), ("make", "make")):
        if needle in args:
            return name
    return args.split()[0].rsplit("/", 1)[-1]


def sampler(root_pid: int, stop: threading.Event, started: float, out: list[dict[str, Any]]) -> None:
    while not stop.wait(SAMPLE_EVERY):
        out.append({"at": round(time.monotonic() - started, 1),
                    "rss_kb": {str(pid): [name, kb] for pid, (name, kb) in processes(root_pid).items()}})


def p99(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 1)


def summarise(load: Load, samples: list[dict[str, Any]], duration: float) -> dict[str, Any]:
    requests_by_kind = {}
    for kind, points in sorted(load.samples.items()):
        first = [ms for at, ms in points if at < 60]
        last = [ms for at, ms in points if at >= duration - 60]
        requests_by_kind[kind] = {"count": len(points), "errors": len(load.errors[kind]),
                                  "p99_first_minute_ms": p99(first), "p99_last_minute_ms": p99(last),
                                  "error_examples": load.errors[kind][:10]}
    memory = {}
    after_warmup = next((s for s in samples if s["at"] >= WARMUP), samples[0] if samples else None)
    if after_warmup and samples:
        for pid, (name, kb) in samples[-1]["rss_kb"].items():
            start = after_warmup["rss_kb"].get(pid)
            if start is None:  # a build step, or a process restarted meanwhile: not comparable
                continue
            memory[f"{name} {pid}"] = {"rss_mb_after_first_minute": round(start[1] / 1024, 1),
                                       "rss_mb_at_end": round(kb / 1024, 1),
                                       "growth_mb": round((kb - start[1]) / 1024, 1)}
    return {"requests": requests_by_kind, "memory": memory}


def settle(base: str, headers: dict[str, str], load: Load, receiver: Receiver) -> dict[str, Any]:
    """After the load: every build finishes and every test send arrives (at most 3 minutes)."""
    def count(status: str) -> int:
        return int(requests.get(f"{base}/api/v1/builds?status={status}&limit=1", headers=headers, timeout=10)
                   .json()["total"])

    def received() -> set[str]:
        return {json.loads(r.body)["event_id"] for r in list(receiver.requests)
                if json.loads(r.body)["event"] == "webhook.test"}

    began = time.monotonic()
    while time.monotonic() - began < 180 and (count("queued") + count("running") or
                                              len(received()) < load.test_sends):
        time.sleep(2)
    distinct = received()
    return {"settle_seconds": round(time.monotonic() - began, 1), "builds_started": len(load.builds),
            **{f"builds_{status}": count(status) for status in ("completed", "failed", "queued", "running")},
            "webhook_tests_accepted": load.test_sends, "webhook_tests_received_distinct": len(distinct),
            "webhook_tests_not_received": max(0, load.test_sends - len(distinct)),
            "webhook_requests_received": len(receiver.requests)}


def table(result: dict[str, Any]) -> str:
    lines = [f"Duration {result['seconds']} s, {CLIENTS} client threads; memory every {SAMPLE_EVERY:.0f} s.", "",
             "| request | count | errors | p99 first minute ms | p99 last minute ms |",
             "| --- | ---: | ---: | ---: | ---: |"]
    lines += [f"| {k} | {v['count']} | {v['errors']} | {v['p99_first_minute_ms']} | {v['p99_last_minute_ms']} |"
              for k, v in result["requests"].items()]
    lines += ["", "| process | RSS MB after the first minute | at the end | growth MB |",
              "| --- | ---: | ---: | ---: |"]
    lines += [f"| {k} | {v['rss_mb_after_first_minute']} | {v['rss_mb_at_end']} | {v['growth_mb']} |"
              for k, v in sorted(result["memory"].items())]
    lines += ["", "| outcome | value |", "| --- | ---: |"]
    lines += [f"| {k} | {v} |" for k, v in result["outcome"].items()]
    return "\n".join(lines)


def git_repo(path: Path) -> None:
    path.mkdir()
    for argv in (["init", "-q", "-b", "main"], ["add", "."], ["-c", "user.name=s", "-c", "user.email=s@example.com",
                                                              "commit", "-qm", "soak"]):
        if argv[0] == "add":
            (path / "step.sh").write_text("echo soaking; sleep 1; echo done\n")
        subprocess.run(["git", *argv], cwd=path, check=True)


def main(duration: float) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="conveyor-soak-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {"VAR_DIR": str(work / "var"), "PORT": str(port), "ADMIN_PASSWORD": ADMIN_PASSWORD,
           "WEBHOOK_ALLOW_PRIVATE": "true", "RATE_LIMITS_ENABLED": "false", "LOG_LEVEL": "WARNING",
           # The clients do not refresh their token: it must outlive the run.
           "ACCESS_TOKEN_TTL": str(int(max(1800, duration + 600)))}
    git_repo(work / "repo")
    receiver = Receiver([204])
    threading.Thread(target=receiver.server.serve_forever, daemon=True).start()
    log_path = work / "run.log"
    print(f"soak: {duration:.0f} s against make run on {base}; log {log_path}", flush=True)
    with running([str(BIN / "python"), "-m", "core.supervisor"], env, log_path.open("w")) as platform:
        wait_for(lambda: answers(f"{base}/health/ready"), timeout=120, interval=0.5, what="make run to be ready")
        admin = requests.post(f"{base}/api/v1/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD},
                              timeout=10).json()["access_token"]
        requests.post(f"{base}/api/v1/users", json={"username": "soak", "password": PASSWORD, "role": "user",
                                                    "email": "soak@example.com"},
                      headers={"Authorization": f"Bearer {admin}"}, timeout=10).raise_for_status()
        token = requests.post(f"{base}/api/v1/auth/login", json={"username": "soak", "password": PASSWORD},
                              timeout=10).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        requests.post(f"{base}/api/v1/projects", headers=headers, timeout=10, json={
            "name": "soak", "repo_url": str(work / "repo"),
            "build_steps": [{"name": "step", "run": "sh step.sh"}]}).raise_for_status()
        hook = requests.post(f"{base}/api/v1/webhooks", headers=headers, timeout=10, json={
            "name": "soak", "url": receiver.url, "events": ["webhook.test"],
            "rate_limit_per_hour": 1_000_000})  # the default 1,000 an hour would hold most sends back
        hook.raise_for_status()
        load = Load(base, token, "soak", hook.json()["id"], duration)
        stop, samples = threading.Event(), []  # type: ignore[var-annotated]
        watcher = threading.Thread(target=sampler, args=(platform.pid, stop, load.started, samples), daemon=True)
        watcher.start()
        clients = [threading.Thread(target=load.run) for _ in range(CLIENTS)]
        for thread in clients:
            thread.start()
        for n, thread in enumerate(clients):
            thread.join()
            if n == 0:
                print(f"soak: load done after {time.monotonic() - load.started:.0f} s; settling", flush=True)
        stop.set()
        watcher.join()
        outcome = settle(base, headers, load, receiver)
        result = {"seconds": duration, **summarise(load, samples, duration), "outcome": outcome,
                  "memory_samples": samples}
        stop_group(platform, signal.SIGINT, timeout=60)
    receiver.server.shutdown()
    errors = sum(v["errors"] for v in result["requests"].values())
    result["outcome"]["request_errors"] = errors
    result["outcome"]["log_errors"] = sum(1 for line in log_path.read_text().splitlines()
                                          if '"level": "ERROR"' in line or "Traceback" in line)
    return result


if __name__ == "__main__":
    seconds = float(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("SOAK_SECONDS", 600))
    outcome = main(seconds)
    stem = ROOT / "bench" / "soak-results"
    stem.with_suffix(".json").write_text(json.dumps(outcome, indent=2) + "\n")
    stem.with_suffix(".md").write_text(f"# Soak\n\n{table(outcome)}\n")
    print(stem.with_suffix(".md").read_text())
