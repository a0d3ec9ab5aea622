"""Percentiles as PostgreSQL's `percentile_cont` computes them, for the places that compute them in Python (the
metric rollups on SQLite, the analytics' brute force) and for SQLite's `percentiles_cont` aggregate
(`models.db.PercentilesCont`)."""
from __future__ import annotations

import math


def percentile(ordered: list[float], q: float) -> float:
    """`percentile_cont(q)` of sorted values: interpolate linearly between the closest ranks."""
    position = q * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
