"""Send work through an outbox: write the row in the caller's transaction, send its message after commit.

Two tables are outboxes: `OutboxMessage` (any actor, by name: builds, analyses) and `Delivery` (one webhook
delivery each, see `domain.webhooks.dispatch`). Both take the same lease (`models.lease`) to send, and the
sweeper (`sweep_outbox`) sends every due row of either whose message was lost. Actors that use an outbox
must be idempotent.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any, Protocol

import dramatiq
import redis

from models.db import utc_naive
from models.lease import Leased
from models.outbox import OutboxMessage

log = logging.getLogger(__name__)
# How long a sent message is believed in flight before the sweeper sends it again.
SEND_LEASE = timedelta(minutes=2)
BROKER_ERRORS = (redis.RedisError, dramatiq.errors.BrokerConnectionError)
# The message option that names the row a message came from (`workers.middleware.OutboxTracking` settles it).
OUTBOX_OPTION = "outbox_id"


class Sender(Protocol):
    """An actor, as the domain sees one: something to send a message to (the domain imports no actor)."""

    actor_name: str

    def send_with_options(self, *, args: tuple[Any, ...] = ..., kwargs: dict[str, Any] | None = ...,
                          delay: int | None = ..., **options: Any) -> Any: ...


def send_leased(model: type[Leased], row_id: Any, send: Callable[[], object], lease: timedelta = SEND_LEASE) -> bool:
    """Take the row's lease and send its message; False if another sender has it or it is not due. A broker
    error gives the lease back (nothing is in flight: due again at the next sweep) and is raised."""
    if not model.claim(row_id, lease):
        return False
    try:
        send()
    except BROKER_ERRORS:
        model.release(row_id)
        raise
    return True


def send_each(row_ids: Iterable[Any], send_one: Callable[[Any], bool], what: str) -> int:
    """Send each row in turn; a broker outage stops the pass, and the rest stay due for the sweeper."""
    sent = 0
    for row_id in row_ids:
        try:
            sent += send_one(row_id)
        except BROKER_ERRORS:
            log.warning("broker unreachable; %s stay due for the sweeper", what, exc_info=True)
            break
    return sent


def retry_delay(attempts: int) -> timedelta:
    """Backoff for outbox retries: 2, 4, 8 ... seconds, at most ten minutes."""
    return timedelta(seconds=min(2 ** (attempts + 1), 600))


def add(actor: Sender, *args: Any, max_attempts: int = 5, delay: timedelta | None = None) -> OutboxMessage:
    """Write an outbox row for `actor`; call inside the transaction that writes the work it belongs to."""
    return OutboxMessage.create(actor_name=actor.actor_name, args=list(args), max_attempts=max_attempts,
                                available_at=utc_naive() + (delay or timedelta(0)))


def send(message: OutboxMessage, actor: Sender) -> bool:
    """Send a committed row now if it is due and unleased. Raises when the broker is unreachable."""
    options: dict[str, Any] = {OUTBOX_OPTION: message.id}
    return send_leased(OutboxMessage, message.id, lambda: actor.send_with_options(args=tuple(message.args),
                                                                                  **options))


def sweep(broker: dramatiq.Broker, limit: int = 500) -> dict[str, int]:
    """Re-send every due row with no message in flight, to the actor its row names."""
    due = OutboxMessage.due_ids(utc_naive(), limit)
    rows = {row.id: row for row in OutboxMessage.select().where(OutboxMessage.id << due)} if due else {}
    sent = send_each(due, lambda row_id: send(rows[row_id], broker.get_actor(rows[row_id].actor_name)),
                     "outbox messages")
    return {"sent": sent, "skipped": len(due) - sent}
