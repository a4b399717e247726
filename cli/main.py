"""The ``gridmap`` command: database, demo city, import/export and the server. Calls the same core
functions as the API."""

from __future__ import annotations

import json
import os
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cli.access import audit_cmd, key_app, user_app
from cli.errors import EXIT_NOT_RUNNING, EXIT_OK, EXIT_PROBLEMS, console, fail, reported
from cli.maps import check_cmd, map_cmd
from gridmap.areas.levels import LEVELS
from gridmap.db.connect import connect, database_url
from gridmap.db.embedded import EmbeddedCluster
from gridmap.db.migrate import migrate as apply_migrations
from gridmap.io.messages import in_language
from gridmap.io.report import ImportReport
from gridmap.settings import Settings

app = typer.Typer(help="gridmap: grid-based community governance (网格化管理) on PostGIS.", no_args_is_help=True)
db_app = typer.Typer(help="The database: embedded cluster and migrations.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(user_app, name="user")
app.add_typer(key_app, name="key")
notify_app = typer.Typer(help="The notifications outbox (SMS / webhook messages).", no_args_is_help=True)
app.add_typer(notify_app, name="notify")
app.command("audit")(audit_cmd)
app.command("check")(check_cmd)
app.command("map")(map_cmd)
out = Console()


def _cluster(settings: Settings) -> EmbeddedCluster:
    return EmbeddedCluster(settings.embedded_dir)


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


@db_app.command("start")
def db_start() -> None:
    """Start the embedded PostGIS under GRIDMAP_DATA_DIR/pg (initdb on first use) and print its URL."""
    settings = Settings()
    with reported():
        status = _cluster(settings).start()
    out.print(status.url())


@db_app.command("stop")
def db_stop() -> None:
    """Stop the embedded PostGIS."""
    with reported():
        stopped = _cluster(Settings()).stop()
    console.print("stopped" if stopped else "not running")


@db_app.command("status")
def db_status() -> None:
    """Say whether the embedded PostGIS exists and runs, and where."""
    settings = Settings()
    with reported():
        status = _cluster(settings).status()
    if settings.database.database_url:
        out.print(f"GRIDMAP_DATABASE_URL is set; the embedded cluster is not used ({settings.database.database_url})")
    elif not status.initialised:
        out.print(f"no embedded cluster yet under {settings.embedded_dir}")
    else:
        out.print(f"running at {status.url()}" if status.running else "initialised, not running")
    raise typer.Exit(EXIT_OK if status.running or settings.database.database_url else EXIT_NOT_RUNNING)


@db_app.command("migrate")
def db_migrate() -> None:
    """Apply pending schema migrations."""
    with reported():
        applied = apply_migrations(database_url(Settings()))
    console.print(f"applied {', '.join(applied)}" if applied else "schema is up to date")


def _print_report(report: ImportReport, as_json: bool, lang: str = "zh") -> None:
    if as_json:
        out.print_json(json.dumps(report.as_dict(lang), ensure_ascii=False, default=str))
        return
    zh = lang == "zh"
    if zh:
        verb = "已写入" if report.committed else "试运行（未写入；加 --commit 写入）"
        heads = ("行数", "新增", "更新", "未变", "错误", "未分配楼栋")
    else:
        verb = "committed" if report.committed else "dry run (nothing written; add --commit to write)"
        heads = ("rows", "created", "updated", "unchanged", "errors", "unassigned")
    table = Table(title=f"{'导入' if zh else 'import'} {report.level}: {verb}")
    for col in heads:
        table.add_column(col, justify="right")
    counts = (report.rows, report.created, report.updated, report.unchanged, len(report.errors), len(report.unassigned))
    table.add_row(*(str(x) for x in counts))
    out.print(table)
    source = report.source
    if source:
        read_as = f"{source['crs']} ({source['crs_source']})"
        if source.get("encoding"):
            read_as += f", {source['encoding']} ({source['encoding_source']})"
        out.print(("读取方式：" if zh else "read as: ") + read_as)
        if source.get("renamed"):
            renamed = ", ".join(f"{a}→{b}" for a, b in source["renamed"].items())
            out.print(("列名对应：" if zh else "columns: ") + renamed)
        if source.get("sample"):
            out.print(("名称示例：" if zh else "names: ") + "、".join(map(str, source["sample"])))
    for w in report.warnings:
        out.print(f"[yellow]{'提示' if zh else 'warning'}:[/] {escape(in_language(w, lang))}")
    if report.errors:
        errors = Table(title="错误" if zh else "errors")
        rows = report.table(lang)
        for col in rows[0]:
            errors.add_column(col, overflow="fold")
        for row in rows:
            errors.add_row(*row.values())
        out.print(errors)


@app.command("import")
def import_cmd(
    level: str = typer.Argument(..., help=f"One of: {', '.join(LEVELS)}, or incidents (past cases, CSV)"),
    file: Path = typer.Argument(..., help="GeoJSON, GPKG, Shapefile, or CSV with WKT or lon/lat"),
    crs: str = typer.Option(None, help="Coordinates of the file: wgs84, gcj02, bd09 or EPSG:xxxx (overrides the file)"),
    encoding: str = typer.Option(None, help="Text encoding (utf-8, gbk, gb18030…); default: declared or detected"),
    column_map: str = typer.Option(None, "--map", help="Rename columns: 编码=code,名称=name,上级=parent"),
    map_file: Path = typer.Option(None, "--map-file", help="A saved column mapping (JSON, or lines 源列=目标列)"),
    lang: str = typer.Option("zh", help="Language of the report: zh or en"),
    commit: bool = typer.Option(False, "--commit", help="Write the changes (default: dry run)"),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON"),
) -> None:
    """Import one level from a file. A dry run unless --commit; exits 1 when any row is bad."""
    from gridmap.io.columns import load_mapping, parse_mapping
    from gridmap.io.importer import import_source
    from gridmap.io.messages import LANGS
    from gridmap.io.read import read_source

    settings = Settings()
    if lang not in LANGS:
        fail(f"unknown language {lang!r}; use zh or en")
    with reported(lambda message: in_language(message, lang)):
        if level == "incidents":
            _import_incidents(settings, read_source(file, crs, encoding=encoding).frame, commit, as_json, lang)
        if level not in LEVELS:
            fail(in_language(f"unknown level {level!r}; use one of {', '.join(LEVELS)} or incidents", lang))
        mapping = {**(load_mapping(map_file) if map_file else {}), **(parse_mapping(column_map) if column_map else {})}
        source = read_source(file, crs, encoding=encoding, mapping=mapping or None, level=level)
        with connect(database_url(settings)) as conn, _progress() as bar:
            task = bar.add_task(f"{level} ({'commit' if commit else 'dry run'})", total=len(source.frame))
            report = import_source(conn, level, source, commit=commit, progress=lambda n: bar.advance(task, n))
    _print_report(report, as_json, lang)
    raise typer.Exit(EXIT_OK if report.ok else EXIT_PROBLEMS)


def _import_incidents(settings: Settings, frame, commit: bool, as_json: bool, lang: str) -> None:
    from gridmap.incidents.bulk import import_incidents
    from gridmap.incidents.calendar import calendar_from_settings
    from gridmap.incidents.routing import policy_from_settings

    calendar, policy = calendar_from_settings(settings), policy_from_settings(settings)
    with connect(database_url(settings)) as conn, _progress() as bar:
        task = bar.add_task(f"incidents ({'commit' if commit else 'dry run'})", total=len(frame))
        report, routed = import_incidents(conn, frame, calendar, policy, settings.timezone, commit=commit,
                                          progress=lambda n: bar.advance(task, n))  # fmt: skip
    _print_report(report, as_json, lang)
    if not as_json:
        routed_text = ", ".join(f"{k} {v}" for k, v in sorted(routed.items()))
        out.print(("已分派：" if lang == "zh" else "routed: ") + routed_text)
    raise typer.Exit(EXIT_OK if report.ok else EXIT_PROBLEMS)


@app.command("escalate")
def escalate_cmd(as_json: bool = typer.Option(False, "--json", help="Print what was done as JSON")) -> None:
    """Escalate every overdue incident one level up (or flag it overdue at the top), once. The server does
    this by itself every GRIDMAP_ESCALATE_EVERY_S seconds."""
    from datetime import UTC, datetime

    from gridmap.incidents.calendar import calendar_from_settings
    from gridmap.incidents.escalation import escalate_overdue

    settings = Settings()
    with reported(), connect(database_url(settings)) as conn:
        done = escalate_overdue(conn, calendar_from_settings(settings), datetime.now(UTC), settings.notify.notify_sign)
    if as_json:
        out.print_json(json.dumps(done))
        return
    escalated = sum(d["action"] == "escalate" for d in done)
    out.print(f"escalated {escalated}, flagged overdue {len(done) - escalated}")
    for d in done:
        out.print(f"  incident {d['incident']}: {d['action']} {d.get('from_level') or d.get('level') or ''}"
                  f"{' → ' + d['to_level'] if d.get('to_level') else ''}")  # fmt: skip


@notify_app.command("status")
def notify_status() -> None:
    """How many messages wait, were sent, and are dead (given up after the last attempt)."""
    from gridmap.notify.outbox import outbox_status

    with reported(), connect(database_url(Settings())) as conn:
        out.print_json(json.dumps(outbox_status(conn)))


@notify_app.command("send")
def notify_send() -> None:
    """Deliver the messages due now through GRIDMAP_NOTIFY_SENDER, once (the server does this by itself
    every GRIDMAP_NOTIFY_EVERY_S seconds)."""
    from datetime import UTC, datetime
    from functools import partial

    from gridmap.notify.outbox import deliver_due, retry_from_settings
    from gridmap.notify.senders import sender_from_settings

    settings = Settings()
    sender = sender_from_settings(settings.notify)
    if sender is None:
        console.print("GRIDMAP_NOTIFY_SENDER is none: messages wait in the outbox · 未配置发送方式，消息留在发件箱")
        raise typer.Exit(2)
    with reported(), connect(database_url(settings)) as conn:
        done = deliver_due(conn, sender, retry_from_settings(settings.notify), partial(datetime.now, UTC))
    out.print(f"sent {done.sent}, to retry {done.retried}, dead {done.dead}")


@app.command("partition")
def partition_cmd(
    area: str = typer.Argument(..., help="Code (or id) of a grid, community or subdistrict"),
    min_households: int = typer.Option(30, "--min", help="Fewest households in a micro-grid"),
    max_households: int = typer.Option(50, "--max", help="Most households in a micro-grid"),
    seed: int = typer.Option(0, help="Random seed: the same seed gives the same proposal"),
    tries: int = typer.Option(8, help="Random spanning trees tried per grid (more: slower, sometimes better)"),
    cell_size: int = typer.Option(2, "--cell-size", help="Micro-grids per party cell"),
    apply: bool = typer.Option(False, "--apply", help="Write the proposal as new versions (default: draft only)"),
    out_file: Path = typer.Option(None, "--out", help="Also write the proposed micro-grids as GeoJSON"),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON"),
) -> None:
    """Propose household-balanced micro-grids for every grid in AREA. A draft unless --apply; the draft
    id it prints can be applied later through the API (POST /api/v1/partition/{id}/apply)."""
    from gridmap.access.rules import cli_principal
    from gridmap.partition.drafts import Params, apply_draft, propose

    params = Params(min_households, max_households, seed, tries, cell_size)
    who = cli_principal()
    with reported(), connect(database_url(Settings())) as conn:
        with _progress() as bar:
            task = bar.add_task(f"partition {area}", total=None)
            draft = propose(conn, who, area, params, on_grid=lambda done, total: bar.update(task, completed=done,
                                                                                            total=total))  # fmt: skip
        applied = apply_draft(conn, who, draft["id"]) if apply else None
    if out_file:
        out_file.write_text(json.dumps(draft["microgrids"], ensure_ascii=False), encoding="utf-8")
    if as_json:
        out.print_json(json.dumps({"draft": draft["id"], "summary": draft["summary"], "applied": applied},
                                  ensure_ascii=False))  # fmt: skip
        return
    _print_partition(draft, applied)


def _print_partition(draft: dict, applied: dict | None) -> None:
    s, p = draft["summary"], draft["params"]
    title = f"partition {draft['area']} into {p['min']}–{p['max']} households: draft {draft['id']}"
    table = Table(title=title + (" (applied)" if applied else " (nothing written; add --apply to write)"))
    for col in ("grids", "micro-grids", "households", "in band", "in band (with households)", "Polsby-Popper median",
                "party cells", "tiling problems", "seconds"):  # fmt: skip
        table.add_column(col, justify="right")
    share = "n/a" if s["share_in_band"] is None else f"{s['share_in_band']:.1%}"
    housed = "n/a" if s["share_in_band_with_households"] is None else f"{s['share_in_band_with_households']:.1%}"
    table.add_row(
        str(s["grids"]),
        str(s["microgrids"]),
        str(s["households"]),
        f"{s['in_band']} ({share})",
        housed,
        str(s["polsby_popper_median"]),
        str(s["party_cells"]),
        str(s["tiling_problems"]),
        str(s["seconds"]),
    )
    out.print(table)
    for w in s["worst"]:
        out.print(f"[yellow]outside the band:[/] {w['code']} ({w['households']} households): {w['reason']}")
    if applied:
        out.print(", ".join(f"{k.replace('_', ' ')} {v}" for k, v in applied.items()))


@app.command("export")
def export_cmd(
    level: str = typer.Argument(..., help=f"One of: {', '.join(LEVELS)}"),
    file: Path = typer.Argument(..., help="Output; the extension picks the format (.geojson .gpkg .shp .csv)"),
    crs: str = typer.Option(None, help="Coordinates to write: wgs84 (default), gcj02, bd09 or EPSG:xxxx"),
) -> None:
    """Export the current rows of one level in the columns import reads."""
    from gridmap.io.export import export_file

    with reported(), connect(database_url(Settings())) as conn:
        n = export_file(conn, level, file, crs)
    console.print(f"wrote {n} {level} to {file}")


def _print_chain(record: dict) -> None:
    from gridmap.lookup import AREA_KEYS

    table = Table(title=f"{record['match']} ({record['layer']} layer): {record['note']}")
    for col in ("level", "code", "name", "households"):
        table.add_column(col)
    for key in AREA_KEYS:
        area = record[key]
        if area:
            table.add_row(key, area["code"], area["name"], str(area["households"]))
    for unit in record["units"] or []:
        table.add_row("unit part", unit["microgrid"]["code"], unit["microgrid"]["name"], str(unit["households"]))
    if record["party_cell"]:
        table.add_row("party cell", record["party_cell"]["code"], record["party_cell"]["name"], "")
    if record["building"]:
        b = record["building"]
        table.add_row("building", b["code"], b["name"] or "", str(b["households"]))
    out.print(table)
    people = Table(title="people to call")
    for col in ("role", "name", "phone", "for"):
        people.add_column(col)
    for p in record["people"]:
        people.add_row(p["role"], p["name"], p["phone"], p["area"] or p["party_cell"] or "")
    out.print(people)


@app.command("locate")
def locate(
    lon: float | None = typer.Argument(None, help="Longitude (omit with --file)"),
    lat: float | None = typer.Argument(None, help="Latitude (omit with --file)"),
    crs: str = typer.Option("wgs84", help="Input coordinates: wgs84, gcj02 or bd09"),
    at: str | None = typer.Option(None, help="ISO-8601 date or time: who owned it then"),
    layer: str = typer.Option("comprehensive", help="Grid layer; 'all' for every layer (single point)"),
    unit: int | None = typer.Option(None, help="Stairwell unit in a split building"),
    floor: int | None = typer.Option(None, help="Floor in a building split by floor"),
    file: Path | None = typer.Option(None, "--file", help="CSV with lon, lat[, id] columns"),
    out_file: Path | None = typer.Option(None, "--out", help="CSV to write (with --file)"),
    as_json: bool = typer.Option(False, "--json", help="Print the record as JSON (single point)"),
) -> None:
    """Who owns a point: micro-grid, grid, community, subdistrict, party cell, people (exit codes: cli.errors)."""
    from gridmap.io.locate import locate_file
    from gridmap.lookup import LookupOptions, lookup
    from gridmap.points import check_crs, parse_at, point_to_wgs84

    settings = Settings()
    with reported():
        crs = check_crs(crs)
        options = LookupOptions(parse_at(at, settings.timezone), layer, unit, floor, settings.lookup.nearest_m)
        if file is not None:
            if out_file is None or lon is not None:
                fail("give --file with --out, and no LON LAT")
            with connect(database_url(settings)) as conn, _progress() as bar:
                task = bar.add_task("locate", total=None)
                counts = locate_file(
                    conn, file, out_file, crs, options, settings.limits.lookup_batch_max,
                    progress=lambda done, total: bar.update(task, completed=done, total=total),
                )  # fmt: skip
            console.print(
                f"wrote {sum(counts.values())} rows to {out_file}: " + ", ".join(f"{k} {v}" for k, v in counts.items())
            )
            return
        if lon is None or lat is None:
            fail("give LON LAT, or --file points.csv --out owners.csv")
        point = point_to_wgs84(lon, lat, crs)
        with connect(database_url(settings)) as conn:
            result = lookup(conn, [point], options)[0]
    records = result if isinstance(result, list) else [result]
    if as_json:
        out.print_json(json.dumps(result, ensure_ascii=False, default=str))
        return
    for record in records:
        _print_chain(record)


def _load_demo(settings: Settings, only_if_empty: bool) -> None:
    from gridmap.io.demo import is_empty, load_demo

    with connect(database_url(settings)) as conn:
        if only_if_empty and not is_empty(conn):
            console.print("demo city: database already holds areas, not loading")
            return
        with _progress() as bar:
            task = bar.add_task("demo city", total=None)

            def on_level(level: str, rows: int) -> None:
                bar.update(task, description=f"demo city: {level}", total=rows, completed=0)

            reports = load_demo(conn, on_level=on_level, progress=lambda n: bar.advance(task, n))
    for r in reports:
        console.print(f"  {r.level:<12} {r.created:>6} created {r.updated:>6} updated {r.unchanged:>6} unchanged")


@app.command("load-demo")
def load_demo_cmd() -> None:
    """Load the Minzhi demo city (idempotent: a second load changes nothing)."""
    with reported():
        apply_migrations(database_url(Settings()))
        _load_demo(Settings(), only_if_empty=False)


@app.command("serve")
def serve(
    host: str = typer.Option(None, help="Default GRIDMAP_HOST (127.0.0.1)"),
    port: int = typer.Option(None, help="Default GRIDMAP_PORT (8000)"),
    workers: int = typer.Option(1, min=1),
) -> None:
    """Serve the API and the static UI with uvicorn."""
    import uvicorn

    from api.app import UVICORN_OPTIONS, create_app

    settings = Settings()
    with reported():
        url = database_url(settings)
    host, port = host or settings.host, port or settings.port
    console.print(f"gridmap on http://{host}:{port}/  (API docs: /docs, health: /health)")
    # The app factory reads its settings from the environment; hand it the resolved URL.
    os.environ["GRIDMAP_DATABASE_URL"] = url
    # uvicorn's workers import the factory by name; the name comes from the function, not a literal.
    uvicorn.run(
        f"{create_app.__module__}:{create_app.__qualname__}",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        **UVICORN_OPTIONS,
    )


@app.command("run")
def run() -> None:
    """What `make run` does: embedded PostGIS (unless GRIDMAP_DATABASE_URL is set), migrations, the demo
    city on first start, then the server in the foreground; Ctrl-C stops the server and the database.
    A local run is development unless GRIDMAP_ENV says otherwise (`gridmap serve` is for deployments)."""
    os.environ.setdefault("GRIDMAP_ENV", "development")
    settings = Settings()
    cluster = None
    try:
        with reported():
            if not settings.database.database_url:
                cluster = _cluster(settings)
                was_running = cluster.status().running
                status = cluster.start()
                console.print(f"embedded PostGIS at {status.url()} (data in {cluster.pgdata})")
                if was_running:
                    cluster = None  # someone else started it; leave it running
            applied = apply_migrations(database_url(settings))
            console.print(f"migrations: {', '.join(applied) if applied else 'up to date'}")
            _load_demo(settings, only_if_empty=True)
        serve(host=None, port=None, workers=1)
    finally:
        if cluster is not None:
            cluster.stop()
            console.print("embedded PostGIS stopped")


if __name__ == "__main__":
    app()
