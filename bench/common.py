"""What the benchmarks share."""
from __future__ import annotations

import requests


def answers(url: str) -> bool:
    """Does `url` answer 200 (a server that is up and ready)?"""
    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.RequestException:
        return False
