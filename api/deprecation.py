"""Deprecated routes: they keep working, say so in every answer, and OpenAPI marks them.

A deprecated operation answers with `Deprecation: @<unix time>` (RFC 9745), `Sunset: <HTTP-date>` (RFC 8594)
and `Link: <successor>; rel="successor-version"`, on errors too, so a client learns before the sunset what to
move to. Use it on a view method, above flask-smorest's decorators:

    @deprecated(blp, since=date(2026, 12, 7), sunset=date(2027, 12, 7), successor="/api/v1/analytics/dora-metrics")
"""
from __future__ import annotations

import calendar
import functools
from collections.abc import Callable
from datetime import date
from email.utils import formatdate
from typing import Any, TypeVar

from flask import Response, after_this_request

from api.blueprint import Blueprint

F = TypeVar("F", bound=Callable[..., Any])


def headers(since: date, sunset: date, successor: str) -> dict[str, str]:
    """The three headers of a deprecated operation."""
    return {"Deprecation": f"@{calendar.timegm(since.timetuple())}",
            "Sunset": formatdate(calendar.timegm(sunset.timetuple()), usegmt=True),
            "Link": f'<{successor}>; rel="successor-version"'}


def deprecated(blp: Blueprint, *, since: date, sunset: date, successor: str) -> Callable[[F], F]:
    if sunset <= since:
        raise ValueError("a route's sunset must come after its deprecation")
    sent = headers(since, sunset, successor)
    note = (f"Deprecated since {since.isoformat()}, removed after {sunset.isoformat()}: use `{successor}`, which "
            "answers the same.")

    def mark(view: F) -> F:
        @functools.wraps(view)
        def announced(*args: Any, **kwargs: Any) -> Any:
            @after_this_request
            def add_headers(response: Response) -> Response:
                response.headers.update(sent)
                return response

            return view(*args, **kwargs)

        documented: F = blp.doc(deprecated=True, description=f"{note}\n\n{view.__doc__ or ''}".strip())(announced)
        return documented

    return mark
