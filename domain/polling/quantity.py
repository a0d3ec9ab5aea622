"""Kubernetes resource quantities ("250m", "1.5", "16Gi", "129e6", "123456789n") as plain numbers."""
from __future__ import annotations

import math
import re
from decimal import Decimal

_SUFFIXES = {
    "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": Decimal(1),
    "k": Decimal("1e3"), "M": Decimal("1e6"), "G": Decimal("1e9"), "T": Decimal("1e12"), "P": Decimal("1e15"),
    "E": Decimal("1e18"), "Ki": Decimal(2 ** 10), "Mi": Decimal(2 ** 20), "Gi": Decimal(2 ** 30),
    "Ti": Decimal(2 ** 40), "Pi": Decimal(2 ** 50), "Ei": Decimal(2 ** 60),
}
_QUANTITY = re.compile(r"([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]?)")


def parse_quantity(text: str | None) -> float | None:
    """The quantity in base units (cores, bytes); None when absent or not a quantity."""
    if not isinstance(text, str):
        return None
    match = _QUANTITY.fullmatch(text.strip())
    if match is None:
        return None
    try:
        value = float(Decimal(match.group(1)) * _SUFFIXES[match.group(2)])
    except (ArithmeticError, ValueError):  # decimal's Overflow and InvalidOperation are ArithmeticErrors
        return None
    return value if math.isfinite(value) else None
