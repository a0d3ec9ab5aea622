"""A deprecated route keeps answering, says so in every answer (RFC 9745 `Deprecation`, RFC 8594 `Sunset`, a
successor link) and is marked in OpenAPI. First user: `/api/v1/analytics/dora`, now `dora-metrics` (seed 002)."""
from __future__ import annotations

from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import pytest
from flask.testing import FlaskClient

from api.blueprint import Blueprint
from api.deprecation import deprecated
from tests.support.envelope import assert_envelope

OLD, NEW = "/api/v1/analytics/dora", "/api/v1/analytics/dora-metrics"
WEEK = {"start_date": "2026-11-01", "end_date": "2026-11-07", "granularity": "weekly"}


def assert_deprecation_headers(headers: Any) -> None:
    deprecation = headers["Deprecation"]
    assert deprecation.startswith("@") and deprecation[1:].isdigit(), deprecation  # an RFC 9651 date
    assert datetime.fromtimestamp(int(deprecation[1:]), UTC) == datetime(2026, 12, 7, tzinfo=UTC)
    assert parsedate_to_datetime(headers["Sunset"]) == datetime(2027, 12, 7, tzinfo=UTC)
    assert headers["Sunset"].endswith(" GMT")  # an HTTP-date
    assert headers["Link"] == f'<{NEW}>; rel="successor-version"'


def test_the_old_path_answers_the_same_as_the_new_one_with_notice(client: FlaskClient, auth: Any) -> None:
    user = auth("user")
    old, new = (client.get(path, headers=user, query_string=WEEK) for path in (OLD, NEW))
    assert old.status_code == new.status_code == 200
    assert old.get_json() == new.get_json() and old.get_json()["granularity"] == "weekly"
    assert_deprecation_headers(old.headers)
    assert not {"Deprecation", "Sunset"} & set(new.headers)


def test_errors_on_the_old_path_carry_the_notice_too(client: FlaskClient, auth: Any) -> None:
    refused = client.get(OLD, query_string=WEEK)
    assert_envelope(refused, 401, "UNAUTHORIZED")
    assert_deprecation_headers(refused.headers)
    invalid = client.get(OLD, headers=auth("user"), query_string={"start_date": "2026-11-01"})
    assert_envelope(invalid, 422, "VALIDATION_ERROR")
    assert_deprecation_headers(invalid.headers)
    assert_envelope(client.get(NEW, headers=auth("user"), query_string={"start_date": "x"}), 422, "VALIDATION_ERROR")


def test_openapi_marks_only_the_old_path_deprecated(client: FlaskClient) -> None:
    paths = client.get("/openapi.json").get_json()["paths"]
    assert paths[OLD]["get"]["deprecated"] is True and NEW in paths[OLD]["get"]["description"]
    assert "deprecated" not in paths[NEW]["get"]
    assert paths[OLD]["get"]["parameters"] == paths[NEW]["get"]["parameters"]


def test_a_sunset_must_come_after_the_deprecation() -> None:
    with pytest.raises(ValueError, match="sunset"):
        deprecated(Blueprint("x", __name__), since=date(2026, 12, 7), sunset=date(2026, 12, 7), successor="/y")
