"""schemathesis against the live API (gunicorn, a real worker behind it) with a user's token, every phase,
a bounded time: no request it can make may end in a 5xx, answer a status code or content type that OpenAPI
does not document, break its documented response schema, or be accepted while the schema says it is
invalid. The full run (5 minutes) is in README's reliability notes; this short one keeps the suite honest."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import requests

from tests.conftest import PASSWORD, create_user
from tests.support.processes import BIN

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]
SECONDS = 45
CHECKS = ("not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,"
          "negative_data_rejection")


def test_no_generated_request_makes_the_server_fail(api_server: str, tmp_path: Path) -> None:
    create_user("fuzzer")
    token = requests.post(f"{api_server}/api/v1/auth/login", json={"username": "fuzzer", "password": PASSWORD},
                          timeout=10).json()["access_token"]
    done = subprocess.run(
        [str(BIN / "schemathesis"), "run", f"{api_server}/openapi.json", "--header", f"Authorization: Bearer {token}",
         "--checks", CHECKS, "--max-time", str(SECONDS), "--max-examples", "20", "--seed", "1",
         "--exclude-path", "/api/v1/auth/logout",  # it would end the token's session for the rest of the run
         "--no-color"],
        cwd=tmp_path, capture_output=True, text=True, timeout=SECONDS + 120)
    summary = done.stdout[done.stdout.find("SUMMARY"):] if "SUMMARY" in done.stdout else done.stdout[-3000:]
    assert done.returncode == 0, f"{summary}\n{done.stderr[-2000:]}"
    assert "Server error" not in done.stdout and "generated" in done.stdout and "Failures:" not in done.stdout, summary
