"""API latency: 8 concurrent clients (`wrk -t2 -c8 --latency`) against one API process, per endpoint, with a
bare Flask app (`bench/bare_app.py`) under the same gunicorn command line as the baseline. Both servers run
side by side and the load alternates: bare, an endpoint, bare, the next endpoint, ..., bare. Each endpoint's
ratio is to the mean of the two bare runs around it, so a shared machine that speeds up or slows down during
the run moves both sides of a ratio. One user owns 20 webhooks and 50 alerts, and an organization whose 500
developers made 10 commits each in the last 30 days (its developers list: 100 a page, each with its figures).
`/api/v1/webhooks` is measured twice more: with an API key of the user's (every scope of theirs) instead of the
token, so a key's lookup is a figure of its own; and last, on a second server with rate limits on (the user in a
tier of its own, high enough never to answer 429), so the cost of the limiter is one too.

Starts its own embedded Redis, SQLite and gunicorn under a temp VAR_DIR. Without wrk it reports itself
skipped (`.ci/install-wrk` installs it). Usage: python -m bench.api_latency [--smoke]
"""
from __future__ import annotations

import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import answers  # noqa: E402
from core.embedded_redis import ensure_embedded_redis, stop_embedded_redis  # noqa: E402
from tests.support.processes import BIN, free_port, running, wait_for  # noqa: E402

THREADS, WRK_THREADS, CONNECTIONS = 16, 2, 8
GUNICORN = ["--worker-class", "gthread", "--workers", "1", "--threads", str(THREADS), "--no-control-socket"]
DEVELOPERS_CACHED = "/api/v1/developers?organization_id=1"  # one organization's figures: cached (5 min)
DEVELOPERS_UNCACHED = "/api/v1/developers?include_bots=false"  # across organizations: computed every time
ENDPOINTS = ("/health", "/api/v1/webhooks", "/api/v1/alerts", "/api/v1/alerts/summary", "/api/v1/cache/stats",
             DEVELOPERS_CACHED, DEVELOPERS_UNCACHED)
P99_TARGET_MS = {"/health": 25.0, "/api/v1/webhooks": 30.0, "/api/v1/alerts/summary": 30.0,
                 DEVELOPERS_CACHED: 50.0, DEVELOPERS_UNCACHED: 200.0}
NO_RATIO_TARGET = (DEVELOPERS_CACHED, DEVELOPERS_UNCACHED)  # their targets are their p99s (issue 19)
DEVELOPERS, DEVELOPER_COMMITS = 500, 10
RATIO_TARGET = 0.5
LIMITED = "/api/v1/webhooks"
LIMITED_LABEL = f"{LIMITED} (rate limits on)"
LIMITED_ENV = {"RATE_LIMITS_ENABLED": "true", "RATE_LIMIT_TIERS": "bench=10000000/minute"}
KEYED_LABEL = f"{LIMITED} (API key)"
WEBHOOKS, ALERTS = 20, 50
PASSWORD = "bench-user-pw-0123456789"  # noqa: S105 (a throwaway user in a temp database)
UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def _ms(text: str) -> float | None:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    return round(float(match[1]) * UNITS_MS[match[2]], 2) if match else None


def parse(output: str) -> dict[str, Any]:
    """wrk's report: requests/s, the 50/90/99th percentiles of `--latency` in ms, non-2xx answers, socket errors."""
    percentiles = {f"p{m[1]}": _ms(m[2]) for m in re.finditer(r"^\s+(50|90|99)%\s+(\S+)", output, re.M)}
    rate, total = re.search(r"Requests/sec:\s+([\d.]+)", output), re.search(r"(\d+) requests in", output)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    socket_errors = dict(zip(("connect", "read", "write", "timeout"), map(int, sockets.groups()), strict=True)) \
        if sockets else {}
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = (int(non_2xx[1]) if non_2xx else 0) + sum(socket_errors.values())
    return {"requests_per_second": float(rate[1]) if rate else 0.0, "requests": int(total[1]) if total else 0,
            **{p: percentiles.get(p) for p in ("p50", "p90", "p99")}, "non_2xx": int(non_2xx[1]) if non_2xx else 0,
            "socket_errors": socket_errors, "errors": errors}


def wrk(url: str, token: str, seconds: int, *options: str) -> dict[str, Any]:
    """wrk's report on `url` (`options`: more of wrk's, such as a Lua script that varies the path)."""
    argv = ["wrk", f"-t{WRK_THREADS}", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", *options,
            "-H", f"Authorization: Bearer {token}", url]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 30, check=False)
    if done.returncode != 0 or "Requests/sec" not in done.stdout:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
    return parse(done.stdout)


def measure(url: str, token: str, seconds: int, warmup: int) -> dict[str, Any]:
    """One request to see it answers, a warm-up run that is thrown away, then the measured run."""
    status = requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10).status_code
    wrk(url, token, warmup)
    result = {"status": status, **wrk(url, token, seconds)}
    print(f"  /{url.split('/', 3)[3]}: {json.dumps(result)}", flush=True)
    return result


@contextmanager
def serve(app: str, ready: str, env: dict[str, str], log: Path) -> Iterator[str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with log.open("a") as out, running([str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", *GUNICORN, app], env,
                                       out):
        wait_for(lambda: answers(base + ready), timeout=60, what=f"{app} to answer")
        yield base


def populate(base: str, env: dict[str, str]) -> tuple[str, str]:
    """The user's token and an API key of theirs, its webhooks (through the API, so the SSRF guard checks them)
    and its alerts."""
    from api.auth.permissions import permissions_for
    from core.settings import load_settings
    from domain.alerting import publish, raise_alert
    from models.db import db
    from models.user import User
    from workers.setup import configure

    token = requests.post(f"{base}/api/v1/auth/login", json={"username": "bench", "password": PASSWORD},
                          timeout=10).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    for i in range(WEBHOOKS):  # never called: no worker runs, and they only subscribe to builds
        response = requests.post(f"{base}/api/v1/webhooks", headers=headers, timeout=10, json={
            "name": f"bench-{i}", "url": "http://127.0.0.1:9/hook", "events": ["build.*"]})
        assert response.status_code == 201, response.text[:300]
    runtime = configure(load_settings(env, env_file=None))
    with db.connection_context():
        owner = User.get(User.username == "bench").id
        User.update(rate_limit_tier="bench").where(User.id == owner).execute()  # for the rate-limited server
    for i in range(ALERTS):
        with db.connection_context():
            publish(runtime.broker, raise_alert(
                runtime.redis, f"bench|{i}", owner_id=owner, rule_name=f"bench.rule-{i % 5}", metric="bench.metric",
                severity=("INFO", "WARNING", "CRITICAL")[i % 3], tags={"n": str(i)}, message=f"bench alert {i}",
                context={}))
    org = requests.post(f"{base}/api/v1/organizations", headers=headers, timeout=10, json={"name": "bench"}).json()
    with db.connection_context():
        developers_made(org["id"])
    for path, expected in (("webhooks", WEBHOOKS), ("alerts", ALERTS)):
        total = requests.get(f"{base}/api/v1/{path}", headers=headers, timeout=10).json().get("total")
        assert total == expected, f"{path}: {total} != {expected}"
    key = requests.post(f"{base}/api/v1/api-keys", headers=headers, timeout=10, json={
        "name": "bench", "scopes": permissions_for("user")}).json()["key"]
    return token, key


def developers_made(organization_id: int) -> None:
    """DEVELOPERS people with DEVELOPER_COMMITS commits each in the last days, stored as ingestion stores them."""
    from datetime import UTC, datetime, timedelta

    from domain.engineering.ingest import ingest
    from domain.engineering.records import Activity, CommitRecord, Person
    from models.repository import Repository

    repo = Repository.create(organization=organization_id, name="bench", url="https://github.com/bench/bench",
                             full_name="bench/bench", provider="github", api_url="https://api.github.com",
                             hook_secret="bench-hook-secret")  # noqa: S106 (a throwaway database)
    now = datetime.now(UTC).replace(tzinfo=None)
    commits = [CommitRecord(f"{n:040x}", Person("github", user_id=str(n % DEVELOPERS), login=f"dev{n % DEVELOPERS}",
                                                 name=f"Dev {n % DEVELOPERS}"),
                            now - timedelta(hours=n % 600), now - timedelta(hours=n % 600), "Change", 10, 2)
               for n in range(DEVELOPERS * DEVELOPER_COMMITS)]
    for start in range(0, len(commits), 500):
        ingest(repo, Activity(commits=commits[start:start + 500]))


def verdict(label: str, r: dict[str, Any]) -> str:
    path = label.split(" ")[0]
    misses = [f"{r['errors']} errors"] if r["errors"] else []
    if path in P99_TARGET_MS and (r["p99"] is None or r["p99"] > P99_TARGET_MS[path]):
        misses.append(f"p99 {r['p99']} > {P99_TARGET_MS[path]} ms")
    if r["throughput_ratio"] < RATIO_TARGET and path not in NO_RATIO_TARGET:
        misses.append(f"ratio {r['throughput_ratio']} < {RATIO_TARGET}")
    return "NO: " + ", ".join(misses) if misses else "yes"


def main(smoke: bool) -> dict[str, Any]:
    if shutil.which("wrk") is None:
        reason = "wrk is not installed: run .ci/install-wrk (Debian package `wrk`) to measure API latency"
        print(f"\n!!! api-latency SKIPPED: {reason}\n", file=sys.stderr, flush=True)
        return {"skipped": reason}
    seconds, warmup = (2, 1) if smoke else (10, 2)
    started = time.monotonic()
    var = Path(tempfile.mkdtemp(prefix="conveyor-bench-api-"))
    server, _ = ensure_embedded_redis(var)
    env = {"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(var), "VAR_DIR": str(var), "REDIS_URL": server.url,
           "DATABASE_URL": f"sqlite:///{var / 'conveyor.db'}", "CONVEYOR_ENV": "production",
           "SECRET_KEY": "bench-secret-key-long-enough-0123456789", "RATE_LIMITS_ENABLED": "false",
           "LOG_LEVEL": "WARNING", "WEBHOOK_ALLOW_PRIVATE": "true"}
    bare_app, ours = ("bench.bare_app:create_app()", "/json"), ("api:create_app()", "/health/ready")
    bare: list[dict[str, Any]] = []
    endpoints: dict[str, dict[str, Any]] = {}
    try:
        subprocess.run([str(BIN / "flask"), "--app", "api", "users", "create", "bench", "--role", "user",
                        "--password", PASSWORD], cwd=ROOT, env=env, check=True, capture_output=True, timeout=60)
        print("api-latency: data (20 webhooks, 50 alerts) ...", flush=True)
        with serve(*ours, env, var / "api.log") as base:
            token, key = populate(base, env)
        runs = len(ENDPOINTS) + 2
        print(f"api-latency: bare Flask and Conveyor in turn, {2 * runs + 1} x {seconds} s ...", flush=True)
        with serve(*bare_app, env, var / "bare.log") as bare_base, serve(*ours, env, var / "api.log") as base, \
                serve(*ours, {**env, **LIMITED_ENV}, var / "api-limited.log") as limited:
            bare.append(measure(f"{bare_base}/json", token, seconds, warmup))
            runs_of = [*((path, base + path, token) for path in ENDPOINTS), (KEYED_LABEL, base + LIMITED, key),
                       (LIMITED_LABEL, limited + LIMITED, token)]
            for label, url, credential in runs_of:
                endpoints[label] = measure(url, credential, seconds, warmup)
                bare.append(measure(f"{bare_base}/json", token, seconds, warmup))
    finally:
        stop_embedded_redis(var)
    baseline = statistics.mean(b["requests_per_second"] for b in bare)
    for run in bare:
        run["throughput_ratio"] = round(run["requests_per_second"] / baseline, 2) if baseline else 0.0
    for i, (label, run) in enumerate(endpoints.items()):
        around = statistics.mean(b["requests_per_second"] for b in bare[i:i + 2])
        run["bare_around_requests_per_second"] = round(around, 1)
        run["throughput_ratio"] = round(run["requests_per_second"] / around, 2) if around else 0.0
        run["meets_target"] = verdict(label, run)
    return {"server": f"one gunicorn process: {' '.join(GUNICORN)}",
            "wrk": f"wrk -t{WRK_THREADS} -c{CONNECTIONS} -d{seconds}s --latency (after a {warmup} s warm-up)",
            "seconds_per_endpoint": seconds, "bare": bare, "bare_mean_requests_per_second": round(baseline, 1),
            "endpoints": endpoints, "targets": {"p99_ms": P99_TARGET_MS, "throughput_ratio": RATIO_TARGET},
            "seconds": round(time.monotonic() - started, 1)}


def table(result: dict[str, Any]) -> str:
    if "skipped" in result:
        return f"API latency: **SKIPPED**: {result['skipped']}"
    lines = ["| endpoint | req/s | p50 ms | p90 ms | p99 ms | errors | ratio to bare | meets target |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    rows = [(f"bare `/json` (run {i + 1})", run, "(baseline)") for i, run in enumerate(result["bare"])]
    for i, (label, run) in enumerate(result["endpoints"].items()):  # each between the bare runs it is compared with
        path, _, note = label.partition(" ")
        rows.insert(2 * i + 1, (f"`{path}` {note}".strip(), run, run["meets_target"]))
    for name, r, meets in rows:
        errors = f"**{r['errors']}** (non-2xx {r['non_2xx']}, socket {sum(r['socket_errors'].values())})" \
            if r["errors"] else "0"
        cells = [r.get(p) if r.get(p) is not None else "-" for p in ("p50", "p90", "p99")]
        lines.append(f"| {name} | {r['requests_per_second']:.0f} | {cells[0]} | {cells[1]} | {cells[2]} | {errors} "
                     f"| {r['throughput_ratio']} | {meets} |")
    lines.append(f"\nServer: {result['server']}, RATE_LIMITS_ENABLED=false (but for the row that says they are "
                 f"on: a second server, the user in a tier of 10,000,000/minute), SQLite + embedded Redis; "
                 f"load: `{result['wrk']}` per endpoint, with a bearer token (for the row that says so, an API key "
                 f"of the same user's as the bearer credential), alternating with the bare endpoint; "
                 f"an endpoint's ratio is to the mean of the bare runs just before and after it. "
                 f"Targets: p99 <= 25 ms for `/health`, <= 30 ms for the cached lists, throughput >= {RATIO_TARGET} x "
                 f"bare; the developers list of a {DEVELOPERS}-developer organization (100 a page with their figures): "
                 f"p99 <= 50 ms cached, <= 200 ms computed (no throughput target).")
    return "\n".join(lines)



if __name__ == "__main__":
    outcome = main("--smoke" in sys.argv)
    print(json.dumps(outcome, indent=2))
    print(table(outcome))
