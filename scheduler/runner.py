"""Fire each job of the table on an epoch-aligned interval, on the leader only, once per tick."""
from __future__ import annotations

import logging
import math
import os
import socket
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import dramatiq
import redis
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger

from domain import telemetry
from domain.processes import Process
from scheduler.leader import LeaderLock
from workers.schedule import Job

log = logging.getLogger(__name__)
LOCK_KEY = "conveyor:scheduler:leader"
FIRED_KEY = "conveyor:scheduler:fired"
# Every replica's intervals start here, so all of them agree on the instants a job is due.
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


def send_job(job: Job, next_run: float) -> str:
    """Send the job's actor (`workers.middleware.JobBookkeeping` records it in the jobs list)."""
    return str(job.actor.send_with_options(trigger="schedule", next_run=next_run).message_id)


def _interval(job: Job) -> int:
    if not job.interval_seconds:
        raise ValueError(f"job {job.name} is not on a timer")
    return job.interval_seconds


class SchedulerRunner:
    def __init__(self, client: redis.Redis, jobs: Sequence[Job], lock_ttl: float,
                 send: Callable[[Job, float], str] = send_job,
                 scheduler_factory: Callable[[], BaseScheduler] = BlockingScheduler) -> None:
        self.client = client
        self.jobs = tuple(job for job in jobs if job.interval_seconds)  # the others follow another job
        self.send = send
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.lock = LeaderLock(client, LOCK_KEY, lock_ttl, self.holder)
        self.lead_interval = max(lock_ttl / 3, 0.5)
        self.scheduler = scheduler_factory()
        self.process = Process("scheduler")

    def start(self) -> None:
        """Add the jobs and start; a BlockingScheduler returns only after `stop()`."""
        self.scheduler.configure(timezone=UTC, job_defaults={"coalesce": True, "max_instances": 1})
        self.scheduler.add_job(self.keep_lead, IntervalTrigger(seconds=self.lead_interval, timezone=UTC),
                               id="_leader", next_run_time=datetime.now(UTC))
        for job in self.jobs:
            trigger = IntervalTrigger(seconds=_interval(job), start_date=EPOCH, timezone=UTC)
            self.scheduler.add_job(self.fire, trigger, args=[job], id=job.name,
                                   misfire_grace_time=_interval(job))
        log.info("scheduler starting", extra={"holder": self.holder, "jobs": [j.name for j in self.jobs]})
        self.scheduler.start()

    def stop(self, release: bool = True) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        if release:
            self.lock.release()
            try:
                telemetry.forget(self.client, "scheduler", self.process.id)
            except redis.RedisError:
                pass  # it ages out of the list within a minute

    def keep_lead(self) -> None:
        self._beat()
        was_leader = self.lock.held
        if not self.lock.acquire_or_renew():
            if was_leader:
                log.warning("scheduler lost the leader lock", extra={"holder": self.holder})
            return
        if not was_leader:
            log.info("scheduler is now the leader", extra={"holder": self.holder})
            self.catch_up()
        try:
            telemetry.record_scheduler_tick(self.client, self.holder)
            now = time.time()
            for job in self.jobs:
                next_tick = (math.floor(now / _interval(job)) + 1) * _interval(job)
                telemetry.set_job_next_run(self.client, job.name, next_tick)
        except redis.RedisError:
            log.warning("could not record the scheduler tick", exc_info=True)

    def _beat(self) -> None:
        """Every replica says it is alive (the system status lists it), leader or not."""
        try:
            telemetry.record_beat(self.client, "scheduler", {**self.process.figures(), "holder": self.holder,
                                                             "leader": self.lock.held})
        except redis.RedisError:
            log.warning("could not record the scheduler's heartbeat", exc_info=True)

    def catch_up(self) -> None:
        """A new leader fires each job's latest tick if no replica did and it fell within the hand-over: a
        dead leader's lock outlives it by up to the TTL, and a tick due meanwhile must be late, not lost."""
        window = self.lock.ttl_ms / 1000 + self.lead_interval
        now = time.time()
        for job in self.jobs:
            if now % _interval(job) <= window:
                self.fire(job)

    def fire(self, job: Job) -> bool:
        """Send the job's actor if we lead and no replica has sent it for this tick yet."""
        if not self.lock.held:
            return False
        tick = math.floor(time.time() / _interval(job)) * _interval(job)
        key = f"{FIRED_KEY}:{job.name}:{tick}"
        try:
            if not self.client.set(key, self.holder, nx=True, ex=_interval(job) * 2 + 60):
                return False
            self.send(job, tick + _interval(job))
        except (redis.RedisError, dramatiq.errors.BrokerConnectionError):
            log.warning("could not fire job", extra={"job": job.name}, exc_info=True)
            return False
        return True
