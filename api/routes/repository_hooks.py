"""`POST /api/v1/repositories/{id}/hooks/github` and `/hooks/gitlab`: activity pushed by the provider, so it
shows within seconds (polling stays the safety net). No token: the provider signs (GitHub:
`X-Hub-Signature-256`, the HMAC-SHA256 of the body with the repository's hook secret) or sends the secret
(GitLab: `X-Gitlab-Token`). A bad or missing signature is a 401 for a repository that does not exist too,
a malformed body a 400, and neither stores anything; a delivery id seen before is answered and not stored."""
from __future__ import annotations

import json
import logging
from typing import Any

from flask import request
from flask.views import MethodView

from api.blueprint import Blueprint
from api.errors import ApiError
from api.schemas.engineering import HookAnswerSchema
from domain import outbox
from domain.engineering.hooks import github_signature_ok, gitlab_token_ok
from domain.engineering.receiver import activity_of, receive
from domain.engineering.records import PayloadError
from models.repository import Repository
from workers.engineering import ingest_hook

log = logging.getLogger(__name__)
blp = Blueprint("repository_hooks", __name__, url_prefix="/api/v1/repositories",
                description="Hooks in: GitHub and GitLab push activity (signed, no token)")

DELIVERY_HEADERS = {"github": ("X-GitHub-Delivery",), "gitlab": ("Idempotency-Key", "X-Gitlab-Event-UUID")}
EVENT_HEADERS = {"github": "X-GitHub-Event", "gitlab": "X-Gitlab-Event"}


def _signed(repo: Repository | None, provider: str, body: bytes) -> bool:
    if repo is None:
        return False
    if provider == "github":
        return github_signature_ok(repo.hook_secret, body, request.headers.get("X-Hub-Signature-256"))
    return gitlab_token_ok(repo.hook_secret, request.headers.get("X-Gitlab-Token"))


def _header(names: tuple[str, ...]) -> str:
    for name in names:
        value = request.headers.get(name, "").strip()
        if value:
            if len(value) > 128:
                raise ApiError(400, f"{name} is too long")
            return value
    raise ApiError(400, f"The delivery has no {' or '.join(names)} header")


def _accept(repository_id: int, provider: str) -> tuple[dict[str, Any], int]:
    repo = Repository.get_or_none(Repository.id == repository_id, Repository.provider == provider)
    body = request.get_data(cache=True)
    if not _signed(repo, provider, body):
        raise ApiError(401, "The delivery's signature does not match this repository's hook secret")
    assert repo is not None
    event, delivery_id = request.headers.get(EVENT_HEADERS[provider], ""), _header(DELIVERY_HEADERS[provider])
    try:
        payload = json.loads(body)
        activity = activity_of(provider, event, payload)
    except (ValueError, PayloadError) as error:
        raise ApiError(400, f"The delivery's body is not a {provider} {event or 'event'}: {error}") from None
    if activity is None:
        return {"status": "ignored", "delivery_id": delivery_id}, 200
    stored = receive(repo, delivery_id, event, payload, ingest_hook)
    if stored is None:
        return {"status": "duplicate", "delivery_id": delivery_id}, 200
    try:
        outbox.send(stored[1], ingest_hook)
    except outbox.BROKER_ERRORS:  # stored: the sweeper sends it when the broker is back
        log.warning("broker unavailable; hook delivery left for the sweeper", extra={"delivery_id": delivery_id})
    return {"status": "accepted", "delivery_id": delivery_id}, 202


@blp.route("/<int:repository_id>/hooks/github")
class GitHubHook(MethodView):
    @blp.response(202, HookAnswerSchema)
    @blp.alt_response(200, schema=HookAnswerSchema, description="A duplicate, or an event not read (ping, ...)")
    def post(self, repository_id: int) -> tuple[dict[str, Any], int]:
        """A GitHub delivery: push, pull_request, pull_request_review (ping and others are answered, not read)"""
        return _accept(repository_id, "github")


@blp.route("/<int:repository_id>/hooks/gitlab")
class GitLabHook(MethodView):
    @blp.response(202, HookAnswerSchema)
    @blp.alt_response(200, schema=HookAnswerSchema, description="A duplicate, or an event not read")
    def post(self, repository_id: int) -> tuple[dict[str, Any], int]:
        """A GitLab delivery: push, merge request (with approvals) and note hooks"""
        return _accept(repository_id, "gitlab")
