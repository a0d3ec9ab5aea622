"""Webhook delivery: event -> first attempt latency, and sustained deliveries per second, to a local
receiver, with `make run`'s worker settings (1 process, WORKER_THREADS=8, 100 ms polling). The same two
figures for a bare Dramatiq actor doing the same `requests.post` (`bench/bare.py`), measured in the same
run, are the baseline.

Latency, one event at a time: for Conveyor from just before the transaction that writes the event and
its delivery row, for the bare actor from just before `send()`, to the receiver reading the request.
Throughput: a burst queued while no worker runs, then drained by a fresh worker, from its first
delivery to its last. The receiver runs in its own process and stamps requests with the wall clock.
"""
from __future__ import annotations

import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.embedded_redis import ensure_embedded_redis, stop_embedded_redis  # noqa: E402
from tests.support.processes import BIN, free_port, running, wait_for  # noqa: E402

THREADS = 8  # WORKER_THREADS' default, what `make run` starts
ROUNDS = 2
SCALE = (1, 2, 4)  # worker processes, for the scale-out figures


def _worker_argv(module: str, queue: str, processes: int = 1) -> list[str]:
    return [str(BIN / "dramatiq"), module, "--skip-logging", "--processes", str(processes), "--threads", str(THREADS),
            "--queues", queue]


def _receiver(port: int) -> None:
    seen: dict[str, float] = {}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            key = self.headers.get("webhook-id") or self.headers.get("x-bench-id") or "?"
            with lock:
                seen[key] = time.time()
            self.send_response(204)
            self.end_headers()

        def do_GET(self) -> None:
            with lock:
                payload = json.dumps(len(seen) if self.path == "/count" else seen).encode()
                if self.path == "/reset":
                    seen.clear()
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    server.request_queue_size = 1024
    server.serve_forever()


def _receipts(base: str, reset: bool = False) -> dict[str, float]:
    return dict(requests.get(f"{base}/{'reset' if reset else 'seen'}", timeout=10).json())


def _percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {"p50": round(1000 * statistics.median(ordered), 1),
            "p99": round(1000 * ordered[int(0.99 * (len(ordered) - 1))], 1), "max": round(1000 * ordered[-1], 1)}


def _latency(base: str, send: Any, n: int) -> dict[str, float]:
    """One in flight at a time: from just before `send(i)` to the receiver reading the request."""
    _receipts(base, reset=True)
    started: dict[str, float] = {}
    for i in range(n):
        t0 = time.time()
        key = send(i)
        started[key] = t0
        wait_for(lambda k=key: k in _receipts(base), timeout=30, interval=0.002, what="a delivery")
    seen = _receipts(base, reset=True)
    return _percentiles([seen[k] - t0 for k, t0 in started.items()])


def _drain(base: str, keys: list[str], worker: Any) -> dict[str, Any]:
    """`keys` were queued with no worker running; the rate at which a fresh worker delivers them,
    from the first receipt to the last (its boot and the producer are left out)."""
    with worker():
        wait_for(lambda: requests.get(f"{base}/count", timeout=10).json() >= len(keys), timeout=600, interval=0.2,
                 what="the burst")
    seen = _receipts(base, reset=True)
    times = sorted(seen[k] for k in keys)
    return {"burst": len(keys), "burst_seconds": round(times[-1] - times[0], 2),
            "deliveries_per_second": round((len(keys) - 1) / (times[-1] - times[0]), 1)}


def main(latency_n: int = 200, burst_n: int = 2000, scale: tuple[int, ...] = SCALE) -> dict[str, Any]:
    from bench import bare
    from core.settings import load_settings
    from domain.events import emit, publish
    from domain.webhooks import dispatch
    from domain.webhooks.signing import new_secret
    from models.db import db
    from models.migrations import migrate
    from models.user import User
    from models.webhook import WebhookEndpoint
    from workers.setup import configure

    var = Path(tempfile.mkdtemp(prefix="conveyor-bench-hooks-"))
    server, _ = ensure_embedded_redis(var)
    env = {"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(var), "VAR_DIR": str(var), "REDIS_URL": server.url,
           "SECRET_KEY": "bench-secret-key-long-enough-0123456789", "LOG_LEVEL": "WARNING",
           "WEBHOOK_ALLOW_PRIVATE": "true", "dramatiq_worker_timeout": "100",
           # SQLite under the temp VAR_DIR, as `make run`; BENCH_DATABASE_URL measures another database.
           "DATABASE_URL": os.environ.get("BENCH_DATABASE_URL", f"sqlite:///{var / 'conveyor.db'}")}
    port = free_port()
    receiver = multiprocessing.get_context("fork").Process(target=_receiver, args=(port,), daemon=True)
    receiver.start()
    base, url = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port}/hook"
    wait_for(lambda: _ok(base), timeout=10, what="the receiver")
    try:
        runtime = configure(load_settings(env, env_file=None))
        migrate()
        actor = bare.declare()
        with db.connection_context():
            owner = User.create(username="bench", password_hash="!", role="admin")  # noqa: S106 (no login)
            WebhookEndpoint.create(name="bench", url=url, secret=new_secret(), created_by=owner,
                                   rate_limit_per_hour=1_000_000, events=["*"])

        def conveyor(i: int) -> str:
            with db.connection_context(), db.atomic():
                emitted = emit("deployment.completed", {"n": i, "version": "1.2.3"}, owner_id=None)
            publish(runtime.broker, emitted)
            return emitted.delivery_ids[0]

        def conveyor_burst(n: int) -> list[str]:
            ids: list[str] = []
            with db.connection_context():
                for start in range(0, n, 100):
                    with db.atomic():
                        batch = [emit("deployment.completed", {"n": i, "version": "1.2.3"}, owner_id=None)
                                 for i in range(start, min(start + 100, n))]
                    ids += [delivery for emitted in batch for delivery in emitted.delivery_ids]
                dispatch.publish(runtime.broker, ids)
            return ids

        def baseline(i: int) -> str:
            key = f"bare-{i}"
            body = json.dumps({"event": "deployment.completed", "event_id": i, "data": {"n": i, "version": "1.2.3"}})
            actor.send(url, body, key)
            return key

        def baseline_burst(n: int) -> list[str]:
            return [baseline(latency_n + i) for i in range(n)]

        systems = (("conveyor", "workers.setup:configure", "webhooks", conveyor, conveyor_burst),
                   ("bare_actor", "bench.bare:setup", bare.QUEUE, baseline, baseline_burst))
        rounds: list[dict[str, Any]] = []
        for n in range(ROUNDS):  # alternated, so that a slow spell of the shared machine hits both
            measured: dict[str, Any] = {}
            for name, module, queue, one, burst in systems:
                argv = _worker_argv(module, queue)
                log = (var / f"worker-{name}.log").open("a")

                def worker(argv: list[str] = argv, log: Any = log) -> Any:
                    return running(argv, env, log)

                print(f"webhooks: round {n + 1}, {name} ...", flush=True)
                with worker():
                    time.sleep(2)  # the worker's boot is not part of either figure
                    latency = _latency(base, one, latency_n)
                measured[name] = {"latency_ms": latency, **_drain(base, burst(burst_n), worker)}
                print(f"  {json.dumps(measured[name])}", flush=True)
            measured["throughput_ratio"] = round(measured["conveyor"]["deliveries_per_second"]
                                                 / measured["bare_actor"]["deliveries_per_second"], 2)
            rounds.append(measured)
        with (var / "worker-scale.log").open("a") as log:
            scaled = [{"processes": n, **_drain(base, conveyor_burst(burst_n), lambda n=n: running(
                _worker_argv("workers.setup:configure", "webhooks", n), env, log))} for n in scale]
        for entry in scaled:  # the same burst drained by 1, 2 and 4 worker processes of THREADS threads
            entry["ratio_to_one"] = round(entry["deliveries_per_second"] / scaled[0]["deliveries_per_second"], 2)
            print(f"  scale-out: {json.dumps(entry)}", flush=True)
        return {"threads": THREADS, "rounds": rounds, "scale_out": scaled}
    finally:
        receiver.kill()
        stop_embedded_redis(var)


def _ok(url: str) -> bool:
    try:
        return requests.get(f"{url}/seen", timeout=1).status_code == 200
    except requests.RequestException:
        return False


if __name__ == "__main__":
    print(json.dumps(main(*[int(n) for n in sys.argv[1:3]]), indent=2))
