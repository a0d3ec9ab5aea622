"""An organization and its repositories, in the real database, for the engineering tests."""
from __future__ import annotations

import pytest
from flask import Flask

from models.db import db
from models.organization import Organization
from models.repository import Repository

HOOK_SECRET = "whsec-plain-3f9a1c7e5b0d"


@pytest.fixture
def org(app: Flask) -> Organization:
    with db.connection_context():
        return Organization.create(name="Acme")


def make_repository(org: Organization, provider: str, path: str = "acme/widgets") -> Repository:
    host, api = (("https://github.com", "https://api.github.com") if provider == "github"
                 else ("https://gitlab.example.com", "https://gitlab.example.com/api/v4"))
    with db.connection_context():
        return Repository.create(
            organization=org, name=path.split("/")[1], url=f"{host}/{path}", full_name=path, provider=provider,
            api_url=api, hook_secret=HOOK_SECRET)


@pytest.fixture
def github_repo(org: Organization) -> Repository:
    return make_repository(org, "github")


@pytest.fixture
def gitlab_repo(org: Organization) -> Repository:
    return make_repository(org, "gitlab")
