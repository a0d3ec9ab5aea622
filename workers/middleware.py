"""Cross-cutting worker concerns as Dramatiq middleware: each overrides only the hooks it needs."""
from __future__ import annotations

import logging
import threading
import time
import traceback
from datetime import timedelta
from typing import Any

import dramatiq
from dramatiq.middleware import Middleware

from core.redis import get_redis
from core.settings import ConfigError, Settings
from domain import platform_metrics, telemetry
from domain.builds import sandbox
from domain.outbox import OUTBOX_OPTION, retry_delay
from domain.processes import Process
from models.db import connect_database, db, is_postgres
from models.outbox import OutboxMessage
from workers import schedule

log = logging.getLogger(__name__)
DEFAULT_LEASE_MS = 10 * 60 * 1000
# Message options a sender may set on a scheduled job's message, for its record in the jobs list.
TRIGGER_OPTION, NEXT_RUN_OPTION = "trigger", "next_run"


class DatabaseConnection(Middleware):
    """Bind the database at boot, and hold a connection only while a message is processed."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url

    def before_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        # Before, not after: Dramatiq starts the worker threads before `after_worker_boot`, and re-binding
        # the proxy under a thread that is already in a transaction broke it (and left SQLite locked).
        connect_database(self.database_url)

    def before_process_message(self, broker: dramatiq.Broker, message: dramatiq.MessageProxy) -> None:
        db.connect(reuse_if_open=True)

    def after_process_message(self, broker: dramatiq.Broker, message: dramatiq.MessageProxy, *,
                              result: Any = None, exception: BaseException | None = None) -> None:
        # A PostgreSQL connection goes back to the pool. A SQLite one, cheap to hold and costly to reopen
        # (a file open and four pragmas), stays with its thread, unless a transaction was left open.
        if not db.is_closed() and (is_postgres() or db.in_transaction()):
            db.close()

    after_skip_message = after_process_message


class StepSandbox(Middleware):
    """At boot, before any step can run: the worker non-dumpable, VAR_DIR private, the step user resolved
    (a BUILD_USER that cannot be used stops the worker here; a build never runs a step as root)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def before_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        try:
            sandbox.current(self.settings)
        except (ConfigError, OSError) as exc:  # Dramatiq logs and ignores an Exception here; SystemExit ends it
            log.critical("cannot run build steps safely: %s", exc)
            raise SystemExit(f"configuration error: {exc}") from None


class OutboxTracking(Middleware):
    """Settle the outbox row a message came from: done on success, a counted failure otherwise."""

    def before_process_message(self, broker: dramatiq.Broker, message: dramatiq.MessageProxy) -> None:
        outbox_id = message.options.get(OUTBOX_OPTION)
        if outbox_id is not None:
            actor = broker.get_actor(message.actor_name)
            limit_ms = actor.options.get("time_limit", DEFAULT_LEASE_MS)
            OutboxMessage.extend_lease(outbox_id, timedelta(milliseconds=limit_ms + 60_000))

    def after_process_message(self, broker: dramatiq.Broker, message: dramatiq.MessageProxy, *,
                              result: Any = None, exception: BaseException | None = None) -> None:
        outbox_id = message.options.get(OUTBOX_OPTION)
        if outbox_id is None:
            return
        if exception is None:
            OutboxMessage.mark_done(outbox_id)
        else:
            row = OutboxMessage.get_or_none(OutboxMessage.id == outbox_id)
            attempts = row.attempts if row else 0
            OutboxMessage.record_failure(outbox_id, repr(exception), retry_delay(attempts))


class Outcomes(Middleware):
    """Count every message's outcome and time per actor in Redis; record scheduled jobs' last run."""

    def __init__(self, redis_url: str) -> None:
        self.redis_url = redis_url

    def before_process_message(self, broker: dramatiq.Broker, message: dramatiq.MessageProxy) -> None:
        message.options["_started"] = time.monotonic()
        telemetry.discard_deferred_counts()  # whatever an earlier message left unflushed is not this one's

    def after_process_message(self, broker: dramatiq.Broker, message: dramatiq.MessageProxy, *,
                              result: Any = None, exception: BaseException | None = None) -> None:
        seconds = time.monotonic() - message.options.pop("_started", time.monotonic())
        client = get_redis(self.redis_url)
        try:
            telemetry.record_message_outcome(client, message.actor_name,
                                             "failed" if exception else "succeeded", seconds)
            if broker.get_actor(message.actor_name).options.get("scheduled_job"):
                error = None if exception is None else "".join(traceback.format_exception_only(exception)).strip()
                telemetry.record_job_finished(client, message.actor_name, duration_ms=seconds * 1000,
                                              result=result, error=error)
                if exception is None:
                    self._start_followers(broker, client, message.actor_name)
        except Exception:  # bookkeeping must never fail the message it describes
            log.warning("could not record the message outcome", exc_info=True)

    @staticmethod
    def _start_followers(broker: dramatiq.Broker, client: Any, name: str) -> None:
        """Jobs that run after this one (`Job.after`), e.g. alert evaluation after each aggregation."""
        for job in schedule.followers(name):
            options: dict[str, Any] = {TRIGGER_OPTION: f"after {name}"}
            job.actor.send_with_options(**options)

    @property
    def actor_options(self) -> set[str]:
        return {"scheduled_job"}


class JobBookkeeping(Middleware):
    """Record in the jobs list every message sent to a scheduled job's actor, whoever sent it: the scheduler,
    an operator, the API at start, or a job that this one follows. Senders say why with the `trigger` option
    (and the scheduler the next tick with `next_run`)."""

    def __init__(self, redis_url: str) -> None:
        self.redis_url = redis_url

    def after_enqueue(self, broker: dramatiq.Broker, message: dramatiq.Message[Any], delay: int | None) -> None:
        if not broker.get_actor(message.actor_name).options.get("scheduled_job"):
            return
        try:
            telemetry.record_job_enqueued(get_redis(self.redis_url), message.actor_name, at=time.time(),
                                          next_run=message.options.get(NEXT_RUN_OPTION),
                                          message_id=message.message_id,
                                          trigger=message.options.get(TRIGGER_OPTION, "manual"))
        except Exception:  # the message is on its way; its record is not worth failing the send for
            log.warning("could not record a job's enqueue", extra={"job": message.actor_name}, exc_info=True)


class WorkerHeartbeat(Middleware):
    """Each worker process says every few seconds that it is alive, and what it runs."""

    INTERVAL = 5.0

    def __init__(self, redis_url: str) -> None:
        self.redis_url = redis_url
        self.stop = threading.Event()
        self.worker_id = ""

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        process = Process("worker")  # after the fork: this process's own id and figures
        self.worker_id = process.id
        info = {"threads": worker.worker_threads, "queues": sorted(broker.get_declared_queues())}
        thread = threading.Thread(target=self._beat, args=(process, info), name="conveyor-heartbeat", daemon=True)
        thread.start()

    def _beat(self, process: Process, info: dict[str, Any]) -> None:
        client = get_redis(self.redis_url)
        while not self.stop.is_set():
            try:
                telemetry.record_worker_beat(client, {**info, **process.figures()})
            except Exception:  # a Redis outage must not kill the heartbeat; it beats again later
                log.warning("worker heartbeat failed", exc_info=True)
            self.stop.wait(self.INTERVAL)

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self.stop.set()
        try:
            telemetry.forget_worker(get_redis(self.redis_url), self.worker_id)
        except Exception:
            log.warning("could not remove worker heartbeat", exc_info=True)


class MetricsFlush(Middleware):
    """Writes the platform metrics buffer every FLUSH_SECONDS from a thread of its own, and once more at shutdown."""

    def __init__(self) -> None:
        self.stop = threading.Event()

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        threading.Thread(target=self._run, name="conveyor-metrics-flush", daemon=True).start()

    def _run(self) -> None:
        while not self.stop.wait(platform_metrics.FLUSH_SECONDS):
            platform_metrics.flush()

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self.stop.set()
        platform_metrics.flush()
