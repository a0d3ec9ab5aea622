"""Helpers of the polling API tests (tests/api/test_polling_*.py): Kubernetes clusters and CI sources added
through the API, list envelopes checked, and 404s for every route of another user's object."""
from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.support.envelope import assert_envelope

CLUSTERS, SOURCES, PIPELINES = "/api/v1/kubernetes/clusters", "/api/v1/ci/sources", "/api/v1/pipelines"
PUBLIC = "https://93.184.216.34:6443"  # an IP literal: no DNS needed, and public
TOKEN, CI_TOKEN = "kube-token-s3cr3t-0123456789", "ghp_ci-token-s3cr3t-0123456789"
DROP = object()  # a body value meaning "leave this field out"


def _body(defaults: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in {**defaults, **body}.items() if value is not DROP}


def add_cluster(client: FlaskClient, headers: dict[str, str], **body: Any) -> Any:
    return client.post(CLUSTERS, headers=headers, json=_body({"name": "prod", "api_url": PUBLIC, "token": TOKEN}, body))


def add_source(client: FlaskClient, headers: dict[str, str], **body: Any) -> Any:
    defaults = {"provider": "github", "repository": "acme/app", "api_url": PUBLIC, "token": CI_TOKEN}
    return client.post(SOURCES, headers=headers, json=_body(defaults, body))


def listed(client: FlaskClient, url: str, headers: dict[str, str], **query: Any) -> dict[str, Any]:
    response = client.get(url, headers=headers, query_string=query)
    assert response.status_code == 200, response.get_json()
    body: dict[str, Any] = response.get_json()
    assert set(body) == {"items", "total", "limit", "offset"} and len(body["items"]) <= body["limit"]
    return body


def assert_not_found(client: FlaskClient, headers: dict[str, str], base: str, *more: tuple[str, str]) -> None:
    """get, patch, delete and poll (and `more` (method, suffix)) of `base` all answer 404."""
    for method, suffix in (("get", ""), ("patch", ""), ("delete", ""), ("post", "/poll"), *more):
        response = getattr(client, method)(base + suffix, headers=headers, json={"poll_interval_seconds": 99})
        assert_envelope(response, 404, "NOT_FOUND")
