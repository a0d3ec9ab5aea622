"""Recording the audit log (seed 002): one function, `record`, called by each audited action inside the database
transaction of the change it records, so that a change rolled back leaves no entry and a change committed
cannot lack one.

Never a secret in it: `details` takes only the keys of DETAIL_KEYS, each a short plain value, and refuses a
value shaped like one of Conveyor's secrets (a webhook secret, an API key, a JWT). A key or value it refuses is
a programming error (ValueError), found by the tests, not something to scrub silently.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from models.audit import AuditEntry
from models.db import db

ACTION = re.compile(r"^[a-z][a-z_]*(\.[a-z][a-z_]*)+$")
# What an entry's details may say. Add a key here (never a password, token, secret or hash) to record it.
DETAIL_KEYS = frozenset({
    "username", "role", "from_role", "to_role", "enabled", "message", "name", "provider", "login", "scopes",
    "prefix", "expires_at", "reason",
})
# Values shaped like a secret: a webhook secret, an API key (its 12-character visible prefix, `cvk_` and 8, is
# what an entry names a key by), a JWT (three base64url parts, the first `{"`).
SECRET_SHAPES = re.compile(r"whsec_|cvk_[0-9A-Za-z]{9,}|eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.")
MAX_TEXT = 500
LABEL_CHARS, AGENT_CHARS, TARGET_CHARS = 64, 256, 64


@dataclass(frozen=True)
class Origin:
    """Where a request came from: the client's address (as the API sees it behind its proxy settings) and its
    user agent. `Origin()` for what no request caused (the command line, a job)."""

    remote_addr: str | None = None
    user_agent: str | None = None


def record(action: str, *, actor_id: int | None = None, actor_label: str | None = None,
           target: tuple[str, object] | None = None, origin: Origin | None = None,
           details: Mapping[str, Any] | None = None) -> AuditEntry:
    """Add one entry. Call it inside the transaction of the change it records (`with db.atomic(): ...`): it
    writes in a savepoint of that transaction, or in a transaction of its own when there is none (a failed
    login changes nothing to share one with). `target` is `(type, id)`, e.g. `("user", 7)`."""
    if not ACTION.fullmatch(action) or len(action) > 64:
        raise ValueError(f"an audit action is a dotted lower-case name such as 'user.create', got {action!r}")
    origin = origin or Origin()
    target_type, target_id = target if target is not None else (None, None)
    with db.atomic():
        return AuditEntry.create(
            action=action, actor_id=actor_id, actor_label=_cut(actor_label, LABEL_CHARS),
            target_type=target_type, target_id=_cut(None if target_id is None else str(target_id), TARGET_CHARS),
            remote_addr=_cut(origin.remote_addr, 64), user_agent=_cut(origin.user_agent, AGENT_CHARS),
            details=checked_details(details or {}))


def checked_details(details: Mapping[str, Any]) -> dict[str, Any]:
    """`details` as stored: only DETAIL_KEYS, each None, a bool, a number, short text or a list of those; a
    ValueError for anything else, and for text shaped like a secret."""
    unknown = set(details) - DETAIL_KEYS
    if unknown:
        raise ValueError(f"audit details may not hold {sorted(unknown)} (allowed: {sorted(DETAIL_KEYS)})")
    return {key: _plain(key, value) for key, value in details.items()}


def _plain(key: str, value: Any) -> Any:
    if isinstance(value, list | tuple):
        return [_plain(key, item) for item in value]
    if isinstance(value, datetime):
        value = value.isoformat()
    if value is None or isinstance(value, bool | int | float):
        return value
    if not isinstance(value, str):
        raise ValueError(f"audit detail {key!r} must be plain text, a number or a flag, got {type(value).__name__}")
    if SECRET_SHAPES.search(value):
        raise ValueError(f"audit detail {key!r} looks like a secret; it is never recorded")
    return value[:MAX_TEXT]


def _cut(text: str | None, limit: int) -> str | None:
    return None if text is None else text[:limit]


def prune(before: datetime) -> int:
    """Delete the entries older than `before` (AUDIT_RETENTION_DAYS); how many went."""
    with db.atomic():
        return AuditEntry.prune(before)
