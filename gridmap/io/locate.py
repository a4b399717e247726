"""Batch lookup of a CSV of points (``gridmap locate --file``): every row is checked before any
lookup, then points go to the database in batches, and one owner row is written per input row."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import psycopg

from gridmap.errors import InvalidInput
from gridmap.io.report import RowError
from gridmap.lookup import ALL_LAYERS, AREA_KEYS, LookupOptions, lookup
from gridmap.lookup.index import LookupIndex, worth_building
from gridmap.points import point_to_wgs84

OUT_COLUMNS = (
    "id", "lon", "lat", "match", "distance_m", "owner_level", "owner_code", "fallback",
    *(f"{key}_{part}" for key in AREA_KEYS for part in ("code", "name")),
    "party_cell", "building", "units", "people", "note",
)  # fmt: skip


class BadRows(InvalidInput):
    """Rows of the input file that cannot be looked up; nothing was written."""

    def __init__(self, errors: list[RowError]):
        shown = "; ".join(str(e) for e in errors[:10])
        more = f" (and {len(errors) - 10} more)" if len(errors) > 10 else ""
        super().__init__(f"{len(errors)} bad row(s): {shown}{more}", "file")
        self.errors = errors


def flatten(record: dict) -> dict:
    """One lookup record as a flat CSV row (people as ``name|role|phone`` joined by ``; ``)."""
    row = {
        "match": record["match"],
        "distance_m": record["distance_m"] if record["distance_m"] is not None else "",
        "owner_level": (record["owner"] or {}).get("level", ""),
        "owner_code": (record["owner"] or {}).get("code", ""),
        "fallback": str(record["fallback"]).lower(),
        "party_cell": (record["party_cell"] or {}).get("code", ""),
        "building": (record["building"] or {}).get("code", ""),
        "units": " ".join(sorted({u["microgrid"]["code"] for u in record["units"] or []})),
        "people": "; ".join(f"{p['name']}|{p['role']}|{p['phone']}" for p in record["people"]),
        "note": record["note"],
    }
    for key in AREA_KEYS:
        area = record[key] or {}
        row[f"{key}_code"], row[f"{key}_name"] = area.get("code", ""), area.get("name", "")
    return row


def _read_points(path: Path, crs: str) -> tuple[list[dict], list[tuple[float, float]]]:
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}", "file") from None
    with handle:
        reader = csv.DictReader(handle)
        columns = {c.strip().lower(): c for c in reader.fieldnames or []}
        missing = [c for c in ("lon", "lat") if c not in columns]
        if missing:
            raise InvalidInput(f"{path} needs columns lon and lat (and optionally id); missing {', '.join(missing)}")
        rows, points, errors = [], [], []
        for n, raw in enumerate(reader, start=1):
            given = {
                "id": raw.get(columns.get("id", ""), "") or str(n),
                "lon": raw[columns["lon"]],
                "lat": raw[columns["lat"]],
            }
            try:
                points.append(point_to_wgs84(given["lon"], given["lat"], crs))
            except InvalidInput as exc:
                errors.append(RowError(n, given["id"], str(exc)))
            rows.append(given)
    if errors:
        raise BadRows(errors)
    return rows, points


def locate_file(
    conn: psycopg.Connection,
    in_path: Path,
    out_path: Path,
    crs: str,
    options: LookupOptions,
    batch: int = 10_000,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, int]:
    """Look up every point of ``in_path`` (CSV: lon, lat[, id] in ``crs``) and write ``out_path``.

    Returns counts per match kind. A file with any bad row raises BadRows and writes nothing."""
    if options.layer == ALL_LAYERS:
        raise InvalidInput("a file lookup answers one layer; name it instead of 'all'", "layer")
    rows, points = _read_points(in_path, crs)
    counts = {"inside": 0, "nearest": 0, "unassigned": 0}
    tmp = out_path.with_name(out_path.name + ".part")
    with tmp.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=OUT_COLUMNS)
        writer.writeheader()
        index = LookupIndex(conn) if worth_building(conn, len(points)) else None
        for start in range(0, len(points), batch):
            records = lookup(conn, points[start : start + batch], options, index=index)
            for given, record in zip(rows[start : start + batch], records, strict=True):
                counts[record["match"]] += 1
                writer.writerow({**given, **flatten(record)})
            if progress:
                progress(min(start + batch, len(points)), len(points))
    tmp.replace(out_path)  # a half-written file never takes the output's name
    return counts
