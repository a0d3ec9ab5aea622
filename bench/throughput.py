"""Enqueue and process throughput of no-op jobs: Conveyor's worker stack against bare Dramatiq and Celery on
the same (embedded) Redis, in one run. Every job does `INCR bench:done` (`bench/noop_count.py`).

Per system: N `send()`s in a loop from this process, timed (enqueue msg/s), while no worker runs (in ten
slices, the systems taking turns, so that the shared machine's slow spells hit all alike); then, one system
at a time, its worker is started and the counter polled every 20 ms: its start-up is the time to the first
completion, its process rate runs from the first completion seen to the N-th. Both Dramatiq workers get
`make run`'s worker flags (`core.supervisor.commands`: 1 process, WORKER_THREADS=8, dramatiq_worker_timeout)
plus `--queues`; Celery gets a thread pool of 8. Then the API path, Conveyor only (`bench/throughput_api.py`).
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple, cast

import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import noop_bare, noop_conveyor, throughput_api  # noqa: E402
from bench.noop_count import COUNTER, URL_ENV  # noqa: E402
from core.embedded_redis import ensure_embedded_redis, stop_embedded_redis  # noqa: E402
from core.settings import Settings, load_settings  # noqa: E402
from core.supervisor import commands  # noqa: E402
from tests.support.processes import BIN, free_port, running  # noqa: E402

ADMIN_PASSWORD = "bench-admin-pw"  # noqa: S105 (a throwaway database)
SYSTEMS = ("conveyor", "bare_dramatiq", "celery")


def _dramatiq_argv(settings: Settings, module: str, queue: str) -> list[str]:
    """`make run`'s worker command line, with `module` instead of `workers.setup:configure`."""
    argv = next(child.argv for child in commands(settings) if child.name == "worker")
    return [argv[0], module, *argv[2:], "--queues", queue]


class System(NamedTuple):
    name: str
    send: Callable[[], Any]
    worker: list[str]


def _enqueue(systems: list[System], n: int, chunks: int) -> dict[str, float]:
    """N sends per system, in `chunks` slices taken in turn, so that a slow spell of the shared machine
    hits every system alike; no worker runs. Messages per second, per system."""
    seconds = dict.fromkeys((s.name for s in systems), 0.0)
    for chunk in range(chunks):
        for system in systems if chunk % 2 == 0 else systems[::-1]:
            t0 = time.perf_counter()
            for _ in range(n // chunks + (1 if chunk < n % chunks else 0)):
                system.send()
            seconds[system.name] += time.perf_counter() - t0
    return {name: round(n / spent, 1) for name, spent in seconds.items()}


def _drain(system: System, env: dict[str, str], n: int, wait: float, client: redis.Redis,
           var: Path) -> dict[str, Any]:
    """Start the worker on its queue of N messages and poll the counter every 20 ms until it reaches N."""
    client.delete(COUNTER)
    first = last = None
    with (var / f"worker-{system.name}.log").open("w") as log:
        spawned = time.monotonic()
        with running(system.worker, env, log) as worker:
            while time.monotonic() < spawned + wait and worker.poll() is None:
                done, now = int(cast(bytes, client.get(COUNTER) or 0)), time.monotonic()
                if done:
                    first, last = first or (now, done), (now, done)
                if done >= n:
                    break
                time.sleep(0.02)
    result: dict[str, Any] = {"n": n, "completed": last[1] if last else 0, "complete": bool(last and last[1] >= n)}
    if first is None or last is None:
        return {**result, "error": f"no job completed within {wait} s (see {log.name})"}
    span = last[0] - first[0]
    return {**result, "worker_start_seconds": round(first[0] - spawned, 2), "process_seconds": round(span, 2),
            "process_per_second": round((last[1] - first[1]) / span, 1) if span > 0 else None}


def _celery(env: dict[str, str], threads: int) -> System | str:
    """The Celery system, or why it is skipped."""
    try:
        from bench import noop_celery
    except ImportError as exc:
        return f"celery is not importable: {exc}"
    if not (BIN / "celery").exists():
        return f"no celery command in {BIN}"
    noop_celery.app.conf.broker_url = env[noop_celery.BROKER_ENV]
    argv = [str(BIN / "celery"), "-A", "bench.noop_celery", "worker", "--pool", "threads", "--concurrency",
            str(threads), "--without-gossip", "--without-mingle", "--without-heartbeat",
            "-Q", noop_celery.QUEUE, "--loglevel", "WARNING"]
    return System("celery", noop_celery.noop.delay, argv)


def main(smoke: bool = False) -> dict[str, Any]:
    n, m, wait = (1_000, 200, 30.0) if smoke else (10_000, 2_000, 45.0)
    started = time.monotonic()
    var = Path(tempfile.mkdtemp(prefix="conveyor-bench-throughput-"))
    server, _ = ensure_embedded_redis(var)
    env = {"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(var), "VAR_DIR": str(var), "REDIS_URL": server.url,
           "SECRET_KEY": "bench-secret-key-long-enough-0123456789", "LOG_LEVEL": "WARNING",
           "RATE_LIMITS_ENABLED": "false", "ADMIN_PASSWORD": ADMIN_PASSWORD, "HOST": "127.0.0.1",
           "PORT": str(free_port()), URL_ENV: server.url,
           "BENCH_CELERY_BROKER_URL": server.url.rsplit("/", 1)[0] + "/1"}
    settings = load_settings(env, env_file=None)
    env["dramatiq_worker_timeout"] = str(settings.worker_timeout_ms)  # as the supervisor sets it
    result: dict[str, Any] = {"mode": "smoke" if smoke else "full", "n": n, "threads": settings.worker_threads}
    try:
        subprocess.run([str(BIN / "flask"), "--app", "api", "init"], cwd=ROOT, env=env, check=True,
                       capture_output=True)
        conveyor = noop_conveyor.setup(settings)
        bare = noop_bare.setup(server.url)
        client = redis.Redis.from_url(server.url)
        systems = [System("bare_dramatiq", bare.send, _dramatiq_argv(settings, "bench.noop_bare:setup",
                                                                     noop_bare.QUEUE)),
                   System("conveyor", conveyor.send, _dramatiq_argv(settings, "bench.noop_conveyor:setup",
                                                                    noop_conveyor.QUEUE))]
        celery = _celery(env, settings.worker_threads)
        if isinstance(celery, System):
            systems.append(celery)
        print(f"throughput: enqueueing {n} no-op jobs for each of {', '.join(s.name for s in systems)} ...",
              flush=True)
        rates = _enqueue(systems, n, 10)
        measured: dict[str, Any] = {} if isinstance(celery, System) else {"celery": {"skipped": celery}}
        for system in systems:
            print(f"throughput: {system.name}: {rates[system.name]:,.0f} enqueued/s; draining ...", flush=True)
            measured[system.name] = {"enqueue_per_second": rates[system.name],
                                     **_drain(system, env, n, wait, client, var)}
            print(f"  {json.dumps(measured[system.name])}", flush=True)
        result["systems"] = {name: measured[name] for name in SYSTEMS}
        result["ratios"] = _ratios(result["systems"])
        process_ratio = result["ratios"].get("conveyor", {}).get("process")
        result["target"] = {"conveyor_process_ratio_at_least": 0.5,
                            "met": process_ratio is not None and process_ratio >= 0.5}
        print(f"throughput: API path, {m} requests from 8 clients ...", flush=True)
        result["api_path"] = throughput_api.measure(settings, env, var, m, 8, wait, ADMIN_PASSWORD)
        print(f"  {json.dumps(result['api_path'])}", flush=True)
    finally:
        stop_embedded_redis(var)
    shutil.rmtree(var, ignore_errors=True)
    result["seconds"] = round(time.monotonic() - started, 1)
    return result


def _ratios(systems: dict[str, Any]) -> dict[str, dict[str, float | None]]:
    base = systems["bare_dramatiq"]
    ratios: dict[str, dict[str, float | None]] = {}
    for name in ("conveyor", "celery"):
        ratios[name] = {kind: round(systems[name][key] / base[key], 2) if systems[name].get(key) and base.get(key)
                        else None for kind, key in (("enqueue", "enqueue_per_second"),
                                                    ("process", "process_per_second"))}
    return ratios


def table(result: dict[str, Any]) -> str:
    lines = ["| system | enqueue msg/s (ratio to bare) | process msg/s | ratio to bare (process) | worker start s |",
             "| --- | ---: | ---: | ---: | ---: |"]
    for name in SYSTEMS:
        s, r = result["systems"][name], result["ratios"].get(name, {})
        if "skipped" in s:
            lines.append(f"| {name} | skipped: {s['skipped']} | | | |")
            continue
        enqueue = f"{s['enqueue_per_second']:,.0f}" + (f" ({r['enqueue']}x)" if r.get("enqueue") else "")
        process = f"{s['process_per_second']:,.0f}" if s.get("process_per_second") else "n/a"
        if not s["complete"]:
            process += f" (only {s['completed']} of {s['n']} done)"
        ratio = f"{r['process']}x" if r.get("process") else ("1.0" if name == "bare_dramatiq" else "n/a")
        lines.append(f"| {name} | {enqueue} | {process} | {ratio} | {s.get('worker_start_seconds', 'n/a')} |")
    target = result["target"]
    lines.append(f"\nTarget conveyor process rate >= {target['conveyor_process_ratio_at_least']}x bare Dramatiq: "
                 f"{'met' if target['met'] else 'NOT met'}.")
    a = result["api_path"]
    lines.append(f"\nAPI path (`POST /api/v1/admin/jobs/sweep_outbox/run`, {a['clients']} keep-alive clients, "
                 f"{a['requests']} requests, worker running): {a['api_accepts_per_second']:,.0f} accepts/s "
                 f"({a['accepted']} of {a['requests']} answered 202{_others(a['statuses'])}), "
                 f"{a['jobs_completed_per_second']:,.0f} jobs completed/s ({a['jobs_succeeded']} succeeded, "
                 f"{a['jobs_failed']} failed, "
                 f"{a['jobs_seconds']} s from the first request to the last completion).")
    return "\n".join(lines)


def _others(statuses: dict[str, int]) -> str:
    others = ", ".join(f"{count} x {status}" for status, count in sorted(statuses.items()) if status != "202")
    return f"; NOT 202: {others}" if others else ""


if __name__ == "__main__":
    outcome = main("--smoke" in sys.argv)
    print(json.dumps(outcome, indent=2))
    print(table(outcome), flush=True)
