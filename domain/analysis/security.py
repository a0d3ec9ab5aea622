"""Security: bandit findings, each with a short recommendation."""
from __future__ import annotations

import json
from collections import Counter
from typing import Any

from domain.analysis.files import EXCLUDED_DIRS, relative
from domain.analysis.tools import ToolContext, failed

SEVERITIES = ("HIGH", "MEDIUM", "LOW")
DETAIL_LIMIT = 50
_EVAL = "Replace eval() with ast.literal_eval() or explicit parsing of the input."
_SHELL = "Pass an argument list with shell=False; if a shell is unavoidable, quote every input with shlex.quote."
_HARDCODED = "Move the secret out of the source into an environment variable or a secrets manager."
_HASH = "Use SHA-256 or better, or pass usedforsecurity=False when the hash does not protect anything."
_XML = "Parse untrusted XML with defusedxml instead of the standard library parsers."
_PICKLE = "Do not load pickle/marshal/shelve data from untrusted sources; use JSON or another safe format."
ADVICE: dict[str, tuple[str, str]] = {
    # test id -> (short label used in summaries, recommendation)
    "B101": ("assert", "Do not rely on assert for runtime checks; python -O removes it."),
    "B102": ("exec", "Avoid exec(); it runs whatever code it is given."),
    "B103": ("loose file permissions", "Do not make files world-writable; use modes like 0o600 or 0o644."),
    "B104": ("bind to all interfaces", "Bind to a specific interface unless listening on 0.0.0.0 is intended."),
    "B105": ("hardcoded password", _HARDCODED),
    "B106": ("hardcoded password", _HARDCODED),
    "B107": ("hardcoded password", _HARDCODED),
    "B108": ("hardcoded temp path", "Use tempfile.mkstemp or TemporaryDirectory instead of a fixed /tmp path."),
    "B110": ("try/except/pass", "Handle or at least log the exception instead of silently passing."),
    "B112": ("try/except/continue", "Handle or at least log the exception instead of silently continuing."),
    "B113": ("request without timeout", "Pass a timeout to every requests call so it cannot hang forever."),
    "B201": ("Flask debug mode", "Never run Flask with debug=True where others can reach it: the debugger runs code."),
    "B301": ("pickle", _PICKLE),
    "B302": ("marshal", _PICKLE),
    "B303": ("weak hash", _HASH),
    "B304": ("weak cipher", "Use a modern cipher such as AES-GCM from the cryptography package."),
    "B306": ("mktemp", "Use tempfile.mkstemp instead of the race-prone tempfile.mktemp."),
    "B307": ("eval", _EVAL),
    "B308": ("mark_safe", "Only mark strings safe after escaping every untrusted part of them."),
    "B310": ("urlopen", "Check the URL scheme before urlopen; file:// and custom schemes are accepted."),
    "B311": ("non-cryptographic random", "Use the secrets module for tokens, passwords and other secrets."),
    "B314": ("XML parsing", _XML),
    "B318": ("XML parsing", _XML),
    "B320": ("XML parsing", _XML),
    "B324": ("weak hash", _HASH),
    "B403": ("pickle import", _PICKLE),
    "B404": ("subprocess import", "Check every subprocess call passes an argument list built from trusted values."),
    "B501": ("TLS verification off", "Keep TLS certificate verification on (verify=True)."),
    "B506": ("yaml.load", "Use yaml.safe_load, which cannot construct arbitrary Python objects."),
    "B602": ("subprocess with shell=True", _SHELL),
    "B603": ("subprocess call", "Make sure the program and arguments of this subprocess call are not user-controlled."),
    "B604": ("call with shell=True", _SHELL),
    "B605": ("process started with a shell", "Replace os.system/os.popen with subprocess.run and an argument list."),
    "B607": ("partial executable path", "Call executables by absolute path or resolve them first with shutil.which."),
    "B608": ("SQL built from strings", "Use parameterised queries instead of formatting values into SQL."),
    "B701": ("Jinja2 autoescape off", "Create Jinja2 environments with autoescape enabled."),
}


def label(test_id: str, test_name: str) -> str:
    """Short human name of a bandit test, e.g. 'eval' for B307."""
    return ADVICE[test_id][0] if test_id in ADVICE else test_name.replace("_", " ")


def recommendation(test_id: str, test_name: str, more_info: str) -> str:
    """One sentence on how to fix a bandit finding; unknown tests point to bandit's documentation."""
    if test_id in ADVICE:
        return ADVICE[test_id][1]
    return f"Review this {test_name.replace('_', ' ')} finding ({test_id}); see {more_info}"


def run_bandit(ctx: ToolContext) -> tuple[list[dict[str, Any]], list[str]]:
    """Bandit findings, most severe first, with paths relative to the root; and files it could not read."""
    # Bandit picks up a `.bandit` file anywhere under the target, which could skip every test; an
    # explicit empty ini wins over that discovery.
    ini = ctx.scratch / "bandit.ini"
    ini.write_text("[bandit]\n")
    # Patterns, not plain directory names: bandit turns an existing directory into `dir/*` and also
    # excludes any path merely containing a plain name.
    excludes = ",".join(("*/.*", *(f"*/{name}/*" for name in EXCLUDED_DIRS)))
    result = ctx.run("bandit", "-r", ".", "-f", "json", "-q", "--ini", str(ini), "-x", excludes)
    try:
        report = json.loads(result.stdout)
    except ValueError:
        raise failed(result, "gave no report") from None
    if result.returncode not in (0, 1) or not isinstance(report, dict):
        raise failed(result, "gave no report")
    findings = [_finding(ctx, item) for item in report.get("results", [])]
    kept = sorted((f for f in findings if f is not None), key=lambda f: (
        SEVERITIES.index(f["severity"]), f["file"], f["line"], f["test_id"]))
    errors = sorted(f"{relative(ctx.root, e.get('filename', '')) or '?'}: {e.get('reason', '')}"
                    for e in report.get("errors", []))
    return kept, errors


def _finding(ctx: ToolContext, item: dict[str, Any]) -> dict[str, Any] | None:
    file = relative(ctx.root, item.get("filename", ""))
    severity = str(item.get("issue_severity", "")).upper()
    if file is None or severity not in SEVERITIES:
        return None
    if item.get("test_id") == "B101" and _is_test_file(file):
        return None  # assert is how pytest tests check things; flagging every one buries real issues
    test_id, test_name = item.get("test_id", ""), item.get("test_name", "")
    more_info = item.get("more_info", "")
    return {
        "issue": f"{test_id}: {item.get('issue_text', '')}", "severity": severity, "file": file,
        "line": item.get("line_number", 0), "recommendation": recommendation(test_id, test_name, more_info),
        "test_id": test_id, "label": label(test_id, test_name), "confidence": item.get("issue_confidence"),
        "more_info": more_info,
    }


def _is_test_file(path: str) -> bool:
    parts = path.split("/")
    name = parts[-1]
    return bool({"tests", "test"} & set(parts[:-1])) or name.startswith("test_") or name.endswith("_test.py") \
        or name == "conftest.py"


def public(finding: dict[str, Any]) -> dict[str, Any]:
    """The API's shape of a security issue: {issue, severity, file, line, recommendation}."""
    return {key: finding[key] for key in ("issue", "severity", "file", "line", "recommendation")}


def details(findings: list[dict[str, Any]], errors: list[str]) -> dict[str, Any]:
    """Bandit's part of the analysis details."""
    counts = Counter(f["severity"] for f in findings)
    return {
        "count": len(findings), "by_severity": {s: counts[s] for s in SEVERITIES},
        "findings": findings[:DETAIL_LIMIT], "errors": errors[:DETAIL_LIMIT],
    }
