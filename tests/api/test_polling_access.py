"""The polling routes: viewers only read, every route needs a token, and the OpenAPI document lists them."""
from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.support.envelope import assert_envelope
from tests.support.polling import CLUSTERS, PIPELINES, SOURCES, add_cluster, add_source, listed


def test_viewers_only_read(client: FlaskClient, auth: Any) -> None:
    owner, viewer = auth("user"), auth("viewer")
    add_cluster(client, owner)
    source = f"{SOURCES}/{add_source(client, owner).get_json()['id']}"
    assert_envelope(add_cluster(client, viewer, name="mine"), 403, "FORBIDDEN")
    assert_envelope(add_source(client, viewer, repository="acme/mine"), 403, "FORBIDDEN")
    for base in (f"{CLUSTERS}/prod", source):
        for method, url in (("patch", base), ("delete", base), ("post", f"{base}/poll")):
            assert_envelope(getattr(client, method)(url, headers=viewer, json={}), 403, "FORBIDDEN")
    assert listed(client, CLUSTERS, viewer)["total"] == 0 and listed(client, SOURCES, viewer)["total"] == 0
    assert [client.get(url, headers=owner).status_code for url in (f"{CLUSTERS}/prod", source)] == [200, 200]


@pytest.mark.parametrize(("method", "url"), [
    ("get", CLUSTERS), ("post", CLUSTERS), ("get", f"{CLUSTERS}/prod/pods"), ("post", f"{CLUSTERS}/prod/poll"),
    ("get", SOURCES), ("post", SOURCES), ("get", PIPELINES), ("get", f"{PIPELINES}/1"),
    ("get", "/api/v1/analytics/dora?start_date=2026-01-01&end_date=2026-01-02"),
])
def test_no_token_is_401(client: FlaskClient, method: str, url: str) -> None:
    assert_envelope(getattr(client, method)(url, json={}), 401, "UNAUTHORIZED")


def test_the_openapi_document_lists_the_polling_routes(client: FlaskClient) -> None:
    paths = client.get("/openapi.json").get_json()["paths"]
    for path in ("/api/v1/kubernetes/clusters", "/api/v1/kubernetes/clusters/{name}/pods", "/api/v1/ci/sources",
                 "/api/v1/pipelines/{pipeline_id}", "/api/v1/analytics/dora"):
        assert path in paths, sorted(paths)
