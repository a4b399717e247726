"""Area codes (DB11/T 2157-2023): a parent's code plus a 3-digit sequence numbered west→east, north→south."""

from __future__ import annotations

import numpy as np


def reading_order(x: np.ndarray, y: np.ndarray, band: float, *ties: np.ndarray) -> np.ndarray:
    """Indices that sort points in rows of height ``band`` from north to south, west to east in a row;
    points at the same place are ordered by ``ties`` (first key first)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(x) == 0:
        return np.array([], dtype=int)
    row = np.floor((y.max() - y) / band) if band > 0 else np.zeros_like(y)
    return np.lexsort((*reversed(ties), x, row))


def child_code(parent_code: str, sequence: int) -> str:
    """The code of the ``sequence``-th (1-based) child of ``parent_code``."""
    if not 1 <= sequence <= 999:
        raise ValueError(f"sequence {sequence} does not fit in 3 digits")
    return f"{parent_code}{sequence:03d}"
