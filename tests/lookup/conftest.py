"""Fixtures only the lookup tests use (the session-wide databases and servers are in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import _copy


@pytest.fixture
def handmade_db_writable(server_url: str, handmade_template: str) -> Iterator[str]:
    """URL of a fresh hand-made-city copy for one test that writes."""
    yield from _copy(server_url, handmade_template)
