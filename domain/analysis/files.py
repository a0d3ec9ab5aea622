"""Which files of a project are analysed, how big they are, and how tools' paths map back to the root."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

# Virtualenvs, vendored installs and build output: not the project's own code, and often huge.
EXCLUDED_DIRS = ("venv", "env", "node_modules", "site-packages", "__pypackages__", "__pycache__", "build", "dist")
# Big generated files would dominate line counts; the tools still see them.
_MAX_COUNTED_BYTES = 5 * 1024 * 1024


def skipped(name: str) -> bool:
    """True for hidden entries and EXCLUDED_DIRS, which no tool analyses."""
    return name.startswith(".") or name in EXCLUDED_DIRS


@dataclass(frozen=True)
class ProjectFiles:
    """Python files of a project (paths relative to the root, POSIX style) and their line counts."""

    lines: dict[str, int] = field(default_factory=dict)

    @property
    def total_lines(self) -> int:
        return sum(self.lines.values())


def scan(root: Path) -> ProjectFiles:
    """Walk the project the way the tools are told to, without following symlinks out of it."""
    lines: dict[str, int] = {}
    for current, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not skipped(d))
        for name in sorted(files):
            path = Path(current, name)
            if name.endswith(".py") and not skipped(name) and path.is_file() and not path.is_symlink():
                lines[path.relative_to(root).as_posix()] = _count_lines(path)
    return ProjectFiles(lines)


def _count_lines(path: Path) -> int:
    with path.open("rb") as handle:
        data = handle.read(_MAX_COUNTED_BYTES)
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)


def relative(root: Path, filename: str) -> str | None:
    """`filename` as reported by a tool, relative to `root`; None when it lies outside the project."""
    path = Path(os.path.normpath(root.absolute() / filename))  # an absolute filename replaces root
    for base in (Path(os.path.normpath(root.absolute())), root.resolve()):
        try:
            return path.relative_to(base).as_posix()
        except ValueError:
            continue
    return None
