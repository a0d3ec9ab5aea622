"""Kubernetes clusters and CI sources: what is sent to add one, and what is shown (never the token)."""
from __future__ import annotations

import ssl
from typing import Any

import marshmallow as ma

from api.schemas.common import FullMatch, StrictSchema, UtcDateTime
from models.pipeline import PIPELINE_STATUSES, PROVIDERS

CLUSTER_NAME = FullMatch(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$",
                         error="Lower-case letters, digits and -, up to 63, starting and ending alphanumeric.")
REPOSITORY = {"github": r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", "gitlab": r"^(\d+|([A-Za-z0-9_.-]+/)+[A-Za-z0-9_.-]+)$"}


def _url(**kwargs: Any) -> ma.fields.Url:
    return ma.fields.Url(schemes={"http", "https"}, require_tld=False, validate=ma.validate.Length(max=2048),
                         **kwargs)

_TOKEN = [ma.validate.Length(min=1, max=8192),
          FullMatch(r"^[\x21-\x7e]+$", error="Printable ASCII without spaces (it goes in an HTTP header).")]


def _pem(value: str) -> None:
    try:
        ssl.create_default_context(cadata=value)
    except (ssl.SSLError, ValueError, TypeError):  # TypeError: ssl wants ASCII text
        raise ma.ValidationError("Must be one or more PEM certificates.") from None


class ClusterUpdateSchema(StrictSchema):
    api_url = _url()
    token = ma.fields.String(load_only=True, validate=_TOKEN)
    ca_cert = ma.fields.String(allow_none=True, load_only=True, validate=_pem)
    verify_ssl = ma.fields.Boolean()
    poll_interval_seconds = ma.fields.Integer(validate=ma.validate.Range(min=10, max=86_400))


class ClusterCreateSchema(ClusterUpdateSchema):
    name = ma.fields.String(required=True, validate=CLUSTER_NAME)
    api_url = _url(required=True)
    token = ma.fields.String(required=True, load_only=True, validate=_TOKEN)
    verify_ssl = ma.fields.Boolean(load_default=True)
    poll_interval_seconds = ma.fields.Integer(load_default=30, validate=ma.validate.Range(min=10, max=86_400))


class ClusterSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    api_url = ma.fields.String(required=True)
    verify_ssl = ma.fields.Boolean()
    has_ca_cert = ma.fields.Function(lambda c: bool(c.ca_cert))
    poll_interval_seconds = ma.fields.Integer()
    version = ma.fields.String(allow_none=True)
    status = ma.fields.String(metadata={"description": "unknown (not polled yet), healthy or unhealthy"})
    last_error = ma.fields.String(allow_none=True)
    nodes = ma.fields.Integer(attribute="node_count")
    pods = ma.fields.Integer(attribute="pod_count")
    namespaces = ma.fields.Integer(attribute="namespace_count")
    metrics_available = ma.fields.Boolean()
    last_polled_at = UtcDateTime(allow_none=True)
    next_poll_at = UtcDateTime()
    created_at = UtcDateTime()


class NodeSchema(ma.Schema):
    name = ma.fields.String()
    status = ma.fields.String(metadata={"description": "Ready or NotReady"})
    cpu_usage = ma.fields.Float(allow_none=True, metadata={"description": "percent of allocatable CPU"})
    memory_usage = ma.fields.Float(allow_none=True, metadata={"description": "percent of allocatable memory"})
    pods = ma.fields.Integer()
    kubelet_version = ma.fields.String(allow_none=True)
    created_at = UtcDateTime(allow_none=True)


class PodSchema(ma.Schema):
    name = ma.fields.String()
    namespace = ma.fields.String()
    status = ma.fields.String(metadata={"description": "The phase, or a container's waiting reason"})
    phase = ma.fields.String()
    ready = ma.fields.Boolean()
    restarts = ma.fields.Integer()
    node = ma.fields.String(attribute="node_name", allow_none=True)
    cpu_usage = ma.fields.Float(allow_none=True, metadata={"description": "millicores"})
    memory_usage = ma.fields.Float(allow_none=True, metadata={"description": "MiB"})
    created_at = UtcDateTime(allow_none=True)


class PodArgsSchema(StrictSchema):
    namespace = ma.fields.String(validate=ma.validate.Length(min=1, max=253))
    status = ma.fields.String(validate=ma.validate.Length(min=1, max=64))
    limit = ma.fields.Integer(load_default=20, validate=ma.validate.Range(min=1, max=100))
    offset = ma.fields.Integer(load_default=0, validate=ma.validate.Range(min=0, max=1_000_000))


class SourceUpdateSchema(StrictSchema):
    api_url = _url()
    token = ma.fields.String(load_only=True, validate=_TOKEN)
    deploy_workflow = ma.fields.String(allow_none=True, validate=ma.validate.Length(min=1, max=255))
    poll_interval_seconds = ma.fields.Integer(validate=ma.validate.Range(min=10, max=86_400))


class SourceCreateSchema(SourceUpdateSchema):
    provider = ma.fields.String(required=True, validate=ma.validate.OneOf(PROVIDERS))
    repository = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=255))
    token = ma.fields.String(required=True, load_only=True, validate=_TOKEN)
    poll_interval_seconds = ma.fields.Integer(load_default=60, validate=ma.validate.Range(min=10, max=86_400))

    @ma.validates_schema
    def _repository(self, data: dict[str, Any], **kwargs: Any) -> None:
        pattern = REPOSITORY.get(data.get("provider", ""))
        if pattern and not FullMatch(pattern).regex.fullmatch(data.get("repository", "")):
            raise ma.ValidationError("GitHub: `owner/repo`; GitLab: `group/project` or a numeric id.", "repository")


class SourceSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    provider = ma.fields.String(required=True)
    repository = ma.fields.String(required=True)
    api_url = ma.fields.String(required=True)
    deploy_workflow = ma.fields.String(allow_none=True)
    poll_interval_seconds = ma.fields.Integer()
    status = ma.fields.String(metadata={"description": "unknown, ok, rate_limited or error"})
    last_error = ma.fields.String(allow_none=True)
    rate_limited_until = UtcDateTime(allow_none=True)
    last_polled_at = UtcDateTime(allow_none=True)
    next_poll_at = UtcDateTime()
    created_at = UtcDateTime()


class PollQueuedSchema(ma.Schema):
    status = ma.fields.String(required=True)
    message_id = ma.fields.String(required=True)


class PipelineArgsSchema(StrictSchema):
    repository = ma.fields.String(validate=ma.validate.Length(min=1, max=255))
    branch = ma.fields.String(validate=ma.validate.Length(min=1, max=255))
    status = ma.fields.String(validate=ma.validate.OneOf(PIPELINE_STATUSES))
    limit = ma.fields.Integer(load_default=20, validate=ma.validate.Range(min=1, max=100))
    offset = ma.fields.Integer(load_default=0, validate=ma.validate.Range(min=0, max=1_000_000))


class CommitSchema(ma.Schema):
    sha = ma.fields.String(allow_none=True)
    message = ma.fields.String(allow_none=True)
    author = ma.fields.String(allow_none=True)
    timestamp = UtcDateTime(allow_none=True)


class StageSchema(ma.Schema):
    name = ma.fields.String()
    status = ma.fields.String()
    duration = ma.fields.Integer(allow_none=True)
    started_at = ma.fields.String(allow_none=True)
    finished_at = ma.fields.String(allow_none=True)


class PipelineSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    source_id = ma.fields.Integer()
    external_id = ma.fields.String()
    provider = ma.fields.String()
    repository = ma.fields.String()
    branch = ma.fields.String(allow_none=True)
    workflow = ma.fields.String(allow_none=True)
    is_deploy = ma.fields.Boolean()
    status = ma.fields.String(metadata={"description": " | ".join(PIPELINE_STATUSES)})
    duration = ma.fields.Integer(allow_none=True, metadata={"description": "seconds"})
    started_at = UtcDateTime(allow_none=True)
    finished_at = UtcDateTime(allow_none=True)
    url = ma.fields.String(allow_none=True)
    commit = ma.fields.Nested(CommitSchema)


class PipelineDetailSchema(PipelineSchema):
    stages = ma.fields.List(ma.fields.Nested(StageSchema))
