from __future__ import annotations

import re

import marshmallow as ma

from api.schemas.common import FullMatch, StrictSchema, UtcDateTime

PROJECT_NAME = r"^[a-z0-9][a-z0-9._-]{0,63}$"
ENV_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
GIT_REF = FullMatch(r"^(?!.*\.\.)(?!.*//)[A-Za-z0-9][A-Za-z0-9._/-]{0,254}$",
                             error="Not a valid branch, tag or commit name.")
_REMOTE = re.compile(r"^(https?|ssh|git|file)://[^\s]+$|^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[^\s]+$")


def validate_repo_url(value: str) -> None:
    """A git URL, or an absolute local path to a repository (no options smuggled in as a URL)."""
    if value.startswith("-") or any(c.isspace() for c in value):
        raise ma.ValidationError("Must not start with '-' or contain whitespace.")
    if not (_REMOTE.fullmatch(value) or value.startswith("/")):
        raise ma.ValidationError("Must be a git URL (https://, ssh://, git://, file://, user@host:path) "
                                 "or an absolute path to a local git repository.")


def env_mapping(key_error: str, key: re.Pattern[str] = ENV_KEY, max_keys: int = 100) -> ma.fields.Dict:
    def check(values: dict[str, object]) -> None:
        if len(values) > max_keys:
            raise ma.ValidationError(f"At most {max_keys} entries.")
        bad = sorted(k for k in values if not key.fullmatch(k))
        if bad:
            raise ma.ValidationError(f"{key_error}: {', '.join(bad)}")

    return ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String(validate=ma.validate.Length(max=4096)),
                          validate=check)


class StepSchema(StrictSchema):
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=64))
    run = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=10_000))
    timeout_seconds = ma.fields.Integer(load_default=600, validate=ma.validate.Range(min=1, max=7200))


class ProjectUpdateSchema(StrictSchema):
    repo_url = ma.fields.String(validate=[ma.validate.Length(min=1, max=1024), validate_repo_url])
    default_branch = ma.fields.String(validate=GIT_REF)
    build_steps = ma.fields.List(ma.fields.Nested(StepSchema), validate=ma.validate.Length(min=1, max=50))
    env = env_mapping("Keys must be letters, digits and underscores, not starting with a digit")


class ProjectCreateSchema(ProjectUpdateSchema):
    name = ma.fields.String(required=True, validate=FullMatch(
        PROJECT_NAME, error="Lowercase letters, digits, '.', '_' or '-', starting with a letter or digit; 64 at most."))
    repo_url = ma.fields.String(required=True, validate=[ma.validate.Length(min=1, max=1024), validate_repo_url])
    default_branch = ma.fields.String(load_default="main", validate=GIT_REF)
    build_steps = ma.fields.List(ma.fields.Nested(StepSchema), required=True,
                                 validate=ma.validate.Length(min=1, max=50))
    env = env_mapping("Keys must be letters, digits and underscores, not starting with a digit")


class ProjectSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    repo_url = ma.fields.String(required=True)
    default_branch = ma.fields.String(required=True)
    build_steps = ma.fields.List(ma.fields.Nested(StepSchema), required=True)
    env = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String())
    created_by = ma.fields.Function(lambda project: project.created_by.username)
    created_at = UtcDateTime()
    updated_at = UtcDateTime()
