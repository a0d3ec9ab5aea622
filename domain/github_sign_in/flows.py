"""Flows waiting for GitHub's answer, in Redis: a random `state` names each, and holds the PKCE verifier, the
redirect URI it was started for and (for a link) the user who started it. A state is taken once (read and
deleted in one transaction), and expires after FLOW_TTL_SECONDS: a second callback with it finds nothing."""
from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass

import redis

FLOW_TTL_SECONDS = 600
_KEY = "github_sign_in:flow:"


@dataclass(frozen=True)
class Flow:
    state: str
    code_verifier: str  # PKCE (RFC 7636): 64 characters of the unreserved set
    redirect_uri: str
    user_id: int | None = None  # a link started by this signed-in user; None for a sign-in


def start(client: redis.Redis, redirect_uri: str, user_id: int | None = None) -> Flow:
    flow = Flow(state=secrets.token_urlsafe(32), code_verifier=secrets.token_urlsafe(48), redirect_uri=redirect_uri,
                user_id=user_id)
    client.set(_KEY + flow.state, json.dumps(asdict(flow)), ex=FLOW_TTL_SECONDS, nx=True)
    return flow


def take(client: redis.Redis, state: str) -> Flow | None:
    """The flow `state` names, removed so that nobody takes it again; None when unknown, used or expired."""
    with client.pipeline(transaction=True) as pipe:
        pipe.get(_KEY + state)
        pipe.delete(_KEY + state)
        raw, deleted = pipe.execute()
    if raw is None or not deleted:
        return None
    return Flow(**json.loads(raw))
