"""The `celery` system of `bench/throughput.py`: a Celery app on the benchmark's Redis (its own db number,
`BENCH_CELERY_BROKER_URL`) and a no-op task, results disabled. The worker:
`celery -A bench.noop_celery worker --pool threads --concurrency 8 -Q bench ...`."""
from __future__ import annotations

import os

from celery import Celery

from bench.noop_count import incr

QUEUE = "bench"
BROKER_ENV = "BENCH_CELERY_BROKER_URL"

app = Celery("bench_noop", broker=os.environ.get(BROKER_ENV, "redis://127.0.0.1:6379/1"))
app.conf.update(task_default_queue=QUEUE, task_ignore_result=True, result_backend=None,
                broker_connection_retry_on_startup=True, worker_hijack_root_logger=False)


@app.task(name="bench.noop", ignore_result=True)
def noop() -> None:
    incr()
