"""``gridmap check`` and ``gridmap map``: coverage findings and rendered maps from the shell."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from cli.errors import EXIT_OK, EXIT_PROBLEMS, console, reported
from gridmap.db.connect import connect, database_url
from gridmap.partition.algorithm import Band
from gridmap.partition.coverage import PROBLEMS, CoverageReport, Tolerances, check, to_geojson
from gridmap.points import parse_at
from gridmap.publish.maps.render import MapOptions, render
from gridmap.settings import Settings

out = Console()


class AssetMode(StrEnum):
    inline = "inline"
    link = "link"


class CheckFormat(StrEnum):
    table = "table"
    json = "json"
    geojson = "geojson"


def check_cmd(
    community: str = typer.Option(
        None, "--community", "--area", help="Code of a community, grid or subdistrict (default: the whole city)"
    ),  # fmt: skip
    fmt: CheckFormat = typer.Option(
        CheckFormat.table, "--format", help="table, json (summary and findings) or geojson (one feature per finding)"
    ),  # fmt: skip
    min_households: int = typer.Option(30, "--min", help="Fewest households in a micro-grid"),
    max_households: int = typer.Option(50, "--max", help="Most households in a micro-grid"),
    gap_m2: float = typer.Option(1.0, "--gap-m2", help="Report gaps and overlaps larger than this (m²)"),
    limit: int = typer.Option(20, help="Findings listed per problem in the table (all in json/geojson)"),
) -> None:
    """Find gaps, overlaps, areas outside their parent, unassigned or doubly held buildings, and
    micro-grids outside the household band or without a party cell or people. Exits 1 when any
    finding is an error (full coverage broken), 0 when there are only warnings or none."""
    try:
        band = Band(min_households, max_households)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    with reported():
        tolerances = Tolerances(gap_m2=gap_m2, overlap_m2=gap_m2)
        with connect(database_url(Settings())) as conn:
            with console.status("checking coverage…"):
                report = check(conn, community, band, tolerances)
    if fmt is CheckFormat.geojson:
        out.print_json(json.dumps(to_geojson(report), ensure_ascii=False))
    elif fmt is CheckFormat.json:
        findings = [{"problem": f.problem, "severity": f.severity, "message": f.message, "codes": list(f.codes),
                     **f.detail} for f in report.findings]  # fmt: skip
        out.print_json(json.dumps({"summary": report.summary(), "findings": findings}, ensure_ascii=False))
    else:
        _print_table(report, limit)
    raise typer.Exit(EXIT_PROBLEMS if report.errors else EXIT_OK)


def _print_table(report: CoverageReport, limit: int) -> None:
    checked = ", ".join(f"{v} {k}" for k, v in report.checked.items())
    table = Table(title=f"coverage of {report.scope or 'the whole city'} ({checked})")
    for col, justify in (("problem", "left"), ("severity", "left"), ("found", "right")):
        table.add_column(col, justify=justify)
    for problem, n in report.counts.items():
        style = "red" if n and PROBLEMS[problem] == "error" else ("yellow" if n else "green")
        table.add_row(problem, PROBLEMS[problem], f"[{style}]{n}[/]")
    out.print(table)
    for problem in PROBLEMS:
        found = [f for f in report.findings if f.problem == problem]
        for f in found[:limit]:
            colour = "red" if f.severity == "error" else "yellow"
            out.print(f"[{colour}]{f.problem}[/] {f.message}", highlight=False)
        if len(found) > limit:
            out.print(f"  … and {len(found) - limit} more {problem} (use --format json for all)")
    verdict = "[green]full coverage[/]" if not report.errors else f"[red]{report.errors} error(s)[/]"
    out.print(f"{verdict}, {len(report.findings) - report.errors} warning(s)")


def map_cmd(
    kind: str = typer.Argument(..., help="density, incidents, unassigned or overview"),
    area: str = typer.Option(..., "--area", help="Code of a subdistrict, community or grid"),
    out_file: Path = typer.Option(..., "--out", help="The HTML file to write"),
    since: str = typer.Option(None, help="Incidents received from this date/time (ISO-8601)"),
    until: str = typer.Option(None, help="…and before this one"),
    category: str = typer.Option(None, help="Incidents of one category"),
    assets: AssetMode = typer.Option(
        AssetMode.inline,
        help="inline (a file that opens anywhere, offline) or link (/static/vendor/… on a gridmap server)",
    ),  # fmt: skip
) -> None:
    """Render a map to an HTML file that needs no internet: micro-grids by households or households per
    km², incidents with a heat layer, coverage problems, or an overview with all of them as layers."""
    settings = Settings()
    with reported():
        options = MapOptions(
            since=parse_at(since, settings.timezone, "since"), until=parse_at(until, settings.timezone, "until"),
            category=category, assets=assets.value, tiles_url=settings.maps.map_tiles_url,
            tiles_attribution=settings.maps.map_tiles_attribution, tiles_crs=settings.maps.map_tiles_crs,
            max_features=settings.maps.map_max_features,
        )  # fmt: skip
        with connect(database_url(settings)) as conn, console.status(f"rendering the {kind} map of {area}…"):
            page = render(conn, kind, area, options)
    out_file.write_text(page.html, encoding="utf-8")
    console.print(f"wrote {out_file}: {page.features:,} shapes, {page.bytes / 1e6:.2f} MB, {page.seconds:.1f} s")
