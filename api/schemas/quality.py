"""Arguments and answers of the code-quality analytics and of a repository's code-quality snapshots."""
from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

import marshmallow as ma

from api.schemas.common import ListArgsSchema, StrictSchema, UtcDateTime, row_id
from api.schemas.ranges import DayOrMoment, check_range
from models.db import utc_naive

DEFAULT_SPAN = timedelta(days=30)


class CodeQualityArgsSchema(StrictSchema):
    organization_id = row_id()
    team_id = row_id(metadata={"description": "The repositories of this team"})
    repository_id = row_id()
    start_date = DayOrMoment(metadata={"description": "Default: 30 days before end_date."})
    end_date = DayOrMoment(end=True, metadata={"description": "Default: the end of today. A bare date counts its "
                                                             "whole day."})

    @ma.post_load
    def _default_range(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        # The end of today by default (as a bare end date counts its day): one key a day for the cache.
        data.setdefault("end_date", datetime.combine(utc_naive().date() + timedelta(days=1), time()))
        data.setdefault("start_date", data["end_date"] - DEFAULT_SPAN)
        check_range(data["start_date"], data["end_date"])
        return data


class _Figures(ma.Schema):
    test_coverage = ma.fields.Float(allow_none=True, metadata={
        "description": "Percent of lines covered (the checkout's coverage.xml); null: no repository reports it"})
    code_smells, bugs, security_issues = ma.fields.Integer(), ma.fields.Integer(), ma.fields.Integer()
    vulnerabilities = ma.fields.Integer(metadata={"description": "Security issues of HIGH severity"})
    type_errors = ma.fields.Integer()
    technical_debt_hours = ma.fields.Float(metadata={"description": "Remediation minutes per finding, summed"})


class _RepositoryFigures(_Figures):
    repository_id, name = ma.fields.Integer(), ma.fields.String()
    analysed_at, branch, commit_sha = UtcDateTime(), ma.fields.String(allow_none=True), ma.fields.String()


class CodeQualitySchema(_Figures):
    start_date, end_date = UtcDateTime(), UtcDateTime()
    repositories = ma.fields.Integer(metadata={"description": "Repositories with a snapshot in the range"})
    no_data = ma.fields.Boolean()
    repositories_detail = ma.fields.List(ma.fields.Nested(_RepositoryFigures))


class SnapshotListArgsSchema(ListArgsSchema):
    status = ma.fields.String(validate=ma.validate.OneOf(("done", "failed")))


class SnapshotSchema(_Figures):
    id, repository_id, status = ma.fields.Integer(), ma.fields.Integer(), ma.fields.String()
    analysed_at, branch = UtcDateTime(), ma.fields.String(allow_none=True)
    commit_sha, error = ma.fields.String(allow_none=True), ma.fields.String(allow_none=True)
    technical_debt_minutes = ma.fields.Integer()
    details = ma.fields.Dict(allow_none=True, metadata={"description": "Findings per rule class, files, lines"})
