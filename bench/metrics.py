"""Metrics: ingest throughput through the API in 10,000-point batches, and the time to roll 1,000,000 raw
points up into 1-minute (and 1-hour) buckets. Runs on SQLite under a temp VAR_DIR, or on the database
in BENCH_DATABASE_URL (`bench/run.py` starts a throwaway PostgreSQL for that).

Usage: python -m bench.metrics [batches] [points_to_aggregate]
"""
from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import answers  # noqa: E402
from core.embedded_redis import ensure_embedded_redis, stop_embedded_redis  # noqa: E402
from tests.support.processes import BIN, free_port, running, wait_for  # noqa: E402

BATCH = 10_000


def _batch(rng: random.Random, n: int) -> dict[str, Any]:
    stamp = datetime.now(UTC).isoformat()
    return {"metrics": [{"name": "bench.latency", "value": rng.uniform(1, 500), "unit": "ms", "timestamp": stamp,
                         "tags": {"service": f"svc-{i % 10}", "region": "eu"}} for i in range(n)]}


def ingest(base: str, token: str, batches: int) -> dict[str, Any]:
    """Batches posted one after another by one client: points per second, and each batch's latency."""
    rng, session = random.Random(1), requests.Session()
    bodies = [json.dumps(_batch(rng, BATCH)) for _ in range(batches)]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    latencies = []
    started = time.monotonic()
    for body in bodies:
        t0 = time.monotonic()
        response = session.post(f"{base}/api/v1/metrics", data=body, headers=headers, timeout=120)
        assert response.status_code == 202, response.text[:300]
        latencies.append(time.monotonic() - t0)
    elapsed = time.monotonic() - started
    return {"batches": batches, "points": batches * BATCH, "seconds": round(elapsed, 2),
            "points_per_second": round(batches * BATCH / elapsed), "batch_ms_median": round(
                1000 * sorted(latencies)[len(latencies) // 2], 1), "batch_ms_max": round(1000 * max(latencies), 1)}


def aggregation(points: int) -> dict[str, Any]:
    """`points` raw points over 1,000 minutes and 10 tag sets, inserted directly, then rolled up."""
    from domain import rollups
    from models.db import db
    from models.metric import insert_points

    start, rng = datetime(2026, 11, 20), random.Random(2)
    rows = [("bench.agg", rng.uniform(1, 500), None, {"service": f"svc-{i % 10}"},
             start + timedelta(seconds=i * 60_000 / points)) for i in range(points)]
    with db.connection_context():
        t0 = time.monotonic()
        for chunk in range(0, points, 10_000):
            insert_points(rows[chunk:chunk + 10_000])
        inserted = time.monotonic() - t0
        t0 = time.monotonic()
        result = rollups.aggregate(horizon=datetime(2000, 1, 1))
        took = time.monotonic() - t0
    return {"points": points, "insert_seconds": round(inserted, 1), "aggregate_seconds": round(took, 2),
            "rollups_1m": result["rollups_1m"], "rollups_1h": result["rollups_1h"]}


def main(batches: int = 20, points: int = 1_000_000) -> dict[str, Any]:
    from core.settings import load_settings
    from models.migrations import migrate
    from workers.setup import configure

    var = Path(tempfile.mkdtemp(prefix="conveyor-bench-metrics-"))
    server, _ = ensure_embedded_redis(var)
    database_url = os.environ.get("BENCH_DATABASE_URL", f"sqlite:///{var / 'conveyor.db'}")
    env = {"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(var), "VAR_DIR": str(var), "REDIS_URL": server.url,
           "DATABASE_URL": database_url, "SECRET_KEY": "bench-secret-key-long-enough-0123456789",
           "RATE_LIMITS_ENABLED": "false", "LOG_LEVEL": "WARNING", "ADMIN_PASSWORD": "bench-admin-pw"}
    subprocess.run([str(BIN / "flask"), "--app", "api", "init"], cwd=ROOT, env=env, check=True, capture_output=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    argv = [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--worker-class", "gthread", "--threads", "8",
            "--timeout", "120", "--no-control-socket", "api:create_app()"]
    engine = "postgresql" if database_url.startswith("postgres") else "sqlite"
    try:
        with (var / "api.log").open("w") as log, running(argv, env, log):
            wait_for(lambda: answers(f"{base}/health/ready"), timeout=60, what="the API")
            token = requests.post(f"{base}/api/v1/auth/login", timeout=10,
                                  json={"username": "admin", "password": "bench-admin-pw"}).json()["access_token"]
            print(f"metrics ({engine}): ingest ...", flush=True)
            ingested = ingest(base, token, batches)
        configure(load_settings(env, env_file=None))
        migrate()
        print(f"metrics ({engine}): aggregate {points} points ...", flush=True)
        return {"engine": engine, "ingest": ingested, "aggregation": aggregation(points)}
    finally:
        stop_embedded_redis(var)



if __name__ == "__main__":
    result = main(*[int(n) for n in sys.argv[1:3]])
    print(json.dumps(result, indent=2))
    if os.environ.get("BENCH_OUTPUT"):
        Path(os.environ["BENCH_OUTPUT"]).write_text(json.dumps(result))
