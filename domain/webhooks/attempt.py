"""One delivery attempt (the `deliver_webhook` actor's work): one signed HTTP request, and what follows from it.

2xx succeeds. 410 Gone disables the endpoint. Anything else is retried after the endpoint's backoff,
scheduled as a delayed message (and as the row's due time, for the sweeper), never by sleeping here.
After max_retries the delivery is dead. An endpoint failing every attempt for WEBHOOK_DISABLE_AFTER_SECONDS
is disabled. Over its hourly rate limit a delivery waits; it is not dropped. A failing endpoint gets one attempt
at a time per worker process; its other due deliveries wait for that attempt's timeout, holding no thread.
"""
from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

from core.runtime import Runtime
from domain import platform_metrics
from domain.outbox import BROKER_ERRORS, SEND_LEASE
from domain.webhooks import dispatch, policy, stats, transport
from domain.webhooks.signing import signature_headers
from models.db import db, utc_naive
from models.delivery import Delivery, DeliveryAttempt
from models.webhook import WebhookEndpoint

log = logging.getLogger(__name__)
GONE = 410
# `last_used_at` moves in steps this long: a busy endpoint's row is not rewritten on every delivery.
LAST_USED_STEP = timedelta(seconds=1)
RATE_LIMITED = "waiting for the endpoint's hourly rate limit"
BUSY = "waiting: the endpoint is failing and an attempt to it is in progress"


def deliver(rt: Runtime, delivery_id: str) -> None:
    """Attempt one delivery; a duplicate message, or one for a row not yet due, does nothing."""
    delivery = Delivery.with_endpoint_and_event(delivery_id)
    if delivery is None:  # its endpoint was deleted
        return
    hold = timedelta(seconds=delivery.endpoint.timeout_seconds + rt.settings.webhook_attempt_grace)
    if not Delivery.begin_attempt(delivery_id, hold):
        return
    # Read again now that this attempt holds the row: another message's attempt may have ended in between.
    delivery = Delivery.with_endpoint_and_event(delivery_id)
    if delivery is None:
        return
    endpoint = delivery.endpoint
    if not endpoint.is_active:
        _end(delivery, "dead", "the endpoint is disabled")
        return
    with policy.attempt_slot(endpoint) as allowed:
        if not allowed:  # an attempt to this failing endpoint is in progress: try again once it has timed out
            _defer(rt, delivery, policy.busy_wait(endpoint), BUSY, "deferred")
            return
        try:
            wait = policy.rate_limit_wait(rt.redis_url, endpoint)
        except BROKER_ERRORS:  # Redis is away: not held for the attempt's timeout, due for the next sweep
            _leave_to_sweeper(delivery, "Redis unavailable; sent again by the sweeper")
            return
        if wait:
            _defer(rt, delivery, wait, RATE_LIMITED, "rate_limited")
            return
        outcome = _attempt(delivery, endpoint, rt.settings.webhook_allow_private)
        retry_in = _conclude(delivery, endpoint, outcome, rt.settings.webhook_disable_after)
    label = _label(outcome, retry_in)
    stats.record(label, outcome.duration_ms / 1000)
    platform_metrics.record("conveyor.webhook.attempt_ms", outcome.duration_ms, "ms", outcome=label,
                            endpoint=endpoint.id)
    if outcome.ok:
        waited = (utc_naive() - delivery.created_at).total_seconds() * 1000
        platform_metrics.record("conveyor.webhook.delivery_latency_ms", waited, "ms", endpoint=endpoint.id)
    if retry_in is not None:
        _schedule(rt, delivery_id, retry_in)


def _attempt(delivery: Delivery, endpoint: WebhookEndpoint, allow_private: bool) -> transport.Outcome:
    content = policy.body(delivery.event)
    headers = {"Content-Type": "application/json", "User-Agent": "Conveyor-Webhooks/1",
               **signature_headers(endpoint.secret, delivery.id, int(time.time()), content)}
    return transport.post(endpoint.url, content, headers, timeout=endpoint.timeout_seconds,
                          verify=endpoint.ssl_verify, allow_private=allow_private)


def _conclude(delivery: Delivery, endpoint: WebhookEndpoint, outcome: transport.Outcome,
              disable_after: int) -> timedelta | None:
    """Record the attempt and move the row on; returns the wait before a retry, if there is one."""
    now = utc_naive()
    n, round_n = delivery.attempt_count + 1, delivery.round_attempts + 1
    retry_in: timedelta | None = None
    with db.atomic():
        DeliveryAttempt.insert(delivery=delivery.id, n=n, at=now, status_code=outcome.status_code,
                               duration_ms=outcome.duration_ms, error=outcome.error,
                               response_excerpt=outcome.response_excerpt).execute()
        counts = {"attempt_count": n, "round_attempts": round_n, "updated_at": now}
        if outcome.ok:
            _update(delivery, status="succeeded", delivered_at=now, last_error=None, **counts)
            if endpoint.failing_since or not endpoint.last_used_at or now - endpoint.last_used_at > LAST_USED_STEP:
                _update_endpoint(endpoint, last_used_at=now, failing_since=None)
            return None
        error = outcome.error or f"HTTP {outcome.status_code}"
        failing_since = endpoint.failing_since or now
        disable = outcome.status_code == GONE or (now - failing_since).total_seconds() >= disable_after
        _update_endpoint(endpoint, failing_since=failing_since,
                         **({"is_active": False, "updated_at": now} if disable else {}))
        if disable or round_n > endpoint.max_retries:
            _update(delivery, status="dead", last_error=error, **counts)
            WebhookEndpoint.update(failure_count=WebhookEndpoint.failure_count + 1).where(
                WebhookEndpoint.id == endpoint.id).execute()
        else:
            retry_in = timedelta(seconds=policy.backoff_seconds(endpoint, round_n))
            _update(delivery, status="failed", last_error=error, next_attempt_at=now + retry_in,
                    lease_until=now + retry_in + SEND_LEASE, **counts)
    if disable:
        log.warning("webhook endpoint disabled", extra={"webhook_id": endpoint.id, "reason": error})
    return retry_in


def _label(outcome: transport.Outcome, retry_in: timedelta | None) -> str:
    if outcome.ok:
        return "succeeded"
    if outcome.status_code == GONE:
        return "gone"
    return "failed" if retry_in is not None else "dead"


def _update(delivery: Delivery, **fields: Any) -> None:
    """Move a row this attempt holds (still `delivering`): a redelivery meanwhile is not overwritten."""
    Delivery.update(**fields).where((Delivery.id == delivery.id) & (Delivery.status == "delivering")).execute()


def _update_endpoint(endpoint: WebhookEndpoint, **fields: Any) -> None:
    if fields:
        WebhookEndpoint.update(**fields).where(WebhookEndpoint.id == endpoint.id).execute()


def _end(delivery: Delivery, status: str, error: str) -> None:
    _update(delivery, status=status, last_error=error, updated_at=utc_naive(), lease_until=None)
    stats.record(status)


def _defer(rt: Runtime, delivery: Delivery, wait: float, reason: str, outcome: str) -> None:
    until = utc_naive() + timedelta(seconds=wait)
    Delivery.defer(delivery.id, until, SEND_LEASE, reason)
    stats.record(outcome)
    _schedule(rt, delivery.id, timedelta(seconds=wait))


def _leave_to_sweeper(delivery: Delivery, why: str) -> None:
    """No attempt, and no message can be scheduled: the row is due again at once, for the next sweep."""
    Delivery.defer(delivery.id, utc_naive(), timedelta(0), why)
    log.warning("webhook delivery left to the sweeper", extra={"delivery_id": delivery.id, "reason": why})


def _schedule(rt: Runtime, delivery_id: str, delay: timedelta) -> None:
    try:
        dispatch.schedule(rt.broker, delivery_id, delay)
    except BROKER_ERRORS:
        Delivery.release(delivery_id)  # no message in flight: the sweeper sends one once it is due
        log.warning("could not schedule a webhook retry; the sweeper will", extra={"delivery_id": delivery_id})

