"""Two schedulers on one Redis: one leader fires each tick once; when it dies the other takes over."""
from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis
from apscheduler.schedulers.background import BackgroundScheduler

from core.settings import load_settings
from domain.telemetry import job_states
from scheduler.leader import LeaderLock
from scheduler.runner import FIRED_KEY, LOCK_KEY, SchedulerRunner
from tests.support.processes import wait_for
from workers.jobs import sweep_outbox
from workers.schedule import JOBS, Job
from workers.setup import configure

pytestmark = pytest.mark.slow
TICK = Job(sweep_outbox, 1, "every second, for the test")
TTL = 2.0


@pytest.fixture
def pair(base_env: dict[str, str], schema: None, redis_client: redis.Redis) -> Iterator[list[SchedulerRunner]]:
    configure(load_settings(base_env, env_file=None))
    runners = [SchedulerRunner(redis_client, [TICK], TTL, scheduler_factory=BackgroundScheduler) for _ in range(2)]
    yield runners
    for runner in runners:
        runner.stop()


def _fired(client: redis.Redis) -> dict[str, str]:
    return {key: client.get(key) for key in client.scan_iter(f"{FIRED_KEY}:{TICK.name}:*")}


def test_only_one_of_two_schedulers_fires_each_tick(pair: list[SchedulerRunner], redis_client: redis.Redis) -> None:
    for runner in pair:
        runner.start()
    time.sleep(4.5)

    fired = _fired(redis_client)
    leaders = [runner for runner in pair if runner.lock.held]
    assert len(leaders) == 1
    assert set(fired.values()) == {leaders[0].holder}, "the follower must never fire"
    assert 3 <= len(fired) <= 6, fired
    # Every tick put exactly one message on the queue.
    assert redis_client.llen("dramatiq:scheduled") == len(fired)
    recorded = job_states(redis_client, [TICK.name])[TICK.name]
    assert recorded["last_trigger"] == "schedule" and recorded["next_run_at"] > time.time() - 1


def test_follower_takes_over_within_the_lock_ttl(pair: list[SchedulerRunner], redis_client: redis.Redis) -> None:
    for runner in pair:
        runner.start()
    leader = wait_for(lambda: next((r for r in pair if r.lock.held), None), timeout=5, what="a leader")
    follower = next(r for r in pair if r is not leader)

    # The leader dies without releasing the lock, as a killed process would.
    leader.stop(release=False)
    died_at = time.monotonic()
    wait_for(lambda: follower.lock.held, timeout=TTL + follower.lead_interval + 2, what="the follower to lead")
    assert time.monotonic() - died_at <= TTL + follower.lead_interval + 0.5

    before = set(_fired(redis_client))
    time.sleep(2.2)
    new = {k: v for k, v in _fired(redis_client).items() if k not in before}
    assert new and set(new.values()) == {follower.holder}


def test_lock_is_exclusive_and_only_its_holder_can_release_it(redis_client: redis.Redis) -> None:
    first = LeaderLock(redis_client, LOCK_KEY, 5, "first")
    second = LeaderLock(redis_client, LOCK_KEY, 5, "second")
    assert first.acquire_or_renew() and not second.acquire_or_renew()
    second.release()  # not its lock: nothing happens
    assert first.current_holder() == "first"
    first.release()
    assert second.acquire_or_renew() and second.current_holder() == "second"


def test_job_table_names_only_declared_actors(base_env: dict[str, str], schema: None) -> None:
    broker = configure(load_settings(base_env, env_file=None)).broker
    for job in JOBS:
        assert broker.get_actor(job.actor_name).options.get("scheduled_job") is True
        follows = job.after is not None and job.after.actor_name in {j.name for j in JOBS}
        assert (job.interval_seconds or 0) >= 1 or follows
