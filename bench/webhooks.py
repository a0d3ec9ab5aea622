"""Webhook delivery: event -> first attempt latency, and sustained deliveries per second, to a local
receiver, with `make run`'s worker settings (1 process, WORKER_THREADS=8, 100 ms polling). The same two
figures for a bare Dramatiq actor doing the same `requests.post` (`bench/bare.py`), measured in the same
run, are the baseline.

Conveyor's latency is from just before the transaction that writes the event and its delivery row to
the receiver reading the request; the bare actor's from just before `send()`. The receiver runs in its
own process and stamps each request with the wall clock (same machine).
"""
from __future__ import annotations

import json
import multiprocessing
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
from tests.processes import BIN, free_port, running, wait_for  # noqa: E402

THREADS = 8  # WORKER_THREADS' default, what `make run` starts


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
                payload = json.dumps(seen).encode()
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


def _measure(base: str, send: Any, latency_n: int, burst_n: int) -> dict[str, Any]:
    """`send(i)` sends one and returns its key; latency with one in flight at a time, then a burst."""
    _receipts(base, reset=True)
    started: dict[str, float] = {}
    for i in range(latency_n):
        t0 = time.time()
        key = send(i)
        started[key] = t0
        wait_for(lambda k=key: k in _receipts(base), timeout=30, interval=0.002, what="a delivery")
    seen = _receipts(base, reset=True)
    latency = _percentiles([seen[k] - t0 for k, t0 in started.items()])
    first = time.time()
    keys = [send(latency_n + i) for i in range(burst_n)]
    queued = time.time() - first
    wait_for(lambda: len(_receipts(base)) >= burst_n, timeout=600, interval=0.2, what="the burst")
    seen = _receipts(base)
    elapsed = max(seen[k] for k in keys) - first
    return {"latency_ms": latency, "burst": burst_n, "burst_seconds": round(elapsed, 2),
            "deliveries_per_second": round(burst_n / elapsed, 1), "enqueue_seconds": round(queued, 2)}


def main(latency_n: int = 200, burst_n: int = 2000) -> dict[str, Any]:
    from bench import bare
    from core.settings import load_settings
    from models.db import db
    from models.migrations import migrate
    from models.user import User
    from models.webhook import WebhookEndpoint
    from workers.events import emit, publish
    from workers.setup import configure
    from workers.webhooks.signing import new_secret

    var = Path(tempfile.mkdtemp(prefix="conveyor-bench-hooks-"))
    server, _ = ensure_embedded_redis(var)
    env = {"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(var), "VAR_DIR": str(var), "REDIS_URL": server.url,
           "SECRET_KEY": "bench-secret-key-long-enough-0123456789", "LOG_LEVEL": "WARNING",
           "WEBHOOK_ALLOW_PRIVATE": "true", "dramatiq_worker_timeout": "100"}
    port = free_port()
    receiver = multiprocessing.get_context("fork").Process(target=_receiver, args=(port,), daemon=True)
    receiver.start()
    base, url = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port}/hook"
    wait_for(lambda: _ok(base), timeout=10, what="the receiver")
    try:
        configure(load_settings(env, env_file=None))
        migrate()
        actor = bare.declare()
        with db.connection_context():
            owner = User.create(username="bench", password_hash="!", role="admin")  # noqa: S106 (no login)
            WebhookEndpoint.create(name="bench", url=url, secret=new_secret(), created_by=owner,
                                   rate_limit_per_hour=1_000_000, events=["*"])

        def conveyor(i: int) -> str:
            with db.connection_context(), db.atomic():
                emitted = emit("deployment.completed", {"n": i, "version": "1.2.3"}, owner_id=None)
            publish(emitted)
            return emitted.delivery_ids[0]

        def baseline(i: int) -> str:
            key = f"bare-{i}"
            body = json.dumps({"event": "deployment.completed", "event_id": i, "data": {"n": i, "version": "1.2.3"}})
            actor.send(url, body, key)
            return key

        results: dict[str, Any] = {"threads": THREADS}
        for name, module, queue, send in (("conveyor", "workers.setup:configure", "webhooks", conveyor),
                                          ("bare_actor", "bench.bare:setup", bare.QUEUE, baseline)):
            argv = [str(BIN / "dramatiq"), module, "--skip-logging", "--processes", "1", "--threads", str(THREADS),
                    "--queues", queue]
            print(f"webhooks: {name} ...", flush=True)
            with (var / f"worker-{name}.log").open("w") as log, running(argv, env, log):
                time.sleep(2)  # the worker's boot is not part of either figure
                results[name] = _measure(base, send, latency_n, burst_n)
            print(f"  {json.dumps(results[name])}", flush=True)
        results["throughput_ratio"] = round(results["conveyor"]["deliveries_per_second"]
                                            / results["bare_actor"]["deliveries_per_second"], 2)
        return results
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
