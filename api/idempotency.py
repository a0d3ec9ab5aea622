"""Idempotent POSTs (docs/idempotency.md): a POST sent with an `Idempotency-Key` header does its work once.

The first request with a key claims it in Redis (`SET NX`, for IDEMPOTENCY_LOCK_SECONDS, so a crashed process
frees it); its successful (2xx) response is then stored, encrypted, for IDEMPOTENCY_TTL_SECONDS, and answered
again, with `Idempotent-Replayed: true`, to a retry with the same key and the same request (method, path,
query and body bytes). The same key with another request answers 422 IDEMPOTENCY_MISMATCH; a retry while the
first is in flight 409 IDEMPOTENCY_IN_FLIGHT with Retry-After. An error response is not stored: by the API's
contract an error changed nothing, so the key is freed and a retry runs afresh.

Keys are per principal: the user behind an access token, or the API key. The guard (`auth_required`) calls
`idempotent` once it has authenticated and authorised the request, so a stored response is only ever shown
to the principal that caused it, while it may still call the route. Every guarded POST is covered but signing
in and out (`EXEMPT_BLUEPRINTS`); public POSTs (login, refresh, the providers' hooks) are not."""
from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import redis
from flask import Flask, Response, current_app, g, request

from api.auth.credentials import using_api_key
from api.errors import IDEMPOTENCY_IN_FLIGHT, IDEMPOTENCY_MISMATCH, ApiError, invalid
from core.crypto import KeyRing, SecretUnreadable, derived_key
from core.settings import Settings

log = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
EXEMPT_BLUEPRINTS = frozenset({"auth", "github_auth"})  # sessions (log in and out, link GitHub), not resources
RETRY_AFTER_SECONDS = 1
KEY_FORMAT = "1 to 255 printable ASCII characters, neither starting nor ending with a space"
KEY_PATTERN = re.compile(r"[\x21-\x7e](?:[\x20-\x7e]{0,253}[\x21-\x7e])?")
_PREFIX = "conveyor:idempotency:"
_EXTENSION = "conveyor_idempotency"
_UNSTORED_HEADERS = frozenset({"content-length", "set-cookie"})  # recomputed; never a session's cookie
# Settle a claim only while this request still holds it: a claim that expired may be another request's now.
_SETTLE = """if redis.call('get', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '' then redis.call('del', KEYS[1]) else redis.call('set', KEYS[1], ARGV[2], 'EX', ARGV[3]) end
return 1"""


@dataclass(frozen=True)
class Idempotency:
    """What the app factory installs: the Redis that holds the records across processes, for how long, and
    the secret that (with each key) seals the stored responses."""

    client: redis.Redis
    ttl: int
    lock_ttl: int
    secret_key: str


def init_idempotency(app: Flask, settings: Settings, client: redis.Redis) -> None:
    app.extensions[_EXTENSION] = Idempotency(client, settings.idempotency_ttl, settings.idempotency_lock_ttl,
                                             settings.secret_key)


def covered(blueprint: str | None, method: str) -> bool:
    """Does a guarded route's method honour `Idempotency-Key`? Every POST but signing in and out."""
    return method == "POST" and blueprint not in EXEMPT_BLUEPRINTS


def idempotent(view: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """`view(*args, **kwargs)`, run once per principal and `Idempotency-Key` (every time without one)."""
    sent = request.headers.get(HEADER)
    config: Idempotency | None = current_app.extensions.get(_EXTENSION)
    if sent is None or config is None or not covered(request.blueprint, request.method):
        return view(*args, **kwargs)
    if not KEY_PATTERN.fullmatch(sent):
        raise invalid(HEADER, f"Must be {KEY_FORMAT}.")
    slot = Slot(config, sent)
    stored = slot.claim()
    if stored is not None:
        return slot.replay(stored)
    try:
        response = current_app.make_response(view(*args, **kwargs))
    except BaseException:
        slot.settle(None)
        raise
    slot.settle(response if 200 <= response.status_code < 300 and not response.is_streamed else None)
    return response


class Slot:
    """One principal's record for one key: `{state: in_flight | done, fingerprint, claim | response}`."""

    def __init__(self, config: Idempotency, sent: str) -> None:
        principal = f"key:{g.api_key.id}" if using_api_key() else f"user:{g.user.id}"
        self.config, self.sent = config, sent
        self.key = f"{_PREFIX}{principal}:{hashlib.sha256(sent.encode()).hexdigest()}"
        self.fingerprint = _fingerprint()
        self.marker = json.dumps({"state": "in_flight", "fingerprint": self.fingerprint,
                                  "claim": secrets.token_hex(8)})

    def claim(self) -> dict[str, Any] | None:
        """None when this request now holds the key; else the stored response of the same request, or 422 (the
        key was used with another request) or 409 (the first is still in flight)."""
        client = self.config.client
        for _ in range(3):  # the record can go between SET and GET (freed after an error, or expired)
            if client.set(self.key, self.marker, nx=True, ex=self.config.lock_ttl):
                return None
            raw = cast(str | None, client.get(self.key))
            if raw is not None:
                return self._answer(json.loads(raw))
        raise _in_flight()

    def _answer(self, record: dict[str, Any]) -> dict[str, Any]:
        if record["fingerprint"] != self.fingerprint:
            raise ApiError(422, f"This {HEADER} was used with another request (method, path, query or body); "
                                "use a new key for a new request", code=IDEMPOTENCY_MISMATCH)
        if record["state"] != "done":
            raise _in_flight()
        try:
            stored: dict[str, Any] = json.loads(self._seal().decrypt(record["response"]))
        except SecretUnreadable:  # sealed under another SECRET_KEY: refuse rather than do the work again
            raise ApiError(422, f"The answer stored for this {HEADER} can no longer be read (the server's secret "
                                "changed); use a new key", code=IDEMPOTENCY_MISMATCH) from None
        return stored

    def replay(self, stored: dict[str, Any]) -> Response:
        response = Response(base64.b64decode(stored["body"]), status=stored["status"], headers=stored["headers"])
        response.headers[REPLAYED_HEADER] = "true"
        return response

    def settle(self, response: Response | None) -> None:
        """Store `response` for the key's TTL, or (None) free the key, while this request still holds it."""
        record = "" if response is None else json.dumps({
            "state": "done", "fingerprint": self.fingerprint, "response": self._seal().encrypt(json.dumps({
                "status": response.status_code, "body": base64.b64encode(response.get_data()).decode(),
                "headers": [[name, value] for name, value in response.headers.items()
                            if name.lower() not in _UNSTORED_HEADERS]}))})
        try:
            self.config.client.eval(_SETTLE, 1, self.key, self.marker, record, self.config.ttl)
        except redis.RedisError:  # the work is done and answered; the claim expires on its own
            log.warning("could not settle an idempotency key", exc_info=True)

    def _seal(self) -> KeyRing:
        """Responses at rest are encrypted under the server's secret and the client's key (kept only as a
        digest): some are shown once, such as a new API key or webhook secret."""
        return KeyRing([derived_key(f"idempotency\0{self.config.secret_key}\0{self.key}\0{self.sent}")])


def _in_flight() -> ApiError:
    return ApiError(409, f"A request with this {HEADER} is still in progress; retry shortly",
                    code=IDEMPOTENCY_IN_FLIGHT, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


def _fingerprint() -> str:
    """What makes two requests the same one: method, path, query and body, each length-prefixed."""
    digest = hashlib.sha256()
    for part in (request.method.encode(), request.path.encode(), request.query_string, request.get_data(cache=True)):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()
