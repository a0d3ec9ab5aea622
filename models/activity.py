"""What developers did in a repository: commits, pull (merge) requests and their reviews, one row each however
often a poll or a hook brings them (unique per repository and sha / number / review id), and the hook
deliveries received (one row per delivery id: a replay stores nothing twice)."""
from __future__ import annotations

import peewee

from models.db import BaseModel, JSONField, utc_naive
from models.developer import Developer, DeveloperIdentity
from models.repository import Repository

PULL_STATES = ("open", "closed", "merged")
HOOK_STATUSES = ("pending", "done", "failed")


class Commit(BaseModel):
    repository_id: int
    id = peewee.AutoField()
    repository = peewee.ForeignKeyField(Repository, backref="commits", on_delete="CASCADE", index=False)
    sha = peewee.CharField(max_length=64)
    # No index: only deleting an identity would use one, and that happens with its organization, whose
    # repositories (and commits) go first. Each index costs every ingested commit a write.
    identity = peewee.ForeignKeyField(DeveloperIdentity, null=True, on_delete="SET NULL", index=False)
    developer = peewee.ForeignKeyField(Developer, null=True, backref="commits", on_delete="SET NULL", index=False)
    author_name = peewee.CharField(max_length=255, null=True)
    author_email = peewee.CharField(max_length=254, null=True)
    authored_at = peewee.DateTimeField(null=True)
    committed_at = peewee.DateTimeField(null=True)
    additions = peewee.IntegerField(null=True)  # null until a source that knows them (not a push hook) tells
    deletions = peewee.IntegerField(null=True)
    message = peewee.CharField(max_length=1024, null=True)  # the first line
    created_at = peewee.DateTimeField(default=utc_naive)

    class Meta:
        indexes = ((("repository", "sha"), True), (("developer", "authored_at"), False),
                   (("repository", "authored_at"), False))


class PullRequest(BaseModel):
    repository_id: int
    id = peewee.AutoField()
    repository = peewee.ForeignKeyField(Repository, backref="pull_requests", on_delete="CASCADE", index=False)
    number = peewee.IntegerField()
    title = peewee.CharField(max_length=1024)
    identity = peewee.ForeignKeyField(DeveloperIdentity, null=True, on_delete="SET NULL")
    developer = peewee.ForeignKeyField(Developer, null=True, backref="pull_requests", on_delete="SET NULL", index=False)
    state = peewee.CharField(max_length=16)
    opened_at = peewee.DateTimeField(null=True)
    merged_at = peewee.DateTimeField(null=True)
    closed_at = peewee.DateTimeField(null=True)
    first_commit_at = peewee.DateTimeField(null=True)
    additions = peewee.IntegerField(null=True)
    deletions = peewee.IntegerField(null=True)
    base_ref = peewee.CharField(max_length=255, null=True)
    head_ref = peewee.CharField(max_length=255, null=True)
    merge_commit_sha = peewee.CharField(max_length=64, null=True)
    head_sha = peewee.CharField(max_length=64, null=True)
    url = peewee.CharField(max_length=2048, null=True)
    provider_updated_at = peewee.DateTimeField(null=True)  # a stale copy never overwrites a newer one
    created_at = peewee.DateTimeField(default=utc_naive)
    # when it, its reviews or its people last changed here: the cycle rollup measures it again
    changed_at = peewee.DateTimeField(default=utc_naive, index=True)

    class Meta:
        indexes = ((("repository", "number"), True), (("developer", "opened_at"), False))


class Review(BaseModel):
    id = peewee.AutoField()
    pull_request = peewee.ForeignKeyField(PullRequest, backref="reviews", on_delete="CASCADE", index=False)
    external_id = peewee.CharField(max_length=64)
    identity = peewee.ForeignKeyField(DeveloperIdentity, null=True, on_delete="SET NULL")
    developer = peewee.ForeignKeyField(Developer, null=True, backref="reviews", on_delete="SET NULL", index=False)
    state = peewee.CharField(max_length=32)  # approved | changes_requested | commented | dismissed
    submitted_at = peewee.DateTimeField(null=True)
    created_at = peewee.DateTimeField(default=utc_naive)

    class Meta:
        indexes = ((("pull_request", "external_id"), True), (("developer", "submitted_at"), False))


class Milestone(BaseModel):
    id = peewee.AutoField()
    repository = peewee.ForeignKeyField(Repository, backref="milestones", on_delete="CASCADE", index=False)
    external_id = peewee.CharField(max_length=64)
    title = peewee.CharField(max_length=255, null=True)  # null until a poll says (a GitLab hook names only its id)
    state = peewee.CharField(max_length=16, null=True)
    due_on = peewee.DateTimeField(null=True)
    starts_on = peewee.DateTimeField(null=True)  # GitLab's start date; GitHub's milestones have none
    opened_at = peewee.DateTimeField(null=True)  # when it was created at the provider

    class Meta:
        indexes = ((("repository", "external_id"), True),)


class Issue(BaseModel):
    repository_id: int
    id = peewee.AutoField()
    repository = peewee.ForeignKeyField(Repository, backref="issues", on_delete="CASCADE", index=False)
    number = peewee.IntegerField()
    title = peewee.CharField(max_length=1024)
    identity = peewee.ForeignKeyField(DeveloperIdentity, null=True, on_delete="SET NULL")
    developer = peewee.ForeignKeyField(Developer, null=True, backref="issues", on_delete="SET NULL")
    state = peewee.CharField(max_length=16)
    opened_at = peewee.DateTimeField(null=True)
    closed_at = peewee.DateTimeField(null=True)
    milestone = peewee.ForeignKeyField(Milestone, null=True, backref="issues", on_delete="SET NULL", index=False)
    points = peewee.IntegerField(null=True)
    labels = JSONField(default=list)
    provider_updated_at = peewee.DateTimeField(null=True)
    created_at = peewee.DateTimeField(default=utc_naive)

    class Meta:
        indexes = ((("repository", "number"), True), (("milestone", "closed_at"), False))


class HookDelivery(BaseModel):
    repository_id: int
    id = peewee.AutoField()
    repository = peewee.ForeignKeyField(Repository, backref="hook_deliveries", on_delete="CASCADE", index=False)
    delivery_id = peewee.CharField(max_length=128)  # X-GitHub-Delivery / X-Gitlab-Event-UUID
    event = peewee.CharField(max_length=64)
    payload = JSONField()
    status = peewee.CharField(max_length=16, default="pending")
    error = peewee.TextField(null=True)
    outcome = JSONField(null=True)
    received_at = peewee.DateTimeField(default=utc_naive)
    processed_at = peewee.DateTimeField(null=True)

    class Meta:
        indexes = ((("repository", "delivery_id"), True),)
