"""CI sources (a GitHub or GitLab repository Conveyor polls) and the pipeline runs read from them.

A pipeline's `status` is normalised to pending | running | success | failed | cancelled; the transition
from one to another is what emits `pipeline.*` and `deployment.*` events, once each.
"""
from __future__ import annotations

import peewee

from models.db import BaseModel, JSONField, utc_naive
from models.user import User

PROVIDERS = ("github", "gitlab")
PIPELINE_STATUSES = ("pending", "running", "success", "failed", "cancelled")
FINISHED = ("success", "failed", "cancelled")
DEFAULT_API_URLS = {"github": "https://api.github.com", "gitlab": "https://gitlab.com"}


class CISource(BaseModel):
    owner_id: int
    id = peewee.AutoField()
    owner = peewee.ForeignKeyField(User, backref="ci_sources", on_delete="CASCADE")
    provider = peewee.CharField(max_length=16)
    repository = peewee.CharField(max_length=255)
    api_url = peewee.CharField(max_length=2048)
    token = peewee.TextField()  # never returned after creation
    deploy_workflow = peewee.CharField(max_length=255, null=True)
    poll_interval_seconds = peewee.IntegerField(default=60)
    status = peewee.CharField(max_length=16, default="unknown")  # unknown | ok | rate_limited | error
    last_error = peewee.TextField(null=True)
    etag = peewee.CharField(max_length=255, null=True)
    rate_limited_until = peewee.DateTimeField(null=True)
    baselined = peewee.BooleanField(default=False)  # the first poll records history without events
    listed_at = peewee.DateTimeField(null=True)  # the last poll that read the list (not a 304)
    last_polled_at = peewee.DateTimeField(null=True)
    next_poll_at = peewee.DateTimeField(default=utc_naive, index=True)
    created_at = peewee.DateTimeField(default=utc_naive)
    updated_at = peewee.DateTimeField(default=utc_naive)

    class Meta:
        indexes = ((("owner", "provider", "repository"), True),)


class Pipeline(BaseModel):
    id = peewee.AutoField()
    source = peewee.ForeignKeyField(CISource, backref="pipelines", on_delete="CASCADE")
    external_id = peewee.CharField(max_length=64)
    repository = peewee.CharField(max_length=255, index=True)
    branch = peewee.CharField(max_length=255, null=True)
    workflow = peewee.CharField(max_length=255, null=True)
    workflow_path = peewee.CharField(max_length=512, null=True)  # GitHub's workflow file
    is_deploy = peewee.BooleanField(default=False)
    status = peewee.CharField(max_length=16)
    provider_status = peewee.CharField(max_length=64)
    duration = peewee.IntegerField(null=True)  # seconds
    started_at = peewee.DateTimeField(null=True)
    finished_at = peewee.DateTimeField(null=True)
    commit_sha = peewee.CharField(max_length=64, null=True)
    commit_message = peewee.TextField(null=True)
    commit_author = peewee.CharField(max_length=255, null=True)
    commit_timestamp = peewee.DateTimeField(null=True)
    stages = JSONField(default=list)
    url = peewee.CharField(max_length=2048, null=True)
    seen_at = peewee.DateTimeField(null=True)  # the last poll whose list had this run
    created_at = peewee.DateTimeField(default=utc_naive, index=True)
    updated_at = peewee.DateTimeField(default=utc_naive)

    class Meta:
        # commit_sha: a pull request's CI runs are those on its head commit (domain.engineering.links);
        # source, is_deploy, finished_at: the deploys around a failed one (domain.dora.restore_hours)
        indexes = ((("source", "external_id"), True), (("is_deploy", "finished_at"), False),
                   (("commit_sha",), False), (("source", "is_deploy", "finished_at"), False))
