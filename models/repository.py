"""Repositories an organization registers: where their activity comes from (polled, and pushed to
`/hooks/github` or `/hooks/gitlab`), with the token that reads them and the secret that signs their hooks,
both encrypted at rest and never returned (the hook secret is shown once, when the repository is registered)."""
from __future__ import annotations

import peewee

from models.db import BaseModel, JSONField, utc_naive
from models.organization import Organization, Team
from models.secret import EncryptedField

REPOSITORY_STATUSES = ("unknown", "ok", "rate_limited", "error")


class Repository(BaseModel):
    organization_id: int
    team_id: int | None
    id = peewee.AutoField()
    organization = peewee.ForeignKeyField(Organization, backref="repositories", on_delete="CASCADE")
    team = peewee.ForeignKeyField(Team, null=True, backref="repositories", on_delete="SET NULL")
    name = peewee.CharField(max_length=255)
    url = peewee.CharField(max_length=2048, unique=True)
    full_name = peewee.CharField(max_length=512)  # owner/repo on GitHub, group/project on GitLab
    language = peewee.CharField(max_length=64, null=True)
    provider = peewee.CharField(max_length=16)
    api_url = peewee.CharField(max_length=2048)
    token = EncryptedField(null=True)
    hook_secret = EncryptedField()
    status = peewee.CharField(max_length=16, default="unknown")
    last_error = peewee.TextField(null=True)
    poll_interval_seconds = peewee.IntegerField(default=300)
    backfill_days = peewee.IntegerField(default=90)
    next_poll_at = peewee.DateTimeField(default=utc_naive, index=True)
    last_polled_at = peewee.DateTimeField(null=True)
    rate_limited_until = peewee.DateTimeField(null=True)
    last_event_at = peewee.DateTimeField(null=True)  # the newest activity a hook or a poll brought
    # Where the next poll starts: the start of the last complete one, less an overlap; None until the first
    # complete poll, which reaches back `backfill_days`.
    poll_cursor = peewee.DateTimeField(null=True)
    backfilled_at = peewee.DateTimeField(null=True)
    last_poll = JSONField(null=True)  # what the last poll read: pages, commits, pull requests, reviews, requests
    # The backfill's progress (domain/engineering/backfill.py): status, attempt, progress, part, since,
    # started_at, finished_at, error, and what it stored; None until the first poll.
    backfill = JSONField(null=True)
    created_at = peewee.DateTimeField(default=utc_naive)
    updated_at = peewee.DateTimeField(default=utc_naive)
