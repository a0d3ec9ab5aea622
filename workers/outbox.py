"""Send work through the outbox: write the row in the caller's transaction, send after commit."""
from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import dramatiq
import redis

from models.db import utc_naive
from models.outbox import OutboxMessage
from workers.middleware import OUTBOX_OPTION

log = logging.getLogger(__name__)
# How long a sent message is believed in flight before the sweeper sends it again.
SEND_LEASE = timedelta(minutes=2)


def add(actor_name: str, *args: Any, max_attempts: int = 5, delay: timedelta | None = None) -> OutboxMessage:
    """Write an outbox row; call inside the transaction that writes the work it belongs to."""
    dramatiq.get_broker().get_actor(actor_name)  # fail fast on a name no actor answers to
    return OutboxMessage.create(actor_name=actor_name, args=list(args), max_attempts=max_attempts,
                                available_at=utc_naive() + (delay or timedelta(0)))


def send(message: OutboxMessage) -> bool:
    """Send a committed row now if it is due and unleased. Raises when the broker is unreachable."""
    if not OutboxMessage.claim(message.id, SEND_LEASE):
        return False
    actor = dramatiq.get_broker().get_actor(message.actor_name)
    options: dict[str, Any] = {OUTBOX_OPTION: message.id}
    try:
        actor.send_with_options(args=tuple(message.args), **options)
    except (redis.RedisError, dramatiq.errors.BrokerConnectionError):
        OutboxMessage.release(message.id)  # nothing in flight: due again at the next sweep
        raise
    return True


def sweep(limit: int = 500) -> dict[str, int]:
    """Re-send every due row with no message in flight; a broker outage stops the pass, not the rows."""
    sent = skipped = 0
    for message in OutboxMessage.due(utc_naive(), limit):
        try:
            if send(message):
                sent += 1
            else:
                skipped += 1
        except (redis.RedisError, dramatiq.errors.BrokerConnectionError):
            log.warning("broker unreachable during outbox sweep; rows stay due", exc_info=True)
            break
    return {"sent": sent, "skipped": skipped}
