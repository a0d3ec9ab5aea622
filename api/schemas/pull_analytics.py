"""Arguments and answers of the pull request analytics: cycle time, the pull request metrics, a timeline."""
from __future__ import annotations

import marshmallow as ma

from api.schemas.common import UtcDateTime, row_id
from api.schemas.ranges import RangeArgsSchema
from domain.dora import PERIODS


class ScopeArgsSchema(RangeArgsSchema):
    organization_id, team_id, repository_id, developer_id = row_id(), row_id(), row_id(), row_id()
    include_bots = ma.fields.Boolean(load_default=False, metadata={"description": "Count bots' pull requests too"})


class CycleTimeArgsSchema(ScopeArgsSchema):
    granularity = ma.fields.String(load_default="weekly", validate=ma.validate.OneOf(tuple(PERIODS)))


class _CycleBreakdown(ma.Schema):
    coding_hours, pickup_hours, review_hours = (ma.fields.Float(allow_none=True) for _ in range(3))
    testing_hours, deployment_hours = ma.fields.Float(allow_none=True), ma.fields.Float(allow_none=True)


class _CyclePercentiles(ma.Schema):
    p50, p75, p90 = (ma.fields.Float(allow_none=True) for _ in range(3))


class _PullFigures(_CyclePercentiles):
    mean, samples = ma.fields.Float(allow_none=True), ma.fields.Integer()


class _CyclePeriod(ma.Schema):
    period_start, pull_requests = UtcDateTime(), ma.fields.Integer()
    total_cycle_time_hours, p50 = ma.fields.Float(allow_none=True), ma.fields.Float(allow_none=True)


class CycleTimeSchema(ma.Schema):
    start_date, end_date, granularity = UtcDateTime(), UtcDateTime(), ma.fields.String()
    total_cycle_time_hours = ma.fields.Float(allow_none=True, metadata={
        "description": "Mean hours from the first commit to production (or to the merge, when not deployed)"})
    breakdown = ma.fields.Nested(_CycleBreakdown, metadata={
        "description": "Each stage's mean over the pull requests that went through it; testing overlaps review"})
    percentiles = ma.fields.Nested(_CyclePercentiles)
    pull_requests, deployed = ma.fields.Integer(), ma.fields.Integer()
    previous, trend = ma.fields.Float(allow_none=True), ma.fields.String()
    series = ma.fields.List(ma.fields.Nested(_CyclePeriod))


class _PullMergeRate(ma.Schema):
    merged, closed, rate = ma.fields.Integer(), ma.fields.Integer(), ma.fields.Float(allow_none=True)


class PullRequestMetricsSchema(ma.Schema):
    start_date, end_date = UtcDateTime(), UtcDateTime()
    time_to_merge_hours, pickup_hours = ma.fields.Nested(_PullFigures), ma.fields.Nested(_PullFigures)
    review_depth = ma.fields.Nested(_PullFigures, metadata={"description": "Reviews and comments by others than the "
                                                                      "author and bots, per pull request"})
    size_lines = ma.fields.Nested(_PullFigures, metadata={"description": "Lines added and deleted"})
    merge_rate = ma.fields.Nested(_PullMergeRate)
    opened, merged = ma.fields.Integer(), ma.fields.Integer()


class _PullStages(ma.Schema):
    coding, pickup, review, testing, deployment, cycle = (ma.fields.Float(allow_none=True) for _ in range(6))


class _PullEvent(ma.Schema):
    at, event = UtcDateTime(), ma.fields.String()
    developer_id, pipeline_id, sha = ma.fields.Integer(allow_none=True), ma.fields.Integer(allow_none=True), \
        ma.fields.String(allow_none=True)


class _PullDeployment(ma.Schema):
    pipeline_id, finished_at = ma.fields.Integer(), UtcDateTime()
    head_sha, linked_by = ma.fields.String(allow_none=True), ma.fields.String()


class TimelineSchema(ma.Schema):
    pull_request_id, repository_id, number = ma.fields.Integer(), ma.fields.Integer(), ma.fields.Integer()
    title, state, developer_id = ma.fields.String(), ma.fields.String(), ma.fields.Integer(allow_none=True)
    stages = ma.fields.Nested(_PullStages, metadata={"description": "Hours; null: the stage did not happen"})
    review_depth, size_lines = ma.fields.Integer(), ma.fields.Integer(allow_none=True)
    events = ma.fields.List(ma.fields.Nested(_PullEvent))
    deployment = ma.fields.Nested(_PullDeployment, allow_none=True)
