"""Static analysis of a checked-out project with ruff, radon, bandit and mypy, run as subprocesses.

Entry point: `domain.analysis.analyser.analyse`. Nothing here touches Flask, the database or Redis.
"""
