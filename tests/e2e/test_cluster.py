"""A whole deployment without Docker: 2 API servers, 2 worker processes and 2 scheduler replicas on one Redis and
one database (SQLite in `make test`, PostgreSQL when TEST_DATABASE_URL says so), all on 127.0.0.1.

One cluster serves the module. `CHAOS=full` (for `make chaos`) runs longer: more builds, more ticks, and the
leader is killed twice.
"""
from __future__ import annotations

import json
import math
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import closing
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
import websocket

from domain.telemetry import message_outcomes
from models.db import db
from models.task import FINAL, Task
from scheduler.runner import FIRED_KEY
from tests.api.test_progress_ws import collect, open_ws, start, token_for
from tests.conftest import _clean_tables
from tests.support.cluster import Cluster, group_of, holder_pid
from tests.support.processes import wait_for
from workers.schedule import Job, timed

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

FULL = os.environ.get("CHAOS") == "full"
TICK = 5  # every timed job fires every TICK s (SCHEDULER_INTERVALS): more than a hand-over takes
TTL = 2  # SCHEDULER_LOCK_TTL, the smallest allowed; the leader renews it every third of it
HANDOVER = TTL + TTL / 3  # the dead leader's lock runs out within TTL; the follower tries every TTL/3
JOBS = timed()
BUILDS = 24 if FULL else 8
KILLS = 2 if FULL else 1
TICKS_AFTER_KILL = 4 if FULL else 2


@pytest.fixture(scope="module")
def cluster(base_env: dict[str, str], schema: None, redis_url: str,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    client.flushdb()  # no lock, tick or heartbeat left by earlier tests
    env = {**base_env, "LOG_LEVEL": "INFO", "dramatiq_worker_timeout": "100", "SCHEDULER_LOCK_TTL": str(TTL),
           "SCHEDULER_INTERVALS": ",".join(f"{job.name}={TICK}" for job in JOBS)}
    deployment = Cluster(env, tmp_path_factory.mktemp("cluster"), client)
    try:
        deployment.start(apis=2, workers=2, schedulers=2, worker_threads=2)
        yield deployment
    finally:
        deployment.close()
        _clean_tables()
        client.flushdb()
        client.close()


@pytest.fixture(autouse=True)
def _show_cluster_logs(cluster: Cluster, tmp_path: Path) -> None:
    """conftest prints the tail of a failed test's `tmp_path/*.log`: point those at the cluster's logs."""
    for log in cluster.logs.glob("*.log"):
        (tmp_path / log.name).symlink_to(log)


class TickLedger:
    """Which scheduler fired each tick of each job (the runner's per-tick `SET NX` keys, merged as they are
    seen, since they expire), and how many messages of each job's actor the workers processed."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self.fired: dict[str, dict[int, str]] = {job.name: {} for job in JOBS}

    def observe(self) -> dict[str, dict[int, str]]:
        for job in JOBS:
            for key in self.client.scan_iter(f"{FIRED_KEY}:{job.name}:*"):
                holder = self.client.get(key)
                if holder is not None:
                    self.fired[job.name][int(str(key).rsplit(":", 1)[1])] = str(holder)
        return self.fired

    def processed(self, job: Job) -> int:
        counts, _ = message_outcomes(self.client)
        return sum(n for (actor, _outcome), n in counts.items() if actor == job.actor_name)

    def caught_up(self, job: Job) -> bool:
        """The workers processed at least one message per tick fired."""
        return self.processed(job) >= len(self.fired[job.name])


def fired_since(fired: dict[int, str], since: float) -> dict[int, str]:
    return {tick: holder for tick, holder in fired.items() if tick > since}


def wait_ticks(ledger: TickLedger, count: int) -> None:
    wait_for(lambda: min(len(fired) for fired in ledger.observe().values()) >= count, timeout=(count + 1) * TICK,
             interval=0.5, what=f"{count} ticks of every job")


def ticks_since(ledger: TickLedger, since: float) -> bool:
    """Every job fired TICKS_AFTER_KILL ticks after `since`."""
    return all(len(fired_since(fired, since)) >= TICKS_AFTER_KILL for fired in ledger.observe().values())


@pytest.fixture(scope="module")
def ledger(cluster: Cluster) -> TickLedger:
    return TickLedger(cluster.redis)


def at_phase(phase: float) -> None:
    """Sleep until `phase` seconds into a tick (ticks are aligned to the epoch, so all replicas agree)."""
    time.sleep((phase - time.time() % TICK) % TICK)


def assert_once_per_tick(cluster: Cluster, ledger: TickLedger) -> None:
    """Every tick since the first fired exactly once: no gap, the latest one included, and one message each."""
    at_phase(TICK / 2)  # the last tick's messages are done, the next tick is not due
    ledger.observe()
    latest = math.floor(time.time() / TICK) * TICK
    ours = {p.pid for p in cluster.schedulers}
    for job in JOBS:
        fired = ledger.fired[job.name]
        assert fired, f"{job.name} never fired"
        expected = list(range(min(fired), latest + 1, TICK))
        missing = [tick for tick in expected if tick not in fired]
        assert not missing, f"{job.name}: no scheduler fired the ticks at {missing} (of {len(expected)})"
        assert {holder_pid(holder) for holder in fired.values()} <= ours
        wait_for(partial(ledger.caught_up, job), timeout=TICK / 2 - 0.5,
                 what=f"the workers to process every {job.name} message")
        assert ledger.processed(job) == len(fired), f"{job.name}: {ledger.processed(job)} runs for {len(fired)} ticks"


def test_a_watcher_on_one_api_sees_a_build_started_through_the_other(
        cluster: Cluster, repo: Path, step_dir: Path) -> None:
    first, second = cluster.apis
    token = token_for(second, "cluster-watcher")
    gate = step_dir / "gate"
    steps = [{"name": "wait", "run": f"while [ ! -e {gate} ]; do sleep 0.05; done; echo opened"},
             {"name": "count", "run": "for i in 1 2 3; do echo line-$i; sleep 0.1; done"}]
    task_id = start(second, token, repo, steps)
    # Live: the build waits for the gate until the watcher on the other API has seen it reach that step.
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + 30
    with closing(open_ws(first, task_id, token)) as ws:  # closed on failure too: gunicorn waits for it to stop
        try:
            while not any(m.get("type") == "progress" and m["data"]["current_step"] == "wait" for m in seen):
                assert time.monotonic() < deadline, f"no progress on the other API within 30 s: {seen}"
                opcode, data = ws.recv_data(control_frame=True)  # pings too, so that the deadline is checked
                if opcode == websocket.ABNF.OPCODE_TEXT:
                    seen.append(json.loads(data))
        finally:
            gate.touch()  # never leave the step waiting
        rest, code = collect(ws, limit=30)

    assert code == 1000 and seen[0]["type"] == "connected" and seen[0]["task_id"] == task_id
    events = seen[1:] + rest
    assert [e["data"]["current_step"] for e in events if e["type"] == "progress"] == ["checkout", "wait", "count"]
    assert [line for e in events if e["type"] == "log" for line in e["data"]["lines"]] == [
        "opened", "line-1", "line-2", "line-3"]
    assert events[-1]["type"] == "completion" and events[-1]["status"] == "completed"


def test_builds_spread_across_both_worker_processes(cluster: Cluster, repo: Path) -> None:
    tokens = [token_for(base, f"cluster-builder-{n}") for n, base in enumerate(cluster.apis)]
    name = f"spread-{uuid.uuid4().hex[:6]}"
    created = requests.post(f"{cluster.apis[0]}/api/v1/projects", timeout=5,
                            headers={"Authorization": f"Bearer {tokens[0]}"},
                            json={"name": name, "repo_url": str(repo),
                                  "build_steps": [{"name": "work", "run": "sleep 1"}]})
    assert created.status_code == 201, created.text
    ids = []
    for n in range(BUILDS):  # through both APIs in turn; each worker holds at most 2 threads * 2 prefetched
        base, token = cluster.apis[n % 2], tokens[n % 2]
        response = requests.post(f"{base}/api/v1/builds", headers={"Authorization": f"Bearer {token}"},
                                 json={"project_name": name}, timeout=5)
        assert response.status_code == 202, response.text
        ids.append(response.json()["task_id"])

    def finished() -> list[Task] | None:
        with db.connection_context():
            rows = list(Task.select().where(Task.id.in_(ids)))
        return rows if all(row.status in FINAL for row in rows) else None

    rows = wait_for(finished, timeout=60 + BUILDS, interval=0.2, what=f"{BUILDS} builds to finish")
    assert {row.status for row in rows} == {"completed"}
    ran_on = {row.worker: group_of(int(row.worker.split(":")[1])) for row in rows}
    assert set(ran_on.values()) == {w.pid for w in cluster.workers}, f"builds ran on {ran_on}"


def test_each_tick_fires_once_across_the_two_schedulers(cluster: Cluster, ledger: TickLedger) -> None:
    wait_ticks(ledger, 3)
    assert_once_per_tick(cluster, ledger)

    admin = token_for(cluster.apis[0], "cluster-admin", "admin")
    items = requests.get(f"{cluster.apis[0]}/api/v1/admin/jobs", headers={"Authorization": f"Bearer {admin}"},
                         params={"limit": 100}, timeout=5).json()["items"]
    timed_items = {item["name"]: item for item in items if item["name"] in {job.name for job in JOBS}}
    assert {item["interval_seconds"] for item in timed_items.values()} == {TICK}
    assert all(item["last_trigger"] == "schedule" for item in timed_items.values()), timed_items


def test_a_killed_leader_is_replaced_within_the_lock_ttl_and_no_tick_is_lost(
        cluster: Cluster, ledger: TickLedger) -> None:
    for round_ in range(KILLS):
        if round_:  # back to two replicas before killing the next leader
            started = cluster.start_scheduler()
            wait_for(partial(cluster.scheduler_started, started), timeout=30, what="a new scheduler")
        leader = wait_for(cluster.leader, timeout=TTL + 2, what="a leader")
        follower = next(p for p in cluster.schedulers if p is not leader and p.poll() is None)
        wait_ticks(ledger, 1)  # a tick before the kill, so that a tick lost after it is a gap

        at_phase(TICK - 1)  # the next tick falls while the lock is still the dead leader's
        cluster.kill(leader)
        killed_at, killed_wall = time.monotonic(), time.time()
        wait_for(partial(cluster.leads, follower), timeout=HANDOVER + 5, interval=0.05,
                 what="the follower to take the lead")
        took = time.monotonic() - killed_at
        assert took <= HANDOVER + 0.5, f"the follower took {took:.2f}s to lead (TTL {TTL}s)"

        wait_for(partial(ticks_since, ledger, killed_wall), timeout=(TICKS_AFTER_KILL + 1) * TICK, interval=0.5,
                 what=f"{TICKS_AFTER_KILL} ticks after the kill")
        assert_once_per_tick(cluster, ledger)
        for job in JOBS:
            after = fired_since(ledger.fired[job.name], killed_wall)
            assert {holder_pid(holder) for holder in after.values()} == {follower.pid}, (job.name, after)
