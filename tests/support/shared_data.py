"""The public data the tests read, shipped in tests/data (see tests/data/README.md for provenance and licences).

``GRIDMAP_SHARED_DATA`` names another folder to read them from instead (e.g. the development data in ../shared/data).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

TEST_DATA = Path(__file__).resolve().parents[1] / "data"
SHARED_DATA = Path(os.environ.get("GRIDMAP_SHARED_DATA") or TEST_DATA)


def shared_file(name: str) -> Path:
    """Path of ``name`` in the test data; without it the test fails (a skip would prove nothing)."""
    path = SHARED_DATA / name
    if not path.exists():
        pytest.fail(f"{path} is missing: tests/data should hold it (or set GRIDMAP_SHARED_DATA to a folder that does)")
    return path
