"""`/api/v1/ci/sources`: GitHub or GitLab repositories polled for pipeline runs (the runs: routes/pipelines.py).
A source is its creator's (admins see all)."""
from __future__ import annotations

from typing import Any

import peewee
from flask.views import MethodView

from api.auth.guard import auth_required, current_user
from api.blueprint import Blueprint
from api.errors import ApiError, not_found
from api.schemas.common import ListArgsSchema, page, page_of
from api.schemas.polling import (
    PollQueuedSchema,
    SourceCreateSchema,
    SourceSchema,
    SourceUpdateSchema,
)
from api.targets import check_api_url
from domain.polling import pipelines
from models.db import db, utc_naive
from models.pipeline import DEFAULT_API_URLS, CISource
from workers.polling import poll_ci_source

sources_blp = Blueprint("ci", __name__, url_prefix="/api/v1/ci", description="CI sources polled for pipelines")


def _sources() -> Any:
    user = current_user()
    return CISource.select() if user.role == "admin" else CISource.select().where(CISource.owner == user.id)


def _source(source_id: int) -> CISource:
    source = _sources().where(CISource.id == source_id).first()
    if source is None:
        raise not_found("CI source", source_id)
    return source


@sources_blp.route("/sources")
class Sources(MethodView):
    @auth_required()
    @sources_blp.arguments(ListArgsSchema, location="query")
    @sources_blp.response(200, page_of(SourceSchema))
    def get(self, args: dict[str, int]) -> dict[str, Any]:
        """Your CI sources (all for admins), newest first"""
        return page(_sources().order_by(CISource.id.desc()), args)

    @auth_required("cluster:manage")
    @sources_blp.arguments(SourceCreateSchema)
    @sources_blp.response(201, SourceSchema)
    def post(self, body: dict[str, Any]) -> CISource:
        """Add a repository to poll; `api_url` defaults to the provider's public API; the token is never returned"""
        body.setdefault("api_url", DEFAULT_API_URLS[body["provider"]])
        check_api_url(body)
        try:
            with db.atomic():
                return CISource.create(owner=current_user().id, **body)
        except peewee.IntegrityError:
            raise ApiError(409, f"You already poll {body['provider']} {body['repository']}") from None


@sources_blp.route("/sources/<int:source_id>")
class SourceItem(MethodView):
    @auth_required()
    @sources_blp.response(200, SourceSchema)
    def get(self, source_id: int) -> CISource:
        """One CI source, with the outcome of its last poll"""
        return _source(source_id)

    @auth_required("cluster:manage")
    @sources_blp.arguments(SourceUpdateSchema)
    @sources_blp.response(200, SourceSchema)
    def patch(self, body: dict[str, Any], source_id: int) -> CISource:
        """Change a source's API URL, token, deploy workflow or poll interval"""
        check_api_url(body)
        source = _source(source_id)
        changes = {**body, "updated_at": utc_naive()}
        if "api_url" in body or "token" in body:
            changes.update(etag=None, rate_limited_until=None)  # a new API or identity: ask afresh
        if "api_url" in body and body["api_url"] != source.api_url:
            changes["baselined"] = False  # another server's history is not news: record it quietly first
        with db.atomic():
            CISource.update(**changes).where(CISource.id == source.id).execute()
            updated = CISource.get_by_id(source.id)
            if "deploy_workflow" in body and body["deploy_workflow"] != source.deploy_workflow:
                pipelines.recompute_deploys(updated)
        return updated

    @auth_required("cluster:manage")
    @sources_blp.response(204)
    def delete(self, source_id: int) -> None:
        """Stop polling a source; its pipelines go with it"""
        with db.atomic():
            _source(source_id).delete_instance(recursive=True)


@sources_blp.route("/sources/<int:source_id>/poll")
class PollSource(MethodView):
    @auth_required("cluster:manage")
    @sources_blp.response(202, PollQueuedSchema)
    def post(self, source_id: int) -> dict[str, str]:
        """Poll the source now (a worker does it; read the source back for the outcome)"""
        source = _source(source_id)
        message = poll_ci_source.send(source.id)
        return {"status": "queued", "message_id": message.message_id}
