"""``gridmap user …``, ``gridmap key …`` and ``gridmap audit``: accounts and the audit log from the shell.
The command line acts as an admin (whoever holds the database URL already holds everything) and its
changes are audited as ``cli:<os user>``."""

from __future__ import annotations

import json
from datetime import datetime

import typer
from rich.console import Console
from rich.table import Table

from cli.errors import console, reported
from gridmap.access import accounts, audit
from gridmap.access.rules import ACCOUNT_ROLES, cli_principal
from gridmap.areas.hierarchy import resolve_area
from gridmap.db.connect import connect, database_url
from gridmap.points import parse_at
from gridmap.settings import Settings

user_app = typer.Typer(help="Users who log in: admins, planners, dispatchers, viewers.", no_args_is_help=True)
key_app = typer.Typer(help="API keys for other systems.", no_args_is_help=True)
out = Console()

Scope = typer.Option(None, "--scope", help="Jurisdiction: a subdistrict or community code (repeatable)")


def _run(action):
    settings = Settings()
    with reported(), connect(database_url(settings)) as conn:
        return action(conn, settings)


@user_app.command("add")
def user_add(
    name: str,
    role: str = typer.Option(..., help=", ".join(ACCOUNT_ROLES)),
    scope: list[str] = Scope,
    password: str = typer.Option(..., prompt=True, hide_input=True, confirmation_prompt=True),
    person: int = typer.Option(None, "--person", help="The register's person id this login is (a worker's cases)"),
) -> None:
    """Add a user (planners need --scope; a worker's login names its --person)."""
    _run(lambda conn, s: accounts.add_user(conn, cli_principal(), name, password, role, scope or [], person))
    console.print(f"user {name} added ({role})")


@user_app.command("list")
def user_list(as_json: bool = typer.Option(False, "--json")) -> None:
    """List users with role, jurisdiction and state."""
    users = _run(lambda conn, s: accounts.list_users(conn))
    if as_json:
        out.print_json(json.dumps(users, default=str))
        return
    table = Table("name", "role", "scope", "created", "disabled")
    for u in users:
        disabled = f"{u['disabled_at']:%Y-%m-%d %H:%M}" if u["disabled_at"] else ""
        table.add_row(u["name"], u["role"], " ".join(u["scope"]), f"{u['created_at']:%Y-%m-%d}", disabled)
    out.print(table)


@user_app.command("disable")
def user_disable(name: str) -> None:
    """Disable a user; their sessions end at once."""
    _run(lambda conn, s: accounts.disable_user(conn, cli_principal(), name))
    console.print(f"user {name} disabled")


@key_app.command("add")
def key_add(
    name: str,
    role: str = typer.Option(..., help=", ".join(ACCOUNT_ROLES)),
    scope: list[str] = Scope,
) -> None:
    """Create an API key and print its token (shown only now; send it as Authorization: Bearer)."""
    token = _run(
        lambda conn, s: accounts.add_key(
            conn, cli_principal(), s.security.secret_key.get_secret_value(), name, role, scope or []
        )
    )
    out.print(token)


@key_app.command("revoke")
def key_revoke(name: str) -> None:
    """Revoke an API key at once."""
    _run(lambda conn, s: accounts.revoke_key(conn, cli_principal(), name))
    console.print(f"key {name} revoked")


def audit_cmd(
    area: str = typer.Option(None, help="Area id or code: changes to it and anything below it"),
    user: str = typer.Option(None, help="Actor name"),
    since: str = typer.Option(None, help="ISO-8601 instant (zone GRIDMAP_TIMEZONE when not given)"),
    limit: int = typer.Option(100, min=1, max=audit.MAX_PAGE),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Show the audit log, newest first."""

    def read(conn, settings):
        when: datetime | None = parse_at(since, settings.timezone, "since")
        return audit.entries(conn, resolve_area(conn, area, field="area"), user, when, limit)

    entries = _run(read)
    if as_json:
        out.print_json(json.dumps([audit.to_json(e) for e in entries]))
        return
    table = Table("at", "actor", "action", "object", "versions", "request")
    for e in entries:
        versions = f"{e['before_version'] or '–'} → {e['after_version'] or '–'}"
        obj = f"{e['object_type']} {e['object_code'] or e['object_id'] or ''}".strip()
        table.add_row(f"{e['at']:%Y-%m-%d %H:%M:%S}", e["actor"], e["action"], obj, versions, e["request_id"] or "")
    out.print(table)
