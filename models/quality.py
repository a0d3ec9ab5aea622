"""Code-quality snapshots: one row per analysis of a repository's default branch (`domain.quality`), which the
code-quality analytics read. A failed analysis is kept too (`status` failed, `error` says why), so an operator
sees why a repository has no figures; only `done` rows count."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import peewee

from models.db import BaseModel, JSONField, utc_naive
from models.repository import Repository

SNAPSHOT_STATUSES = ("done", "failed")


class QualitySnapshot(BaseModel):
    repository_id: int
    id = peewee.AutoField()
    repository = peewee.ForeignKeyField(Repository, backref="quality_snapshots", on_delete="CASCADE", index=False)
    branch = peewee.CharField(max_length=255, null=True)  # the default branch the clone found
    commit_sha = peewee.CharField(max_length=64, null=True)
    analysed_at = peewee.DateTimeField(default=utc_naive)  # when the analysis ended (rows are written then)
    status = peewee.CharField(max_length=16)
    error = peewee.TextField(null=True)
    test_coverage = peewee.FloatField(null=True)  # percent; null: the checkout has no coverage.xml
    code_smells = peewee.IntegerField(default=0)
    bugs = peewee.IntegerField(default=0)
    security_issues = peewee.IntegerField(default=0)
    vulnerabilities = peewee.IntegerField(default=0)
    type_errors = peewee.IntegerField(default=0)
    technical_debt_minutes = peewee.IntegerField(default=0)
    # {"by_class": {rule class: count}, "python_files", "lines", "quality_score", "supported"}
    details = JSONField(null=True)

    class Meta:
        indexes = ((("repository", "status", "analysed_at"), False),)

    @classmethod
    def latest_done(cls, repositories: Any, start: datetime, end: datetime) -> Any:
        """Each of `repositories`' (a subquery of ids) last done snapshot analysed in [start, end)."""
        last = (cls.select(peewee.fn.MAX(cls.id))
                .where(cls.repository << repositories, cls.status == "done", cls.analysed_at >= start,
                       cls.analysed_at < end)
                .group_by(cls.repository))
        return cls.select().where(cls.id << last)
