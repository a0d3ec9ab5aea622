"""Ended sessions (logout), kept in the database next to the users they belong to.

A row denies a session id (`sid`, shared by an access token and the refresh token issued with it) until the
refresh token would have expired anyway; rows past that are purged as new ones are written. Living in the
database, a logout survives a Redis restart, and the check joins the user lookup every authenticated request
already makes (`User.for_session`) instead of costing a round trip of its own.
"""
from __future__ import annotations

from datetime import timedelta

import peewee

from models.db import BaseModel, utc_naive


class RevokedSession(BaseModel):
    sid = peewee.CharField(max_length=64, primary_key=True)
    expires_at = peewee.DateTimeField(index=True)


def revoke(sid: str, seconds: int) -> None:
    """Deny `sid` for `seconds`; idempotent. Purges the rows whose time has passed."""
    now = utc_naive()
    RevokedSession.delete().where(RevokedSession.expires_at < now).execute()
    (RevokedSession.insert(sid=sid, expires_at=now + timedelta(seconds=seconds))
     .on_conflict(conflict_target=[RevokedSession.sid], preserve=[RevokedSession.expires_at]).execute())
