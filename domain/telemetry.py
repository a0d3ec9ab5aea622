"""What workers and the scheduler leave in Redis for operators: job runs, worker heartbeats, queues."""
from __future__ import annotations

import json
import threading
import time
from typing import Any, cast

import redis

JOBS_KEY = "conveyor:jobs"
SCHEDULER_TICK_KEY = "conveyor:scheduler:tick"
MESSAGE_COUNTS_KEY = "conveyor:stats:messages"
MESSAGE_SECONDS_KEY = "conveyor:stats:message_seconds"
WORKER_SEEN_WINDOW = 60.0


def _job_key(name: str) -> str:
    return f"{JOBS_KEY}:{name}"


def _set_fields(client: redis.Redis, name: str, fields: dict[str, Any]) -> None:
    # One hash per job and one field per fact: the scheduler and workers update disjoint fields atomically.
    _set_fields_of(client, _job_key(name), fields)


def _set_fields_of(client: redis.Redis, key: str, fields: dict[str, Any]) -> None:
    client.hset(key, mapping={k: json.dumps(v, default=str) for k, v in fields.items()})


def record_job_enqueued(client: redis.Redis, name: str, *, at: float, next_run: float | None,
                        message_id: str, trigger: str) -> None:
    fields: dict[str, Any] = {"last_run_at": at, "last_message_id": message_id, "last_trigger": trigger}
    if next_run is not None:
        fields["next_run_at"] = next_run
    _set_fields(client, name, fields)


def record_job_finished(client: redis.Redis, name: str, *, duration_ms: float, result: Any,
                        error: str | None) -> None:
    _set_fields(client, name, {"last_finished_at": time.time(), "last_duration_ms": round(duration_ms, 2),
                               "last_status": "failed" if error else "succeeded",
                               "last_result": result if error is None else None, "last_error": error})


_deferred = threading.local()


def count_with_outcome(key: str, field: str, amount: int | float = 1) -> None:
    """Add to a counter hash in the same Redis round trip as the current message's outcome (the
    `Outcomes` middleware flushes it), instead of one more round trip per message."""
    pending = getattr(_deferred, "counts", None)
    if pending is None:
        pending = _deferred.counts = []
    pending.append((key, field, amount))


def discard_deferred_counts() -> None:
    _deferred.counts = []


def record_message_outcome(client: redis.Redis, actor: str, outcome: str, seconds: float) -> None:
    """Count a processed message per actor and outcome, for every process to report (Prometheus),
    with the counts the message deferred (`count_with_outcome`)."""
    pipe = client.pipeline(transaction=False)
    pipe.hincrby(MESSAGE_COUNTS_KEY, f"{actor}|{outcome}", 1)
    pipe.hincrbyfloat(MESSAGE_SECONDS_KEY, actor, seconds)
    pending, _deferred.counts = getattr(_deferred, "counts", None) or [], []
    for key, field, amount in pending:
        if isinstance(amount, int):
            pipe.hincrby(key, field, amount)
        else:
            pipe.hincrbyfloat(key, field, amount)
    pipe.execute()


def message_outcomes(client: redis.Redis) -> tuple[dict[tuple[str, str], int], dict[str, float]]:
    counts = cast(dict[str, str], client.hgetall(MESSAGE_COUNTS_KEY))
    seconds = cast(dict[str, str], client.hgetall(MESSAGE_SECONDS_KEY))
    by_outcome: dict[tuple[str, str], int] = {}
    for key, value in counts.items():
        actor, _, outcome = key.partition("|")
        by_outcome[(actor, outcome)] = int(value)
    return by_outcome, {actor: float(value) for actor, value in seconds.items()}


def set_job_next_run(client: redis.Redis, name: str, next_run: float) -> None:
    _set_fields(client, name, {"next_run_at": next_run})


def job_states(client: redis.Redis, names: list[str]) -> dict[str, dict[str, Any]]:
    pipe = client.pipeline(transaction=False)
    for name in names:
        pipe.hgetall(_job_key(name))
    return {name: {k: json.loads(v) for k, v in raw.items()} for name, raw in zip(names, pipe.execute(), strict=True)}


PROCESS_KINDS = ("api", "worker", "scheduler")


def _beats_key(kind: str) -> str:
    return f"conveyor:{kind}s"  # conveyor:workers, conveyor:apis, conveyor:schedulers


def record_beat(client: redis.Redis, kind: str, info: dict[str, Any]) -> None:
    """A process of `kind` (api, worker, scheduler) says it is alive, with what it runs and its figures."""
    client.hset(_beats_key(kind), info["id"], json.dumps({**info, "kind": kind, "seen_at": time.time()}))


def record_worker_beat(client: redis.Redis, info: dict[str, Any]) -> None:
    record_beat(client, "worker", info)


def forget(client: redis.Redis, kind: str, process_id: str) -> None:
    client.hdel(_beats_key(kind), process_id)


def forget_worker(client: redis.Redis, worker_id: str) -> None:
    forget(client, "worker", worker_id)


def live_workers(client: redis.Redis, window: float = WORKER_SEEN_WINDOW) -> list[dict[str, Any]]:
    """Workers seen within `window` seconds; older entries are pruned as they are found."""
    return live(client, "worker", window)


def live_processes(client: redis.Redis, window: float = WORKER_SEEN_WINDOW) -> list[dict[str, Any]]:
    """Every API, worker and scheduler process seen within `window` seconds."""
    return [info for kind in PROCESS_KINDS for info in live(client, kind, window)]


def live(client: redis.Redis, kind: str, window: float = WORKER_SEEN_WINDOW) -> list[dict[str, Any]]:
    """Processes of `kind` seen within `window` seconds; older entries are pruned as they are found."""
    now = time.time()
    alive: list[dict[str, Any]] = []
    stale: list[str] = []
    beats = cast(dict[str, str], client.hgetall(_beats_key(kind)))
    for worker_id, raw in beats.items():
        info = json.loads(raw)
        if now - info["seen_at"] <= window:
            alive.append(info)
        else:
            stale.append(worker_id)
    if stale:
        client.hdel(_beats_key(kind), *stale)
    return sorted(alive, key=lambda w: w["id"])


def record_scheduler_tick(client: redis.Redis, holder: str) -> None:
    client.set(SCHEDULER_TICK_KEY, json.dumps({"at": time.time(), "leader": holder}))


def scheduler_tick(client: redis.Redis) -> dict[str, Any] | None:
    raw = cast(str | None, client.get(SCHEDULER_TICK_KEY))
    return json.loads(raw) if raw else None


def queue_depths(client: redis.Redis, queue_names: set[str], namespace: str = "dramatiq") -> dict[str, dict[str, int]]:
    """Ready, delayed and dead-lettered message counts per queue, as Dramatiq's Redis broker keeps them."""
    pipe = client.pipeline(transaction=False)
    names = sorted(queue_names)
    for name in names:
        pipe.llen(f"{namespace}:{name}")
        pipe.llen(f"{namespace}:{name}.DQ")
        pipe.zcard(f"{namespace}:{name}.XQ")
    counts = pipe.execute()
    return {name: {"ready": counts[i * 3], "delayed": counts[i * 3 + 1], "dead": counts[i * 3 + 2]}
            for i, name in enumerate(names)}


EXTERNAL_KEY = "conveyor:external"
EXTERNAL_SERVICES = ("github", "gitlab", "kubernetes")


def record_external_call(client: redis.Redis, service: str, status: str, response_time_ms: float) -> None:
    """How the last poll of an outside service (GitHub, GitLab, a Kubernetes API) went, and how long it took."""
    _set_fields_of(client, f"{EXTERNAL_KEY}:{service}",
                   {"status": status, "response_time_ms": round(response_time_ms, 1), "at": time.time()})


def external_services(client: redis.Redis) -> dict[str, dict[str, Any]]:
    """Each outside service's last poll: `status` up, down, rate_limited, or unknown (never polled here)."""
    pipe = client.pipeline(transaction=False)
    for service in EXTERNAL_SERVICES:
        pipe.hgetall(f"{EXTERNAL_KEY}:{service}")
    seen = {service: {k: json.loads(v) for k, v in raw.items()}
            for service, raw in zip(EXTERNAL_SERVICES, pipe.execute(), strict=True)}
    return {service: {"status": last["status"], "response_time_ms": last["response_time_ms"],
                      "checked_at": last["at"]} if last else {"status": "unknown", "response_time_ms": None,
                                                                "checked_at": None}
            for service, last in seen.items()}
