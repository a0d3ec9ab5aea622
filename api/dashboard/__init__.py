"""The web dashboard: server-rendered page shells at `/`, `/webhooks`, `/alerts`, `/charts`, `/engineering` and
`/system`, whose small scripts read the same JSON API any client uses (with the token kept in sessionStorage).

Nothing here is fetched from outside: the pages, styles and scripts are this package's own files, and a
Content-Security-Policy keeps it that way (no inline script, no other origin).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import Blueprint, Response, jsonify, make_response, render_template, request

from api.routes.health import VERSION
from api.services import services

blp = Blueprint("ui", __name__, template_folder="templates", static_folder="static",
                static_url_path="/ui/static")


@dataclass(frozen=True)
class Page:
    name: str
    path: str
    title: str


PAGES = (
    Page("builds", "/", "Builds"),
    Page("webhooks", "/webhooks", "Webhooks"),
    Page("alerts", "/alerts", "Alerts"),
    Page("metrics", "/charts", "Metrics"),  # /metrics is Prometheus
    Page("engineering", "/engineering", "Engineering"),
    Page("system", "/system", "System"),
)

# 'self' covers same-origin WebSockets in current browsers; ws:/wss: are named for the older ones. No inline
# script can run. 'unsafe-eval' is there for browser automation (Playwright's wait_for_function evaluates its
# predicate with eval); the dashboard's own scripts never evaluate strings.
SECURITY_HEADERS = {
    "Content-Security-Policy": ("default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self'; "
                                "img-src 'self' data:; "
                                "connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; "
                                "form-action 'self'"),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def _view(page: Page) -> Callable[[], str | Response]:
    def render() -> str | Response:
        if page.path != "/":
            return render_template(f"{page.name}.html", page=page, pages=PAGES)
        response = jsonify(service_index()) if wants_json() else make_response(
            render_template(f"{page.name}.html", page=page, pages=PAGES))
        response.vary.add("Accept")  # one URL, two representations: caches must key on Accept
        return response

    render.__name__ = page.name
    return render


def wants_json() -> bool:
    """A client that prefers JSON to HTML (`Accept: application/json`); browsers, and `*/*`, get the page."""
    return request.accept_mimetypes.best_match(["text/html", "application/json"]) == "application/json"


def service_index() -> dict[str, str]:
    """What `GET /` tells a program (seed 002): which service this is, and where to read more."""
    return {"service": "Conveyor", "version": VERSION, "status": "healthy", "docs": "/docs", "health": "/health"}


for _page in PAGES:
    blp.add_url_rule(_page.path, _page.name, _view(_page), methods=["GET"])


@blp.context_processor
def _github_sign_in() -> dict[str, str | None]:
    """The "Sign in with GitHub" button shows when GitHub sign-in is configured and one of OAUTH_REDIRECT_URIS
    is this dashboard's (same host, the path `/`): GitHub sends the browser back there, signed in."""
    return {"github_redirect_uri": github_redirect_uri()}


def github_redirect_uri() -> str | None:
    config = services().settings.github
    if not config.enabled:
        return None
    return next((uri for uri in config.redirect_uris
                 if urlsplit(uri).netloc == request.host and urlsplit(uri).path in ("", "/")), None)


@blp.after_request
def _secure(response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    return response
