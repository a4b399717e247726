"""The public development data in ../shared/data (not shipped with the project; CI has it beside the repo)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED_DATA = Path(os.environ.get("GRIDMAP_SHARED_DATA", Path(__file__).resolve().parents[3] / "shared" / "data"))


def shared_file(name: str) -> Path:
    """Path of ``name`` in the shared data; without it the test fails (a skip would prove nothing)."""
    path = SHARED_DATA / name
    if not path.exists():
        pytest.fail(f"{path} is missing: put ../shared beside the repository or set GRIDMAP_SHARED_DATA")
    return path
