"""Property-based fuzzing of every operation in the app's OpenAPI schema (schemathesis), with an admin
API key so requests reach the real handlers: valid and invalid inputs alike must never get a 5xx."""

from __future__ import annotations

import httpx
import psycopg
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from api.app import create_app
from gridmap.access.accounts import add_key
from gridmap.access.rules import cli_principal
from gridmap.settings import Settings
from tests.conftest import LiveServer, _copy

EXAMPLES_PER_MODE = 45
MIN_CASES = 1000


@pytest.fixture(scope="module")
def target(server_url, handmade_template):
    for url in _copy(server_url, handmade_template):
        app_settings = Settings(database_url=url, rate_limit_anonymous=0)
        with psycopg.connect(url) as conn:
            key = add_key(
                conn, cli_principal(), app_settings.security.secret_key.get_secret_value(), "fuzz", "admin", []
            )
        with LiveServer(app_settings) as server:
            yield server.url, key


def test_no_server_errors_on_any_operation(target):
    base_url, key = target
    schema = schemathesis.openapi.from_dict(create_app(Settings(database_url="postgresql://unused/x")).openapi())
    calls: list[int] = []
    server_errors: list[str] = []

    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES_PER_MODE, deadline=None, database=None, derandomize=True,
                suppress_health_check=list(HealthCheck),
            )  # fmt: skip
            def run(case) -> None:
                try:
                    response = case.call(base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30)
                except (requests.exceptions.InvalidHeader, requests.exceptions.InvalidURL, UnicodeError, ValueError):
                    return  # the client library refused to send it; nothing reached the server
                calls.append(response.status_code)
                if response.status_code >= 500 and response.status_code != 503:
                    server_errors.append(f"{case.method} {case.formatted_path} → {response.status_code}: "
                                         f"{response.text[:200]}\n{case.as_curl_command()}")  # fmt: skip

            try:
                run()
            except Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE  # e.g. GET /health: nothing to make invalid
    print(f"schemathesis: {len(calls)} cases reached the server, {sum(s >= 500 for s in calls)} got 5xx")
    assert len(calls) >= MIN_CASES, f"only {len(calls)} cases reached the server"
    assert not server_errors, "\n\n".join(server_errors[:5])
    assert httpx.get(f"{base_url}/health").status_code == 200
