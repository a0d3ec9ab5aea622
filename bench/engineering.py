"""Engineering analytics at an organization's scale (issue 20's `make bench` scenario): a synthetic organization of
20 teams, 500 developers, 200 repositories, 1M commits, 100k pull requests, 300k reviews and 5k deploy runs over a
year (`bench/engineering_data.py`, seeded), stored as ingestion and CI polling store them; then

- the rollup of every pull request's cycle (`domain.engineering.rollup.roll_up(full=True)`), and an incremental one
  after 1% of the pull requests changed;
- each analytics endpoint on the real API (gunicorn, as `bench/api_latency.py`) under 8 clients, uncached and
  cached (`bench/engineering_load.py` says how the cache is defeated);
- each endpoint's figures computed again by one SQL statement from the raw rows (`bench/engineering_sql.py`), timed,
  and checked equal to the endpoint's answer; and cycle time measured in Python from the raw rows
  (`pull_facts.measured_facts`, the tests' brute force), timed and checked too.

Scale 1.0 is the issue's sizes: the default on the database in BENCH_DATABASE_URL (PostgreSQL); SQLite (a temp
file) defaults to 0.1. Usage: python -m bench.engineering [--scale S] [--smoke] [--profile] [--rollup-only]
"""
from __future__ import annotations

import argparse
import cProfile
import functools
import json
import os
import pstats
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import api_latency, engineering_sql  # noqa: E402
from bench.engineering_data import END, Loaded, Sizes, load  # noqa: E402
from bench.engineering_load import Load, with_range  # noqa: E402
from bench.engineering_plans import SPRINTS, sprint_start  # noqa: E402
from core.embedded_redis import ensure_embedded_redis, stop_embedded_redis  # noqa: E402

SMOKE_SCALE = 0.005
RANGE = timedelta(days=90)
ROLLUP_TARGET_SECONDS = 60.0  # on PostgreSQL at scale 1.0
P99_UNCACHED_MS, P99_CACHED_MS = 200.0, 20.0
TOLERANCE = 0.011  # figures are rounded to 2 decimals on both sides
TIMELINES = 500  # merged pull requests whose timelines the load goes through
PASSWORD = "bench-user-pw-0123456789"  # noqa: S105 (a throwaway user in a temp database)

DESCRIPTION = (
    "`bench/engineering.py`: 20 teams, 500 developers, 200 repositories; at scale 1.0 1M commits, 100k pull requests,\n"
    "300k reviews, 5k deploy runs over a year (seeded), stored directly (COPY / multi-row inserts). The full rollup\n"
    "measures every pull request; the incremental one after 1% of them were marked changed. Each endpoint over the\n"
    "last 90 days under 8 wrk clients (one gunicorn process, 16 threads): uncached (each request another range start,\n"
    "a second later, so another cache key; a timeline: another pull request) and cached (one range again). Its\n"
    "figures are computed again by one SQL statement over the raw rows and must be equal; \"alone\" is the median of\n"
    "3 uncached requests one at a time, beside the SQL's median of 3. Targets: the full rollup <= 60 s on PostgreSQL\n"
    "at scale 1.0; p99 <= 200 ms uncached, <= 20 ms cached. The timeline route caches nothing.")
Figures = Callable[[dict[str, Any]], dict[str, Any]]
Brute = Callable[[Loaded, datetime, datetime, int], dict[str, Any]]


@dataclass(frozen=True)
class Endpoint:
    """One endpoint the benchmark loads: `path` with {organization}, {team} and {pull} filled in, and a range added
    unless it takes none. `figures` picks from its answer what `brute` computes from the raw rows (both None: the
    endpoint is timed, not checked). `cached`: the route caches an organization's answer."""

    label: str
    path: str
    cached: bool = True
    ranged: bool = True
    figures: Figures | None = None
    brute: Brute | None = None
    varying: tuple[int, ...] = ()  # what fills {pull} (default: merged pull requests' ids)


def _cycle(a: dict[str, Any]) -> dict[str, Any]:
    return {"pull_requests": a["pull_requests"], "deployed": a["deployed"], "mean_hours": a["total_cycle_time_hours"],
            "p50_hours": a["percentiles"]["p50"]}


def _pulls(a: dict[str, Any]) -> dict[str, Any]:
    return {"opened": a["opened"], "merged": a["merged"], "time_to_merge_p50_hours": a["time_to_merge_hours"]["p50"],
            "pickup_p50_hours": a["pickup_hours"]["p50"], "merge_rate_merged": a["merge_rate"]["merged"],
            "merge_rate_closed": a["merge_rate"]["closed"]}


def _timeline(a: dict[str, Any]) -> dict[str, Any]:
    return {"cycle_hours": a["stages"]["cycle"], "deployed": a["deployment"] is not None}


def _dora(a: dict[str, Any]) -> dict[str, Any]:
    lead = a["lead_time_for_changes"]
    return {"deployments": a["deployment_frequency"]["deployments"], "failed": a["change_failure_rate"]["failed"],
            "lead_time_samples": lead["samples"], "lead_time_median_hours": lead["median_hours"]}


LAST_SPRINT = f"Sprint {SPRINTS}"  # bench.engineering_plans: every sprint has ended by now
LAST_SPRINT_DAYS = (sprint_start(SPRINTS - 1), sprint_start(SPRINTS))


def _last_sprint(a: dict[str, Any]) -> dict[str, Any]:
    last = next(sprint for sprint in a["sprints"] if sprint["name"] == LAST_SPRINT)
    return {"planned_points": last["planned_points"], "completed_points": last["completed_points"]}


def _quality(a: dict[str, Any]) -> dict[str, Any]:
    return {name: a[name] for name in ("repositories", "code_smells", "bugs", "security_issues", "vulnerabilities",
                                       "technical_debt_hours", "test_coverage")}


ANALYTICS = "/api/v1/analytics"
ENDPOINTS = (
    Endpoint("cycle time (organization)", f"{ANALYTICS}/cycle-time?organization_id={{organization}}", figures=_cycle,
             brute=lambda ids, s, e, _: engineering_sql.cycle_time("organization", ids.organization_id, s, e)),
    Endpoint("cycle time (team)", f"{ANALYTICS}/cycle-time?team_id={{team}}", figures=_cycle,
             brute=lambda ids, s, e, _: engineering_sql.cycle_time("team", ids.team_id, s, e)),
    Endpoint("pull request metrics (organization)", f"{ANALYTICS}/pull-requests?organization_id={{organization}}",
             figures=_pulls,
             brute=lambda ids, s, e, _: engineering_sql.pull_requests("organization", ids.organization_id, s, e)),
    Endpoint("timeline", f"{ANALYTICS}/pull-requests/{{pull}}/timeline", cached=False, ranged=False,
             figures=_timeline, brute=lambda ids, s, e, pull: engineering_sql.timeline(pull)),
    Endpoint("DORA (organization)", f"{ANALYTICS}/dora-metrics?organization_id={{organization}}", figures=_dora,
             brute=lambda ids, s, e, _: engineering_sql.dora("organization", ids.organization_id, s, e)),
    Endpoint("DORA (team)", f"{ANALYTICS}/dora-metrics?team_id={{team}}", figures=_dora,
             brute=lambda ids, s, e, _: engineering_sql.dora("team", ids.team_id, s, e)),
    # Uncached: another sprint_count each request (another cache key; from 26 on, every sprint the data has).
    Endpoint("velocity (team)", f"{ANALYTICS}/velocity?team_id={{team}}&sprint_count={{pull}}", ranged=False,
             varying=tuple(range(6, 53)), figures=_last_sprint,
             brute=lambda ids, s, e, _: engineering_sql.velocity(ids.team_id, LAST_SPRINT, *LAST_SPRINT_DAYS)),
    Endpoint("code quality (organization)", f"{ANALYTICS}/code-quality?organization_id={{organization}}",
             figures=_quality, brute=lambda ids, s, e, _: engineering_sql.code_quality(ids.organization_id, s, e)),
)


def rollups(profile: Path | None) -> dict[str, Any]:
    """The full rollup of every pull request, then an incremental one after 1% of them changed."""
    from domain.engineering.rollup import roll_up
    from models.activity import PullRequest
    from models.db import db, is_postgres, utc_naive

    with db.connection_context():
        profiler = cProfile.Profile() if profile else None
        started = time.monotonic()
        if profiler:
            profiler.enable()
        full = roll_up(full=True)
        if profiler:
            profiler.disable()
            profiler.dump_stats(str(profile))
            pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(35)
        full_seconds = time.monotonic() - started
        last = PullRequest.select(PullRequest.id).order_by(PullRequest.id.desc()).scalar() or 0
        touched = PullRequest.update(changed_at=utc_naive()).where(PullRequest.id << list(range(100, last + 1, 100))
                                                                   ).execute()
        started = time.monotonic()
        incremental = roll_up()
        incremental_seconds = time.monotonic() - started
        if is_postgres():  # what autovacuum does soon after such writes: the covering indexes then answer alone
            db.execute_sql("VACUUM ANALYZE pull_request_cycle")
    print(f"engineering: full rollup of {full['measured']} pull requests {full_seconds:.1f} s; "
          f"{touched} touched, incremental {incremental['measured']} in {incremental_seconds:.2f} s", flush=True)
    return {"full": {"pull_requests": full["measured"], "seconds": round(full_seconds, 2)},
            "incremental": {"touched": touched, "pull_requests": incremental["measured"],
                            "seconds": round(incremental_seconds, 2)}}


def compare(endpoint: dict[str, Any], brute: dict[str, Any]) -> list[str]:
    """The figures that differ (beyond rounding)."""
    differ = []
    for name, expected in brute.items():
        got = endpoint.get(name)
        same = got == expected if expected is None or got is None or isinstance(expected, bool) else \
            abs(float(got) - float(expected)) <= TOLERANCE
        if not same:
            differ.append(f"{name}: endpoint {got}, SQL {expected}")
    return differ


def timed(call: Callable[[], Any], repeat: int) -> tuple[Any, float]:
    """`call`'s answer, and its median time in ms over `repeat` runs."""
    times, answer = [], None
    for _ in range(repeat):
        started = time.monotonic()
        answer = call()
        times.append(1000 * (time.monotonic() - started))
    return answer, round(statistics.median(times), 1)


def check(endpoint: Endpoint, session: requests.Session, url: str, loaded: Loaded, pulls: list[int],
          repeat: int) -> dict[str, Any]:
    """One request (for a timeline: one each of several pull requests) against the brute force, and both timed."""
    from models.db import db

    start, end = END - RANGE, END
    checked = pulls[:20] if "{pull}" in endpoint.path else pulls[:1]
    first_ms, mismatches, answers = 0.0, [], []
    for pull in checked:
        started = time.monotonic()
        response = session.get(url.replace("{pull}", str(pull)), timeout=300)
        first_ms = first_ms or round(1000 * (time.monotonic() - started), 1)
        assert response.status_code == 200, response.text[:300]
        if endpoint.figures is None or endpoint.brute is None:
            continue
        brute = endpoint.brute
        with db.connection_context():
            expected, brute_ms = timed(functools.partial(brute, loaded, start, end, pull), repeat)
        got = endpoint.figures(response.json())
        mismatches += [f"#{pull} {m}" if len(checked) > 1 else m for m in compare(got, expected)]
        answers.append({"endpoint": got, "sql": expected, "sql_ms": brute_ms})
    alone_ms = alone(session, url, start, pulls[1:repeat + 1], repeat)
    if not answers:
        return {"first_request_ms": first_ms, "alone_ms": alone_ms, "checked": False}
    return {"first_request_ms": first_ms, "alone_ms": alone_ms, "checked": len(answers), "agrees": not mismatches,
            "mismatches": mismatches[:10], "sql_ms": answers[0]["sql_ms"], "example": answers[0]}


def alone(session: requests.Session, url: str, start: datetime, pulls: list[int], repeat: int) -> float:
    """The median of `repeat` uncached requests one at a time (other pull requests, or ranges starting a few
    seconds earlier: keys no other request uses), to set beside the SQL's time, also taken alone."""
    fixed = start.strftime("%Y-%m-%dT%H:%M:%SZ")
    urls = [url.replace("{pull}", str(pull)) for pull in pulls] if "{pull}" in url else [
        url.replace(fixed, (start - timedelta(seconds=n + 1)).strftime("%Y-%m-%dT%H:%M:%SZ")) for n in range(repeat)]
    times = []
    for each in urls:
        started = time.monotonic()
        assert session.get(each, timeout=300).status_code == 200
        times.append(1000 * (time.monotonic() - started))
    return round(statistics.median(times), 1)


def python_brute(loaded: Loaded, expected: dict[str, Any]) -> dict[str, Any]:
    """Cycle time of the organization measured in Python from the raw rows (`measured_facts`), timed and checked."""
    from domain.engineering.pull_analytics import cycle_time
    from domain.engineering.pull_facts import Scope, measured_facts
    from models.db import db

    with db.connection_context():
        answer, ms = timed(lambda: cycle_time(Scope(organization_id=loaded.organization_id), END - RANGE, END,
                                              "weekly", facts=measured_facts), 1)
    got = {"pull_requests": answer["pull_requests"], "deployed": answer["deployed"],
           "mean_hours": answer["total_cycle_time_hours"], "p50_hours": answer["percentiles"]["p50"]}
    differ = compare(got, expected)
    return {"ms": ms, "agrees": not differ, "mismatches": differ}


def endpoints(env: dict[str, str], var: Path, loaded: Loaded, smoke: bool) -> dict[str, Any]:
    """Every endpoint: checked against its brute force, then loaded uncached and (when the route caches) cached."""
    seconds, warmup, repeat = (1, 0, 1) if smoke else (10, 2, 3)
    pulls = random.Random(1).sample(loaded.pull_ids, min(TIMELINES, len(loaded.pull_ids)))
    found: dict[str, Any] = {}
    with api_latency.serve("api:create_app()", "/health/ready", env, var / "api.log") as base:
        token = requests.post(f"{base}/api/v1/auth/login", json={"username": "bench", "password": PASSWORD},
                              timeout=30).json()["access_token"]
        load = Load(base, token, seconds, warmup)
        for endpoint in ENDPOINTS:
            ids = list(endpoint.varying) or pulls
            path = endpoint.path.format(organization=loaded.organization_id, team=loaded.team_id, pull="{pull}")
            fixed = with_range(path, END - RANGE, END) if endpoint.ranged else path
            print(f"engineering: {endpoint.label} ...", flush=True)
            with requests.Session() as session:  # closed: a kept-alive connection holds gunicorn's shutdown
                session.headers["Authorization"] = f"Bearer {token}"
                checked = check(endpoint, session, base + fixed, loaded, ids, repeat)
            print(f"  checked against SQL: {json.dumps(checked, default=str)}", flush=True)
            measured: dict[str, Any] = {"path": path, "cached_by_route": endpoint.cached, "check": checked}
            measured["uncached"] = load.varying_range(path, END - RANGE, END) if endpoint.ranged else \
                load.varying_id(path, ids)
            measured["cached"] = load.fixed(fixed.replace("{pull}", str(ids[0]))) if endpoint.cached else None
            measured["meets_target"] = verdict(measured)
            sql_ms = measured["check"].get("sql_ms")
            measured["ratio_to_sql"] = round(measured["check"]["alone_ms"] / sql_ms, 2) if sql_ms else None
            found[endpoint.label] = measured
    return found


def verdict(r: dict[str, Any]) -> str:
    misses = []
    for mode, target in (("uncached", P99_UNCACHED_MS), ("cached", P99_CACHED_MS)):
        run = r[mode]
        if run is None:
            continue
        if run["errors"]:
            misses.append(f"{mode}: {run['errors']} errors")
        if run["p99"] is None or run["p99"] > target:
            misses.append(f"{mode} p99 {run['p99']} > {target:g} ms")
    if r["check"].get("checked") and not r["check"]["agrees"]:
        misses.append("differs from the SQL")
    return "NO: " + "; ".join(misses) if misses else "yes"


def bench_user() -> int:
    from models.user import User

    user = User(username="bench", role="user")
    user.set_password(PASSWORD)
    user.save()
    return int(user.id)


def main(scale: float | None = None, smoke: bool = False, profile: bool = False,
         rollup_only: bool = False) -> dict[str, Any]:
    from core.settings import load_settings
    from models.db import db
    from models.migrations import migrate
    from workers.setup import configure

    var = Path(tempfile.mkdtemp(prefix="conveyor-bench-engineering-"))
    redis_server, _ = ensure_embedded_redis(var)
    database_url = os.environ.get("BENCH_DATABASE_URL", f"sqlite:///{var / 'conveyor.db'}")
    engine = "postgresql" if database_url.startswith("postgres") else "sqlite"
    scale = scale or (SMOKE_SCALE if smoke else 1.0 if engine == "postgresql" else 0.1)
    sizes = Sizes.at(scale)
    env = {"PATH": f"{api_latency.BIN}:/usr/bin:/bin", "HOME": str(var), "VAR_DIR": str(var),
           "REDIS_URL": redis_server.url, "DATABASE_URL": database_url, "CONVEYOR_ENV": "production",
           "SECRET_KEY": "bench-secret-key-long-enough-0123456789", "RATE_LIMITS_ENABLED": "false",
           "LOG_LEVEL": "WARNING"}
    started = time.monotonic()
    try:
        configure(load_settings(env, env_file=None))
        migrate()
        print(f"engineering ({engine}, scale {scale}): generating and storing {sizes} ...", flush=True)
        with db.connection_context():
            loading = time.monotonic()
            loaded = load(sizes, bench_user())
            load_seconds = time.monotonic() - loading
        print(f"engineering: stored {loaded.counts} in {load_seconds:.1f} s", flush=True)
        rolled = rollups(var / "rollup.prof" if profile else None)
        if rollup_only:
            return {"engine": engine, "scale": scale, "counts": loaded.counts, "rollup": rolled}
        measured = endpoints(env, var, loaded, smoke)
        cycle = measured[ENDPOINTS[0].label]["check"].get("example", {}).get("sql", {})
        in_python = python_brute(loaded, cycle)
    finally:
        stop_embedded_redis(var)
    return {"engine": engine, "scale": scale, "counts": loaded.counts, "load_seconds": round(load_seconds, 1),
            "rollup": rolled, "rollup_target_seconds": ROLLUP_TARGET_SECONDS if engine == "postgresql" else None,
            "range": {"start": (END - RANGE).isoformat(), "end": END.isoformat()},
            "endpoints": measured, "measured_facts": in_python,
            "targets": {"p99_uncached_ms": P99_UNCACHED_MS, "p99_cached_ms": P99_CACHED_MS},
            "seconds": round(time.monotonic() - started, 1)}


def table(runs: list[dict[str, Any]]) -> str:
    lines = ["| database | scale | commits | pull requests | reviews | CI runs | deploy runs | stored in s "
             "| full rollup s | incremental rollup s (1% touched) | cycle time in Python from raw rows ms |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in runs:
        c, full, inc = r["counts"], r["rollup"]["full"], r["rollup"]["incremental"]
        target = r["rollup_target_seconds"]
        met = "" if target is None else (" (<= 60: met)" if full["seconds"] <= target else " (<= 60: **not met**)")
        python = r["measured_facts"]
        lines.append(f"| {r['engine']} | {r['scale']} | {c['commits']:,} | {c['pull_requests']:,} | {c['reviews']:,} "
                     f"| {c['ci_runs']:,} | {c['deploy_runs']:,} | {r['load_seconds']} | {full['seconds']}{met} "
                     f"| {inc['seconds']} ({inc['pull_requests']:,}) | {python['ms']} "
                     f"({'agrees' if python['agrees'] else 'DIFFERS'}) |")
    lines += ["", "| database | endpoint | uncached req/s | uncached p50 / p99 ms | cached p50 / p99 ms "
              "| one request alone ms (first) | SQL brute force ms | alone / SQL | same figures as SQL "
              "| meets target |",
              "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |"]
    for r in runs:
        for label, e in r["endpoints"].items():
            u, c, chk = e["uncached"], e["cached"], e["check"]
            cached = f"{c['p50']} / {c['p99']}" if c else "(not cached by the route)"
            agrees = "-" if not chk.get("checked") else ("yes" if chk["agrees"] else "**NO**: " + "; ".join(
                chk["mismatches"][:3]))
            lines.append(f"| {r['engine']} | {label} | {u['requests_per_second']:.0f} | {u['p50']} / {u['p99']} "
                         f"| {cached} | {chk['alone_ms']} ({chk['first_request_ms']}) | {chk.get('sql_ms', '-')} "
                         f"| {e['ratio_to_sql'] or '-'} | {agrees} | {e['meets_target']} |")
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.engineering", description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, help="1.0: the issue's sizes (default: 1.0 on PostgreSQL, 0.1 on "
                                                     "SQLite)")
    parser.add_argument("--smoke", action="store_true", help=f"scale {SMOKE_SCALE} and 1 s runs")
    parser.add_argument("--profile", action="store_true", help="cProfile the full rollup (printed to stderr)")
    parser.add_argument("--rollup-only", action="store_true", help="stop after the rollups (to profile them)")
    options = parser.parse_args()
    outcome = main(options.scale, options.smoke, options.profile, options.rollup_only)
    print(json.dumps(outcome, indent=2, default=str))
    if "endpoints" in outcome:
        print(table([outcome]))
    if os.environ.get("BENCH_OUTPUT"):
        Path(os.environ["BENCH_OUTPUT"]).write_text(json.dumps(outcome, default=str))
