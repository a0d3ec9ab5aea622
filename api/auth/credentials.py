"""What a request presents to authenticate: an access token (`Authorization: Bearer <JWT>`) or an API key
(`X-API-Key: cvk_...`, or `Authorization: Bearer cvk_...`), and, for a key, what it may do."""
from __future__ import annotations

from flask import g, request

from api.auth.permissions import permissions_for
from api.errors import ApiError
from api.services import services
from domain.api_keys import find, looks_like_key, record_use
from models.api_key import ApiKey
from models.user import User

API_KEY_HEADER = "X-API-Key"
# One message for a key that is malformed, unknown, expired, revoked or whose owner is inactive.
INVALID_KEY = "Invalid API key"


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def presented_key() -> str | None:
    """The API key the request carries: `X-API-Key` (which wins), or a Bearer credential that is one."""
    sent = request.headers.get(API_KEY_HEADER, "").strip()
    if sent:
        return sent
    token = bearer_token()
    return token if token is not None and looks_like_key(token) else None


def request_key() -> ApiKey | None:
    """The usable key the request presents, with its owner: read once per request (the rate limiter asks
    before the guard does), never kept longer, so a revocation holds on the next request."""
    if "api_key" not in g:
        secret = presented_key()
        g.api_key = find(secret) if secret is not None else None
    key: ApiKey | None = g.api_key
    return key


def key_permissions(key: ApiKey) -> frozenset[str]:
    """The key's scopes that its owner's role grants today: a demoted owner's keys lose power at once."""
    return frozenset(key.scopes) & frozenset(permissions_for(key.owner.role))


def authenticate_key() -> tuple[User, frozenset[str]]:
    """The owner of the API key the request presents and what the key may do, or 401; notes the key's use."""
    key = request_key()
    if key is None:
        raise ApiError(401, INVALID_KEY, headers={"WWW-Authenticate": "Bearer"})
    record_use(services().redis, key)
    return key.owner, key_permissions(key)


def using_api_key() -> bool:
    """Did this request authenticate with an API key (rather than a signed-in session's token)?"""
    return g.get("api_key") is not None
