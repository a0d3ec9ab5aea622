"""Cross-origin access to `/api/*` (CORS, through flask-cors) and the security headers every response carries
(seeds 001 and 002).

CORS: only the origins of CORS_ORIGINS (none by default: browsers on other origins are refused), credentials
only when CORS_ALLOW_CREDENTIALS and the origins are named one by one (the settings refuse it with `*`).
Headers: `nosniff`, `Referrer-Policy: no-referrer` and `Content-Security-Policy: frame-ancestors 'none'` where a
page has no policy of its own (the dashboard's is stricter and stays), and HSTS when the request came over TLS
or TRUST_PROXY_TLS says a proxy in front terminates it.
"""
from __future__ import annotations

import re

from flask import Flask, Response, request
from flask_cors import CORS

from core.settings import Settings

API_PATHS = r"/api/*"
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
ALLOWED_HEADERS = ("Authorization", "Content-Type", "X-API-Key", "Idempotency-Key", "X-Request-ID")
EXPOSED_HEADERS = ("X-Request-ID", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset",
                   "Retry-After", "Location", "Idempotent-Replayed")
PREFLIGHT_MAX_AGE = 600
SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}
FRAME_POLICY = "frame-ancestors 'none'"
HSTS = "max-age=31536000; includeSubDomains"


def exact_origin(origin: str) -> re.Pattern[str]:
    """An origin matched whole and without regard to case: flask-cors reads a string with `[` (an IPv6 host) as
    a regular expression and matches expressions at the start only."""
    return re.compile(re.escape(origin) + r"\Z", re.IGNORECASE)


def init_cors(app: Flask, settings: Settings) -> None:
    """CORS on `/api/*` for the configured origins; nothing at all (no cross-origin access) when none are."""
    if not settings.cors_origins:
        return
    any_origin = settings.cors_origins == ("*",)
    CORS(app, resources={API_PATHS: {
        "origins": "*" if any_origin else [exact_origin(o) for o in settings.cors_origins],
        "send_wildcard": any_origin,
        "supports_credentials": settings.cors_allow_credentials and not any_origin,
        "methods": list(METHODS), "allow_headers": list(ALLOWED_HEADERS), "expose_headers": list(EXPOSED_HEADERS),
        "max_age": PREFLIGHT_MAX_AGE, "vary_header": True,
    }})


def init_security_headers(app: Flask, settings: Settings) -> None:
    """Add the security headers to every response, after the views' and blueprints' own."""
    trust_tls = settings.trust_proxy_tls

    @app.after_request
    def _security_headers(response: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        response.headers.setdefault("Content-Security-Policy", FRAME_POLICY)
        if trust_tls or request.is_secure:
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        return response
