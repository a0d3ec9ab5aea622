"""`/api/v1/analytics/code-quality` (issue 20): test coverage, code smells, bugs, security issues and technical
debt of your repositories' default branches, from their code-quality snapshots; and a repository's snapshots
(`/api/v1/repositories/{id}/quality`: read them, or queue one now). Definitions: `domain.quality`,
docs/engineering-analytics.md."""
from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView

from api import org_scope
from api.auth.guard import auth_required
from api.blueprint import Blueprint
from api.caching import figures_response
from api.schemas.common import page, page_of
from api.schemas.polling import PollQueuedSchema
from api.schemas.quality import CodeQualityArgsSchema, CodeQualitySchema, SnapshotListArgsSchema, SnapshotSchema
from domain.quality.figures import code_quality, hours
from models.quality import QualitySnapshot
from workers.quality import analyse_repository

blp = Blueprint("code_quality", __name__, url_prefix="/api/v1", description="Code quality")


@blp.route("/analytics/code-quality")
class CodeQuality(MethodView):
    @auth_required()
    @blp.arguments(CodeQualityArgsSchema, location="query")
    @blp.response(200, CodeQualitySchema)
    def get(self, args: dict[str, Any]) -> Response:
        """Test coverage, code smells, bugs, security issues, vulnerabilities and technical debt: each repository's
        last snapshot in the range, summed (coverage averaged), with each repository's figures"""
        repositories, organizations = org_scope.repositories(args)
        organization_id = next(iter(organizations)) if len(organizations) == 1 else None

        def build() -> Any:
            return CodeQualitySchema().dump(code_quality(repositories, args["start_date"], args["end_date"]))

        return figures_response("code-quality", organization_id, args, build)


@blp.route("/repositories/<int:repository_id>/quality")
class RepositoryQuality(MethodView):
    @auth_required()
    @blp.arguments(SnapshotListArgsSchema, location="query")
    @blp.response(200, page_of(SnapshotSchema))
    def get(self, args: dict[str, Any], repository_id: int) -> dict[str, Any]:
        """The repository's code-quality snapshots, newest first, failed ones with why (`status`)"""
        repo = org_scope.repository(repository_id)
        query = QualitySnapshot.select().where(QualitySnapshot.repository == repo.id)
        if "status" in args:
            query = query.where(QualitySnapshot.status == args["status"])
        listed = page(query.order_by(QualitySnapshot.analysed_at.desc(), QualitySnapshot.id.desc()), args)
        for row in listed["items"]:
            vars(row).update(technical_debt_hours=hours(row.technical_debt_minutes))  # shown, not stored
        return listed

    @auth_required("engineering:manage")
    @blp.response(202, PollQueuedSchema)
    def post(self, repository_id: int) -> dict[str, Any]:
        """Analyse the repository's default branch now (owners), as the daily job does; the snapshot appears in
        this list when it is done"""
        repo = org_scope.repository(repository_id)
        org_scope.owned(repo.organization_id)
        message = analyse_repository.send(repo.id)
        return {"message_id": message.message_id, "status": "queued"}
