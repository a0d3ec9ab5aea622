"""Pull requests' cycles as the scheduler's rollup measured them (`domain.engineering.rollup`): one row per pull
request, so cycle time and the pull request metrics answer from these rows, not from reviews, pipelines and
commits joined at request time. `CycleWatermark` is when the last rollup started: pull requests changed since
are measured again."""
from __future__ import annotations

import peewee

from models.activity import PullRequest
from models.db import BaseModel, utc_naive


class PullRequestCycle(BaseModel):
    pull_request_id: int
    pull_request = peewee.ForeignKeyField(PullRequest, primary_key=True, on_delete="CASCADE")
    # Plain ids, not foreign keys: a row is measured again whenever what it names changes (a merge of
    # developers marks their pull requests), and a foreign-key check on every rolled row buys nothing.
    repository_id = peewee.IntegerField()
    organization_id = peewee.IntegerField()
    developer_id = peewee.IntegerField(null=True)
    is_bot = peewee.BooleanField(default=False)
    state = peewee.CharField(max_length=16)
    opened_at = peewee.DateTimeField(null=True)
    merged_at = peewee.DateTimeField(null=True)
    ended_at = peewee.DateTimeField(null=True)  # merged, or closed unmerged
    deployed_at = peewee.DateTimeField(null=True)
    # seconds; null: the stage did not happen (domain.engineering.cycle)
    coding = peewee.FloatField(null=True)
    pickup = peewee.FloatField(null=True)
    review = peewee.FloatField(null=True)
    testing = peewee.FloatField(null=True)
    deployment = peewee.FloatField(null=True)
    cycle = peewee.FloatField(null=True)
    review_depth = peewee.IntegerField(default=0)
    size = peewee.IntegerField(null=True)
    to_merge = peewee.FloatField(null=True)  # seconds from opening to merge
    rolled_at = peewee.DateTimeField(default=utc_naive)

    # Indexed by organization and each moment a figure counts by, each index holding the columns its figures
    # read (COVERING, made by migration 20): an organization's figures then read the index alone.


# The columns each moment's figures read, beside the organization and the moment (`domain.engineering.pull_sql`)
COVERING = {
    "merged_at": ("is_bot", "repository_id", "developer_id", "opened_at", "deployed_at", "coding", "pickup", "review",
                  "testing", "deployment", "cycle", "to_merge"),
    "opened_at": ("is_bot", "repository_id", "developer_id", "pickup", "review_depth", "size"),
    "ended_at": ("is_bot", "repository_id", "developer_id", "state"),
    "deployed_at": ("is_bot", "repository_id", "developer_id", "merged_at", "cycle"),  # DORA's lead times
}


class CycleWatermark(BaseModel):
    name = peewee.CharField(max_length=32, primary_key=True)
    rolled_from = peewee.DateTimeField()  # the start of the last rollup
    full_at = peewee.DateTimeField(null=True)  # the start of the last one that measured every pull request
