"""`make bench` / `make bench-smoke`: run the benchmarks that exist and write bench/results.{md,json}.

So far: WebSocket fan-out (the builds issue) and webhook delivery against a bare Dramatiq actor (the
webhooks issue). The benchmark issue adds API latency, throughput, metrics and scale-out, each as a
ratio to a baseline measured in the same run.
"""
from __future__ import annotations

import json
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench import webhooks, ws_fanout  # noqa: E402


def table(rows: list[dict]) -> str:  # type: ignore[type-arg]
    lines = ["| clients | events each | clients with every event | p50 ms | p99 ms | max ms "
             "| API threads idle -> with sockets | Redis clients idle -> with sockets |",
             "| ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |"]
    for r in rows:
        lat = r["latency_ms"]
        idle, busy = r["idle"], r["with_sockets"]
        lines.append(f"| {r['clients']} | {r['events_per_client']} | {r['clients_with_every_event']} | {lat['p50']} "
                     f"| {lat['p99']} | {lat['max']} | {idle['api_threads']} -> {busy['api_threads']} "
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


def main() -> None:
    smoke = "--smoke" in sys.argv
    started = time.monotonic()
    fanout = ws_fanout.main([20] if smoke else [20, 200])
    hooks = webhooks.main(*((20, 200) if smoke else (200, 2000)))
    results = {"machine": {"python": platform.python_version(), "cpus": __import__("os").cpu_count()},
               "mode": "smoke" if smoke else "full", "ws_fanout": fanout, "webhooks": hooks,
               "seconds": round(time.monotonic() - started, 1)}
    (HERE / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (HERE / "results.md").write_text(
        "# Benchmark results\n\n"
        f"Mode: {results['mode']}; {results['machine']['cpus']} CPUs; Python {results['machine']['python']}.\n\n"
        "## WebSocket fan-out: clients watching one running build on one API process\n\n"
        "Latency is from an event's append to the stream (its timestamp) to its receipt by a client; the\n"
        "clients run in 4 processes on the same machine, so their own cost is inside these figures.\n\n"
        f"{table(fanout)}\n\n"
        "## Webhook delivery: Conveyor's delivery actor against a bare Dramatiq actor, same run\n\n"
        "One worker process with 8 threads (`make run`'s default) and a receiver in its own process. Latency:\n"
        "one event at a time, from just before the transaction that writes the event and its delivery (or\n"
        "the bare `send()`) to the receiver reading the request. Throughput: a burst queued while no worker\n"
        "runs, drained by a fresh worker, from its first delivery to its last. The two alternate, twice.\n\n"
        f"{hook_table(hooks)}\n")
    print((HERE / "results.md").read_text())


if __name__ == "__main__":
    main()
