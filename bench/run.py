"""`make bench` / `make bench-smoke`: run the benchmarks that exist and write bench/results.{md,json}.

So far: WebSocket fan-out (the builds issue) and webhook delivery against a bare Dramatiq actor (the
webhooks issue). The benchmark issue adds API latency, throughput, metrics and scale-out, each as a
ratio to a baseline measured in the same run.
"""
from __future__ import annotations

import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench import api_latency, engineering, ingest, metrics, throughput, webhooks, ws_fanout  # noqa: E402


def table(rows: list[dict]) -> str:  # type: ignore[type-arg]
    lines = ["| clients | events each | clients with every event | p50 ms | p99 ms | max ms "
             "| API threads idle -> with sockets | API RSS MB idle -> with sockets "
             "| Redis clients idle -> with sockets |",
             "| ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | --- |"]
    for r in rows:
        lat = r["latency_ms"]
        idle, busy = r["idle"], r["with_sockets"]
        lines.append(f"| {r['clients']} | {r['events_per_client']} | {r['clients_with_every_event']} | {lat['p50']} "
                     f"| {lat['p99']} | {lat['max']} | {idle['api_threads']} -> {busy['api_threads']} "
                     f"| {idle['api_rss_mb']} -> {busy['api_rss_mb']} "
                     f"| {idle['redis_clients']} -> {busy['redis_clients']} |")
    return "\n".join(lines)


def hook_table(r: dict) -> str:  # type: ignore[type-arg]
    lines = ["| round | | p50 ms | p99 ms | max ms | burst | deliveries/s | ratio to bare |",
             "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for n, measured in enumerate(r["rounds"], start=1):
        for name in ("conveyor", "bare_actor"):
            lat, m = measured[name]["latency_ms"], measured[name]
            ratio = measured["throughput_ratio"] if name == "conveyor" else ""
            lines.append(f"| {n} | {name} | {lat['p50']} | {lat['p99']} | {lat['max']} | {m['burst']} "
                         f"| {m['deliveries_per_second']} | {ratio} |")
    return "\n".join(lines)


def scale_table(r: dict) -> str:  # type: ignore[type-arg]
    lines = ["| worker processes | burst | seconds | deliveries/s | ratio to 1 process |",
             "| ---: | ---: | ---: | ---: | ---: |"]
    lines += [f"| {s['processes']} | {s['burst']} | {s['burst_seconds']} | {s['deliveries_per_second']} "
              f"| {s['ratio_to_one']} |" for s in r["scale_out"]]
    return "\n".join(lines)


def on_postgres(module: str, sizes: tuple[int | str, ...]) -> list[dict]:  # type: ignore[type-arg]
    """A benchmark (`bench.metrics`, `bench.ingest`, `bench.engineering`) again on a throwaway PostgreSQL, when its
    binaries are here; `sizes`: its command line's arguments."""
    if not list(Path("/usr/lib/postgresql").glob("*/bin/postgres")):
        print(f"{module}: no PostgreSQL binaries here; SQLite only", flush=True)
        return []
    out = Path(tempfile.mkstemp(suffix=".json")[1])
    subprocess.run(["bash", str(HERE.parent / ".ci/with-postgres"), "bash", "-c",
                    f'BENCH_DATABASE_URL="$TEST_DATABASE_URL" BENCH_OUTPUT={out} {sys.executable} -m {module} '
                    + " ".join(map(str, sizes))], cwd=HERE.parent, check=True)
    return [json.loads(out.read_text())]


def metrics_table(runs: list[dict]) -> str:  # type: ignore[type-arg]
    lines = ["| database | points ingested | points/s | batch ms (median, max) | points rolled up | aggregate s |",
             "| --- | ---: | ---: | --- | ---: | ---: |"]
    for r in runs:
        i, a = r["ingest"], r["aggregation"]
        lines.append(f"| {r['engine']} | {i['points']} | {i['points_per_second']} | {i['batch_ms_median']}, "
                     f"{i['batch_ms_max']} | {a['points']} | {a['aggregate_seconds']} |")
    return "\n".join(lines)


def main() -> None:
    smoke = "--smoke" in sys.argv
    started = time.monotonic()
    api = api_latency.main(smoke)
    jobs = throughput.main(smoke)
    fanout = ws_fanout.main([20] if smoke else [200, 1000])
    hooks = webhooks.main(*((20, 200, (1, 2)) if smoke else (200, 2000)))
    sizes = (3, 50_000) if smoke else (20, 1_000_000)
    metric_runs = [metrics.main(*sizes), *on_postgres("bench.metrics", sizes)]
    histories = (2_000, 100, 3) if smoke else (100_000, 10_000, 3)
    ingest_runs = [ingest.main(*histories), *on_postgres("bench.ingest", histories)]
    # Issue 20's organization: SQLite at a tenth, PostgreSQL at full size (each module's default scale)
    analytics = ("--smoke",) if smoke else ()
    engineering_runs = [engineering.main(smoke=smoke), *on_postgres("bench.engineering", analytics)]
    results = {"machine": {"python": platform.python_version(), "cpus": __import__("os").cpu_count()},
               "mode": "smoke" if smoke else "full", "api_latency": api, "throughput": jobs, "ws_fanout": fanout,
               "webhooks": hooks,
               "metrics": metric_runs, "ingest": ingest_runs, "engineering": engineering_runs,
               "seconds": round(time.monotonic() - started, 1)}
    # A smoke run's figures are not results: they go beside them (and are not committed).
    stem = HERE / ("smoke-results" if smoke else "results")
    stem.with_suffix(".json").write_text(json.dumps(results, indent=2) + "\n")
    stem.with_suffix(".md").write_text(
        "# Benchmark results\n\n"
        f"Mode: {results['mode']}; {results['machine']['cpus']} CPUs; Python {results['machine']['python']}.\n\n"
        "## API latency: 8 concurrent clients against a bare Flask endpoint on the same server\n\n"
        f"{api_latency.table(api)}\n\n"
        "## Enqueue and process throughput: no-op jobs through Conveyor's worker stack, bare Dramatiq and Celery\n\n"
        "Each job increments one Redis counter. Enqueue: sends in a loop from one process, the systems taking\n"
        "turns. Process: all jobs queued while no worker runs, then one worker (1 process, 8 threads; Celery:\n"
        "thread pool of 8) drains them, from its first completion to the last.\n\n"
        f"{throughput.table(jobs)}\n\n"
        "## WebSocket fan-out: clients watching one running build on one API process\n\n"
        "Latency is from an event's append to the stream (its timestamp) to its receipt by a client; the\n"
        "clients run in 4 processes on the same machine, so their own cost is inside these figures.\n\n"
        f"{table(fanout)}\n\n"
        "## Webhook delivery: Conveyor's delivery actor against a bare Dramatiq actor, same run\n\n"
        "One worker process with 8 threads (`make run`'s default) and a receiver in its own process. Latency:\n"
        "one event at a time, from just before the transaction that writes the event and its delivery (or\n"
        "the bare `send()`) to the receiver reading the request. Throughput: a burst queued while no worker\n"
        "runs, drained by a fresh worker, from its first delivery to its last. The two alternate, twice.\n\n"
        f"{hook_table(hooks)}\n\n"
        "## Scale-out: the same burst of deliveries drained by 1, 2 and 4 worker processes\n\n"
        "Each process runs 8 threads; the machine has the CPUs above, shared with the receiver and Redis.\n\n"
        f"{scale_table(hooks)}\n\n"
        "## Metrics: ingest through the API, and rolling raw points up\n\n"
        "Ingest: 10,000-point batches posted one after another by one client to one API process (gunicorn\n"
        "gthread, 8 threads). Aggregation: the `aggregate_metrics` job's work over raw points spread across\n"
        "1,000 minutes and 10 tag sets (1-minute and 1-hour buckets, exact percentiles).\n\n"
        f"{metrics_table(metric_runs)}\n\n"
        "## Engineering ingestion: a repository's history polled and stored, against a bare fetch-and-insert loop\n\n"
        "One poll of a fresh repository (a backfill) from a GitHub-shaped server on 127.0.0.1 (`bench/ingest.py`):\n"
        "commits alone, then pull requests with their detail and 3 reviews each, by 500 developers. The bare loop\n"
        "GETs the same pages and bulk-inserts plain rows (no indexes, no upsert). Targets: >= 2,000 commits/s,\n"
        ">= 0.5 x bare.\n\n"
        f"{ingest.table(ingest_runs)}\n\n"
        "## Engineering analytics: an organization's year rolled up and served, against SQL over the raw rows\n\n"
        f"{engineering.DESCRIPTION}\n\n"
        f"{engineering.table(engineering_runs)}\n")
    print(stem.with_suffix(".md").read_text())


if __name__ == "__main__":
    main()
