"""Organizations, teams, repositories and developers (seed 002): what is sent, and what is shown (never a
repository's token; its hook secret only in the answer that registers it)."""
from __future__ import annotations

from typing import Any
from zoneinfo import available_timezones

import marshmallow as ma

from api.schemas.common import FullMatch, StrictSchema, UtcDateTime
from api.schemas.polling import _TOKEN, _url
from models.organization import MEMBER_ROLES
from models.pipeline import PROVIDERS

NAME = ma.validate.Length(min=1, max=200)
LANGUAGE = FullMatch(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$", error="A language tag such as en or pt-BR.")


class SeiListArgsSchema(StrictSchema):
    """Seed 002's list arguments: `skip` is `offset`'s other name; at most 100 a page, 100 by default."""

    limit = ma.fields.Integer(load_default=100, validate=ma.validate.Range(min=1, max=100))
    offset = ma.fields.Integer(validate=ma.validate.Range(min=0, max=1_000_000))
    skip = ma.fields.Integer(validate=ma.validate.Range(min=0, max=1_000_000))

    @ma.post_load
    def _offset(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        skip = data.pop("skip", None)
        data["offset"] = data.get("offset", skip if skip is not None else 0)
        return data


def _timezone(value: str) -> None:
    if value not in _zones():
        raise ma.ValidationError("An IANA time zone such as UTC or Europe/Paris.")


_ZONES: list[set[str]] = []


def _zones() -> set[str]:
    if not _ZONES:
        _ZONES.append(available_timezones() | {"UTC"})
    return _ZONES[0]


class OrganizationSettingsSchema(StrictSchema):
    timezone = ma.fields.String(load_default="UTC", validate=_timezone)
    default_language = ma.fields.String(load_default="en", validate=LANGUAGE)


class OrganizationUpdateSchema(StrictSchema):
    name = ma.fields.String(validate=NAME)
    description = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=10_000))
    settings = ma.fields.Nested(OrganizationSettingsSchema)


class OrganizationCreateSchema(OrganizationUpdateSchema):
    name = ma.fields.String(required=True, validate=NAME)
    settings = ma.fields.Nested(OrganizationSettingsSchema, load_default=lambda: {"timezone": "UTC",
                                                                                  "default_language": "en"})


class OrganizationSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    description = ma.fields.String(allow_none=True)
    settings = ma.fields.Dict()
    role = ma.fields.String(metadata={"description": "Your role in it: owner or member (admins: owner)"})
    created_at = UtcDateTime()
    updated_at = UtcDateTime()


class OrganizationMemberSchema(StrictSchema):
    user_id = ma.fields.Integer(required=True, validate=ma.validate.Range(min=1, max=2**31 - 1))
    role = ma.fields.String(load_default="member", validate=ma.validate.OneOf(MEMBER_ROLES))
    username = ma.fields.String(dump_only=True)


class OrganizationMembersSchema(StrictSchema):
    members = ma.fields.List(ma.fields.Nested(OrganizationMemberSchema), required=True,
                             validate=ma.validate.Length(max=10_000))


class TeamListArgsSchema(SeiListArgsSchema):
    organization_id = ma.fields.Integer(validate=ma.validate.Range(min=1, max=2**31 - 1))


class TeamUpdateSchema(StrictSchema):
    name = ma.fields.String(validate=NAME)
    description = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=10_000))
    parent_team_id = ma.fields.Integer(allow_none=True, validate=ma.validate.Range(min=1, max=2**31 - 1))
    external_id = ma.fields.String(allow_none=True, validate=ma.validate.Length(min=1, max=255))


class TeamCreateSchema(TeamUpdateSchema):
    organization_id = ma.fields.Integer(required=True, validate=ma.validate.Range(min=1, max=2**31 - 1))
    name = ma.fields.String(required=True, validate=NAME)


class TeamSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    organization_id = ma.fields.Integer(required=True)
    parent_team_id = ma.fields.Integer(attribute="parent_id", allow_none=True)
    description = ma.fields.String(allow_none=True)
    external_id = ma.fields.String(allow_none=True)
    members_count = ma.fields.Integer()
    created_at = UtcDateTime()
    updated_at = UtcDateTime()


class TeamMemberSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String()
    email = ma.fields.String(allow_none=True)


class TeamDetailSchema(TeamSchema):
    members = ma.fields.List(ma.fields.Nested(TeamMemberSchema))
    metrics = ma.fields.Dict(metadata={"description": "The last 30 days: commits, pull requests opened and merged, "
                                                      "reviews, lines added and deleted (bots left out)"})


class TeamMembersSchema(StrictSchema):
    developer_ids = ma.fields.List(ma.fields.Integer(validate=ma.validate.Range(min=1, max=2**31 - 1)),
                                   required=True, validate=ma.validate.Length(max=10_000))


class RepositoryListArgsSchema(SeiListArgsSchema):
    organization_id = ma.fields.Integer(validate=ma.validate.Range(min=1, max=2**31 - 1))
    team_id = ma.fields.Integer(validate=ma.validate.Range(min=1, max=2**31 - 1))


class RepositoryUpdateSchema(StrictSchema):
    name = ma.fields.String(validate=ma.validate.Length(min=1, max=255))
    team_id = ma.fields.Integer(allow_none=True, validate=ma.validate.Range(min=1, max=2**31 - 1))
    language = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=64))
    api_url = _url()
    token = ma.fields.String(allow_none=True, load_only=True, validate=_TOKEN)
    poll_interval_seconds = ma.fields.Integer(validate=ma.validate.Range(min=60, max=86_400))
    backfill_days = ma.fields.Integer(validate=ma.validate.Range(min=1, max=3650))


class RepositoryCreateSchema(RepositoryUpdateSchema):
    url = _url(required=True)
    provider = ma.fields.String(required=True, validate=ma.validate.OneOf(PROVIDERS))
    organization_id = ma.fields.Integer(validate=ma.validate.Range(min=1, max=2**31 - 1))


class BackfillRequestSchema(StrictSchema):
    days = ma.fields.Integer(validate=ma.validate.Range(min=1, max=3650), metadata={
        "description": "How far back to read (the repository's backfill_days; unchanged when absent)"})


class RepositorySchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    url = ma.fields.String(required=True)
    full_name = ma.fields.String()
    provider = ma.fields.String()
    api_url = ma.fields.String()
    language = ma.fields.String(allow_none=True)
    organization_id = ma.fields.Integer()
    team_id = ma.fields.Integer(allow_none=True)
    has_token = ma.fields.Function(lambda r: bool(r.token))
    status = ma.fields.String(metadata={"description": "unknown (not polled yet), ok, rate_limited or error"})
    last_error = ma.fields.String(allow_none=True)
    poll_interval_seconds = ma.fields.Integer()
    backfill_days = ma.fields.Integer()
    last_commit = UtcDateTime(allow_none=True)
    commit_count = ma.fields.Integer()
    last_event_at = UtcDateTime(allow_none=True)
    last_polled_at = UtcDateTime(allow_none=True)
    last_poll = ma.fields.Dict(allow_none=True, metadata={
        "description": "What the last poll read: batches, commits, pull_requests, reviews, requests"})
    poll_cursor = UtcDateTime(allow_none=True, metadata={
        "description": "Where the next poll starts; null until the first complete poll (which reaches back "
                       "backfill_days)"})
    backfilled_at = UtcDateTime(allow_none=True)
    backfill = ma.fields.Dict(allow_none=True, metadata={
        "description": "The backfill (the first poll, or one asked for) as it runs and how it ended: status "
                       "(queued, running, completed, rate_limited, failed), attempt, progress (0-100), part "
                       "(commits, pull_requests, issues), since, started_at, finished_at, error, and the commits, "
                       "pull_requests, reviews and issues it stored; null before the first poll"})
    rate_limited_until = UtcDateTime(allow_none=True)
    created_at = UtcDateTime()
    updated_at = UtcDateTime()


class RepositoryCreatedSchema(RepositorySchema):
    hook_secret = ma.fields.String(metadata={"description": "Shown in this answer only: give it to GitHub as the "
                                                            "hook's secret, or to GitLab as its secret token"})
    hooks = ma.fields.Dict(metadata={"description": "The hook URLs to register, by provider"})


class RepositoryDetailSchema(RepositorySchema):
    statistics = ma.fields.Dict()


class ActivityArgsSchema(SeiListArgsSchema):
    limit = ma.fields.Integer(load_default=50, validate=ma.validate.Range(min=1, max=100))
    author = ma.fields.Integer(validate=ma.validate.Range(min=1, max=2**31 - 1), metadata={
        "description": "A developer id"})
    since = ma.fields.AwareDateTime(default_timezone=None)
    until = ma.fields.AwareDateTime(default_timezone=None)


class PullListArgsSchema(ActivityArgsSchema):
    state = ma.fields.String(validate=ma.validate.OneOf(("open", "closed", "merged")))


class RepositoryCommitSchema(ma.Schema):
    sha = ma.fields.String(required=True)
    message = ma.fields.String(allow_none=True)
    author_name = ma.fields.String(allow_none=True)
    developer_id = ma.fields.Integer(allow_none=True)
    authored_at = UtcDateTime(allow_none=True)
    committed_at = UtcDateTime(allow_none=True)
    additions = ma.fields.Integer(allow_none=True)
    deletions = ma.fields.Integer(allow_none=True)


class PullRequestSchema(ma.Schema):
    number = ma.fields.Integer(required=True)
    title = ma.fields.String()
    state = ma.fields.String()
    developer_id = ma.fields.Integer(allow_none=True)
    opened_at = UtcDateTime(allow_none=True)
    first_commit_at = UtcDateTime(allow_none=True, metadata={
        "description": "When the earliest commit of the pull request was authored (read by polls)"})
    merged_at = UtcDateTime(allow_none=True)
    closed_at = UtcDateTime(allow_none=True)
    additions = ma.fields.Integer(allow_none=True)
    deletions = ma.fields.Integer(allow_none=True)
    base_ref = ma.fields.String(allow_none=True)
    head_ref = ma.fields.String(allow_none=True)
    head_sha = ma.fields.String(allow_none=True, metadata={"description": "The head commit (CI runs on it)"})
    merge_commit_sha = ma.fields.String(allow_none=True, metadata={
        "description": "The commit the merge put on the base branch (a squash or rebase's too)"})
    url = ma.fields.String(allow_none=True)
    reviews = ma.fields.Integer(attribute="review_count")


class IssueListArgsSchema(ActivityArgsSchema):
    state = ma.fields.String(validate=ma.validate.OneOf(("open", "closed")))


class MilestoneSchema(ma.Schema):
    id = ma.fields.Integer()
    external_id = ma.fields.String()
    title = ma.fields.String(allow_none=True)
    state = ma.fields.String(allow_none=True)
    due_on = UtcDateTime(allow_none=True)


class IssueSchema(ma.Schema):
    number = ma.fields.Integer(required=True)
    title = ma.fields.String()
    state = ma.fields.String()
    developer_id = ma.fields.Integer(allow_none=True)
    opened_at = UtcDateTime(allow_none=True)
    closed_at = UtcDateTime(allow_none=True)
    points = ma.fields.Integer(allow_none=True, metadata={
        "description": "GitLab's weight, or a `points:N` label on GitHub"})
    labels = ma.fields.List(ma.fields.String())
    milestone = ma.fields.Nested(MilestoneSchema, allow_none=True)


class DeveloperListArgsSchema(SeiListArgsSchema):
    organization_id = ma.fields.Integer(validate=ma.validate.Range(min=1, max=2**31 - 1))
    team_id = ma.fields.Integer(validate=ma.validate.Range(min=1, max=2**31 - 1))
    include_bots = ma.fields.Boolean(load_default=False)


class DeveloperSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String()
    email = ma.fields.String(allow_none=True)
    organization_id = ma.fields.Integer()
    team_id = ma.fields.Integer(allow_none=True, metadata={"description": "The first of the developer's teams"})
    is_bot = ma.fields.Boolean()
    metrics = ma.fields.Dict(metadata={"description": "The last 30 days: commits_last_30d, prs_opened, "
                                                      "prs_reviewed, lines_added, lines_deleted"})


class DeveloperIdentitySchema(ma.Schema):
    id = ma.fields.Integer()
    provider = ma.fields.String()
    login = ma.fields.String(allow_none=True)
    provider_user_id = ma.fields.String()
    name = ma.fields.String(allow_none=True)
    emails = ma.fields.List(ma.fields.String())
    is_bot = ma.fields.Boolean()


class DeveloperDetailSchema(DeveloperSchema):
    identities = ma.fields.List(ma.fields.Nested(DeveloperIdentitySchema))
    teams = ma.fields.List(ma.fields.Dict())
    changes = ma.fields.List(ma.fields.Dict(), metadata={"description": "Merges and splits, newest first"})


class MergeSchema(StrictSchema):
    developer_id = ma.fields.Integer(required=True, validate=ma.validate.Range(min=1, max=2**31 - 1), metadata={
        "description": "The developer merged into this one (and deleted)"})
    reason = ma.fields.String(load_default="merged by an owner", validate=ma.validate.Length(min=1, max=255))


class SplitSchema(StrictSchema):
    identity_ids = ma.fields.List(ma.fields.Integer(validate=ma.validate.Range(min=1, max=2**31 - 1)), required=True,
                                  validate=ma.validate.Length(min=1, max=1000))
    reason = ma.fields.String(load_default="split by an owner", validate=ma.validate.Length(min=1, max=255))


class DeveloperActivitySchema(ma.Schema):
    type = ma.fields.String(metadata={"description": "commit | pr_opened | pr_merged | review"})
    at = UtcDateTime()
    repository_id = ma.fields.Integer()
    sha = ma.fields.String()
    number = ma.fields.Integer()
    title = ma.fields.String()
    state = ma.fields.String()


class HookAnswerSchema(ma.Schema):
    status = ma.fields.String(metadata={"description": "accepted | duplicate | ignored"})
    delivery_id = ma.fields.String()
