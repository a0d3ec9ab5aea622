"""Outbound URLs users give us (webhook targets, cluster and CI API URLs): refused at creation when they
point inside (SSRF); the worker checks again, after resolving, when it connects."""
from __future__ import annotations

from typing import Any

from api.errors import ApiError
from api.services import services
from workers.webhooks.ssrf import UnsafeTarget, resolve


def check_target(url: str, allow_private: bool, field: str = "url") -> None:
    try:
        resolve(url, allow_private=allow_private)
    except UnsafeTarget as exc:
        raise ApiError(422, "The request is not valid", details={field: [f"Refused: {exc}."]}) from None


def check_api_url(body: dict[str, Any]) -> None:
    """A cluster's or CI source's `api_url`, when the body sets one (POLL_ALLOW_PRIVATE lets private ones in)."""
    if "api_url" in body:
        check_target(body["api_url"], services().settings.poll_allow_private, "api_url")
