"""One code-quality snapshot of a repository: its default branch cloned shallowly with `git` (the URL checked and
pinned as a build's checkout is: `domain.builds.checkout`), analysed by every analyser, classified and priced
(`debt`), and stored as a `QualitySnapshot`, done or failed."""
from __future__ import annotations

import base64
import shutil
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from core.settings import Settings
from domain.analysis.analyser import ANALYSIS_TYPES
from domain.analysis.runner import analyse_source
from domain.analysis.tools import AnalysisError
from domain.builds.checkout import CheckoutError, head_branch
from domain.quality.debt import figures, rule_classes
from models.quality import QualitySnapshot
from models.repository import Repository

# The user name each provider takes beside a token over https (GitHub: any; GitLab: oauth2 for OAuth tokens,
# any for personal and project access tokens).
TOKEN_USERS = {"github": "x-access-token", "gitlab": "oauth2"}


def credentials(repository: Repository) -> dict[str, str]:
    """git configuration, as environment variables (never on the command line, where `ps` shows it), that sends
    the repository's token to its own https host and nowhere else; none without a token or over anything else."""
    parts = urlsplit(repository.url)
    if not repository.token or parts.scheme != "https" or not parts.hostname:
        return {}
    pair = f"{TOKEN_USERS.get(repository.provider, 'x-access-token')}:{repository.token}"
    header = "Authorization: Basic " + base64.b64encode(pair.encode()).decode()
    return {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": f"http.https://{parts.netloc}/.extraHeader",
            "GIT_CONFIG_VALUE_0": header}


def redacted(text: str, repository: Repository) -> str:
    """`text` without the repository's token, in either form git could echo it."""
    for secret in filter(None, (repository.token, *credentials(repository).values())):
        if len(secret) > 3:
            text = text.replace(secret, "[redacted]")
    return text


def take(settings: Settings, repository: Repository, root: Path) -> QualitySnapshot:
    """Clone and analyse the repository's default branch in a fresh workspace under `root`, and store the
    snapshot: done with its figures, or failed with why (a checkout refused or failing, an analyser failing)."""
    root.mkdir(parents=True, exist_ok=True)
    workspace = Path(tempfile.mkdtemp(prefix=f"quality-{repository.id}-", dir=root))
    try:
        results = analyse_source(settings, repository.url, None, workspace, list(ANALYSIS_TYPES),
                                 git_env=credentials(repository))
        return store_done(repository, results, head_branch(workspace / "src", workspace))
    except CheckoutError as exc:
        return store_failed(repository, f"checkout failed: {exc}")
    except AnalysisError as exc:
        return store_failed(repository, str(exc))
    finally:
        shutil.rmtree(workspace, ignore_errors=True)


def store_done(repository: Repository, results: dict[str, Any], branch: str | None) -> QualitySnapshot:
    details = results["details"]
    by_class = rule_classes(details)
    return QualitySnapshot.create(
        repository=repository.id, branch=branch, commit_sha=results["commit"], status="done",
        test_coverage=results["coverage_percent"], **figures(by_class),
        details={"by_class": dict(sorted(by_class.items())), "python_files": details.get("python_files", 0),
                 "lines": details.get("lines", 0), "quality_score": results["quality_score"],
                 "supported": results["supported"]})


def store_failed(repository: Repository, error: str) -> QualitySnapshot:
    """A failed snapshot: it counts in no figure, and says why (the token never in it)."""
    return QualitySnapshot.create(repository=repository.id, status="failed", error=redacted(error, repository)[-2000:])
