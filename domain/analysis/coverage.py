"""Coverage: the line rate of a Cobertura `coverage.xml` at the project root."""
from __future__ import annotations

import math
from pathlib import Path
from xml.parsers import expat

REPORT_NAME = "coverage.xml"
# Only the root element is needed, and it comes first; reading stops there, however big the report.
_CHUNK = 64 * 1024
_MAX_PROLOG = 1024 * 1024


class _Done(Exception):
    """Stops the parser once the root element has been seen."""


class _Rejected(Exception):
    """The document declares entities, which is how entity-expansion attacks start."""


def coverage_percent(root: Path) -> float | None:
    """`line-rate` of <coverage> in root/coverage.xml as a percentage rounded to 0.1, or None if unusable."""
    path = root / REPORT_NAME
    if path.is_symlink() or not path.is_file():
        return None
    attributes = _root_attributes(path)
    if attributes is None or attributes[0] != "coverage":
        return None
    try:
        rate = float(attributes[1].get("line-rate", ""))
    except ValueError:
        return None
    if not math.isfinite(rate) or not 0.0 <= rate <= 1.0:
        return None
    return round(rate * 100, 1)


def _root_attributes(path: Path) -> tuple[str, dict[str, str]] | None:
    found: list[tuple[str, dict[str, str]]] = []

    def start(name: str, attributes: dict[str, str]) -> None:
        found.append((name, attributes))
        raise _Done

    def entity(*_: object) -> None:
        raise _Rejected

    parser = expat.ParserCreate()
    parser.StartElementHandler = start
    parser.EntityDeclHandler = entity
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    try:
        with path.open("rb") as handle:
            for _ in range(_MAX_PROLOG // _CHUNK):
                chunk = handle.read(_CHUNK)
                parser.Parse(chunk, not chunk)
                if not chunk:
                    break
    except _Done:
        return found[0]
    except (_Rejected, expat.ExpatError, OSError):
        return None
    return None
