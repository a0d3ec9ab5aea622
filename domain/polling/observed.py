"""Each poll of an outside service is timed and its outcome kept (`domain.telemetry.external_services`), for
`/health/deep`'s `external_services`: is GitHub, GitLab or a Kubernetes API answering, and how fast."""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import redis

from domain import telemetry

log = logging.getLogger(__name__)
# A poll's own status -> the service's; a poll that asked nothing (skipped, deleted meanwhile) says nothing.
SERVICE_STATUS = {"healthy": "up", "ok": "up", "unhealthy": "down", "error": "down", "rate_limited": "rate_limited"}


def observed(client: redis.Redis, service: str, poll: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    started = time.monotonic()
    result = poll()
    status = SERVICE_STATUS.get(str(result.get("status")))
    if status is not None:
        try:
            telemetry.record_external_call(client, service, status, (time.monotonic() - started) * 1000)
        except redis.RedisError:  # the poll's own outcome is on its row; this figure can wait for the next one
            log.warning("could not record an external service's poll", extra={"service": service})
    return result
