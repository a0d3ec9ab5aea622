"""Builds and analyses: what clients send and what they get back."""
from __future__ import annotations

import re

import marshmallow as ma

from api.routing import MAX_ID
from api.schemas.common import FullMatch, ListArgsSchema, StrictSchema, UtcDateTime
from api.schemas.projects import GIT_REF, PROJECT_NAME, env_mapping
from models.task import STATUSES

PARAMETER_KEY = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")
ANALYSIS_TYPES = ("quality", "security", "types")


class BuildCreateSchema(StrictSchema):
    project_name = ma.fields.String(required=True, validate=FullMatch(PROJECT_NAME))
    ref = ma.fields.String(load_default=None, allow_none=True, validate=GIT_REF)
    goal = ma.fields.String(load_default=None, allow_none=True, validate=ma.validate.Length(max=500))
    parameters = env_mapping("Keys must match ^[A-Z][A-Z0-9_]{0,63}$", key=PARAMETER_KEY, max_keys=50)


class AnalysisCreateSchema(StrictSchema):
    project_name = ma.fields.String(required=True, validate=FullMatch(PROJECT_NAME))
    ref = ma.fields.String(load_default=None, allow_none=True, validate=GIT_REF)
    analysis_types = ma.fields.List(ma.fields.String(validate=ma.validate.OneOf(ANALYSIS_TYPES)),
                                    load_default=lambda: list(ANALYSIS_TYPES),
                                    validate=ma.validate.Length(min=1, max=3))


class TaskListArgsSchema(ListArgsSchema):
    status = ma.fields.String(validate=ma.validate.OneOf(STATUSES))
    project_name = ma.fields.String(validate=FullMatch(PROJECT_NAME))


class LogArgsSchema(StrictSchema):
    offset = ma.fields.Integer(load_default=0, validate=ma.validate.Range(min=0, max=MAX_ID))
    limit = ma.fields.Integer(load_default=1000, validate=ma.validate.Range(min=1, max=5000))


class LogLineSchema(ma.Schema):
    n = ma.fields.Integer(required=True)
    step = ma.fields.String(allow_none=True)
    text = ma.fields.String(required=True)
    timestamp = UtcDateTime()


class LogPageSchema(ma.Schema):
    lines = ma.fields.List(ma.fields.Nested(LogLineSchema), required=True)
    next_offset = ma.fields.Integer(required=True)


class BuildAcceptedSchema(ma.Schema):
    task_id = ma.fields.String(required=True)
    status = ma.fields.String(required=True)
    message = ma.fields.String(required=True)


class AnalysisAcceptedSchema(ma.Schema):
    analysis_id = ma.fields.String(required=True)
    status = ma.fields.String(required=True)


class _TaskSchema(ma.Schema):
    project_name = ma.fields.String(required=True)
    status = ma.fields.String(required=True)
    progress = ma.fields.Integer(required=True)
    created_at = UtcDateTime()
    started_at = UtcDateTime(allow_none=True)
    finished_at = UtcDateTime(allow_none=True)
    error = ma.fields.String(allow_none=True)


class BuildSchema(_TaskSchema):
    task_id = ma.fields.String(attribute="id", required=True)
    ref = ma.fields.String(allow_none=True)
    goal = ma.fields.String(allow_none=True)
    parameters = ma.fields.Dict()
    created_by = ma.fields.Function(lambda task: task.created_by.username)
    results = ma.fields.Raw(allow_none=True)


class AnalysisSchema(_TaskSchema):
    analysis_id = ma.fields.String(attribute="id", required=True)
    ref = ma.fields.String(allow_none=True)
    analysis_types = ma.fields.List(ma.fields.String())
    performed_by = ma.fields.Function(lambda task: task.created_by.username)
    quality_score = ma.fields.Function(lambda task: (task.results or {}).get("quality_score"))
    security_issues = ma.fields.Function(lambda task: (task.results or {}).get("security_issues", []))
    code_smells = ma.fields.Function(lambda task: (task.results or {}).get("code_smells"))
    type_errors = ma.fields.Function(lambda task: (task.results or {}).get("type_errors"))
    coverage_percent = ma.fields.Function(lambda task: (task.results or {}).get("coverage_percent"))
    recommendations = ma.fields.Function(lambda task: (task.results or {}).get("recommendations", []))
