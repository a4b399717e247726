"""Coordinate → owner chain: micro-grid, grid, community, subdistrict, party cell, building, people.

Two set-based statements answer any number of points: ``sql/lookup_points.sql`` finds where each point
falls, ``sql/lookup_owners.sql`` builds who answers there (chain, party cell, people) once per owner, since
many points share one. The rules:

* **inside** — the micro-grids whose territory covers the point, boundary included. A point on a
  shared edge or corner is covered by several; the one with the **lowest code** wins, always.
* A point inside a **building split by unit (单元) or floor** is covered by all of that building's
  micro-grids, which share its footprint: they are all listed under ``units``, and ``microgrid`` is
  set only when ``unit``/``floor`` pick exactly one.
* **nearest** — in no micro-grid, but one lies within ``nearest_m`` metres (geodesic): that one,
  with ``distance_m``; lowest code on equal distance.
* **unassigned** — otherwise. The smallest enclosing grid, community or subdistrict is the fallback
  owner (属地兜底), and ``fallback`` is true; with nothing around the point every area is null.
* ``at`` answers as things stood at that instant: the area versions valid then, and the memberships
  (split buildings, households), party cells and people of then (their history: migration 0010);
  buildings are today's. ``layer`` picks the grid layer (多格合一), ``"all"`` answers every layer present.


May import the kernel, ``db``, ``sql``, ``access`` and ``areas``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.rows import namedtuple_row

from gridmap import sql
from gridmap.access.rules import Principal, redact
from gridmap.areas.levels import DEFAULT_LAYER
from gridmap.errors import InvalidInput
from gridmap.lookup.index import RECORDS_KEPT, LookupIndex
from gridmap.points import spatial_order

AREA_KEYS = ("microgrid", "grid", "community", "subdistrict")
ALL_LAYERS = "all"


@dataclass(frozen=True)
class LookupOptions:
    """How to answer: which instant, which layer(s), which unit/floor of a split building."""

    at: datetime | None = None
    layer: str = DEFAULT_LAYER
    unit: int | None = None
    floor: int | None = None
    nearest_m: float = 5.0


def layers_present(conn: psycopg.Connection) -> list[str]:
    """Every grid layer that has ever held an area, comprehensive first."""
    rows = conn.execute(
        "SELECT layer FROM (SELECT DISTINCT layer FROM area WHERE level IN ('grid', 'microgrid')) l"
        " ORDER BY layer <> %s, layer",
        (DEFAULT_LAYER,),
    ).fetchall()
    return [r[0] for r in rows] or [DEFAULT_LAYER]


def check_layer(conn: psycopg.Connection, layer: str, allow_all: bool = True) -> list[str]:
    """The layers a request means: ``[layer]``, or every layer present for ``"all"``. Raises
    InvalidInput naming the known layers when ``layer`` holds no grids."""
    if layer == DEFAULT_LAYER:
        return [layer]
    known = layers_present(conn)
    if layer == ALL_LAYERS and allow_all:
        return known
    if layer not in known:
        also = ", or 'all'" if allow_all else ""
        raise InvalidInput(f"layer {layer!r} holds no grids; known layers: {', '.join(known)}{also}", "layer")
    return [layer]


def _check_options(options: LookupOptions) -> None:
    for name in ("unit", "floor"):
        value = getattr(options, name)
        if value is not None and not 1 <= value <= 200:
            raise InvalidInput(f"{name} must be between 1 and 200; got {value}", name)


def _record(spot, owner: tuple, options: LookupOptions) -> dict:
    layer, match, distance_m, building, units = spot.layer, spot.match, spot.distance_m, spot.building, spot.units
    chain, party_cell, people = owner
    chain = chain or {}
    record = {"layer": layer, "match": match, "distance_m": round(distance_m, 2) if distance_m is not None else None}
    record.update({key: chain.get(key) for key in AREA_KEYS})
    owner = next((chain[key] for key in AREA_KEYS if chain.get(key)), None)
    record["owner"] = {k: owner[k] for k in ("id", "code", "name", "level")} if owner else None
    record["fallback"] = match == "unassigned" and owner is not None
    if units and not record["microgrid"]:
        record["note"] = _split_note(building, units, options)
    else:
        record["note"] = _note(match, distance_m, owner)
    record.update(party_cell=party_cell, building=building, units=units, people=people or [])
    return record


def _part(unit: dict) -> str:
    def span(lo, hi, word):
        return f"{word} {lo}" if lo == hi and lo is not None else f"{word}s {lo or 1}–{hi or 'top'}"

    return f"{span(unit['unit_from'], unit['unit_to'], 'unit')} {span(unit['floor_from'], unit['floor_to'], 'floor')}"


def _split_note(building: dict, units: list[dict], options: LookupOptions) -> str:
    n = len({u["microgrid"]["code"] for u in units})
    head = f"building {building['code']} is split into {n} micro-grids by unit/floor"
    if options.unit is None and options.floor is None:
        return f"{head}; give unit (and floor) to pick one"
    asked = " ".join(f"{k}={v}" for k, v in (("unit", options.unit), ("floor", options.floor)) if v is not None)
    if not any(_matches(u, options) for u in units):
        ordered = sorted(units, key=lambda u: (u["unit_from"] or 0, u["floor_from"] or 0))
        return f"{head}; none holds {asked}; its parts: " + ", ".join(dict.fromkeys(_part(u) for u in ordered))
    return f"{head}; {asked} matches more than one; give both unit and floor"


def _matches(unit: dict, options: LookupOptions) -> bool:
    def within(value, lo, hi):
        return value is None or ((lo is None or lo <= value) and (hi is None or value <= hi))

    return within(options.unit, unit["unit_from"], unit["unit_to"]) and within(
        options.floor, unit["floor_from"], unit["floor_to"]
    )


def _note(match: str, distance_m: float | None, owner: dict | None) -> str:
    if match == "inside":
        return "inside a micro-grid"
    if match == "nearest":
        return f"in no micro-grid; the nearest is {distance_m:.1f} m away"
    if owner:
        return f"in no micro-grid: the enclosing {owner['level']} {owner['code']} owns it (属地兜底)"
    return "outside every area: route to the default owner"


# Points (or owners) per statement: a full batch (10,000) takes about 2 s here, the API's statement timeout;
# chunks keep every statement well inside it while the batch still shares one transaction and one plan.
STATEMENT_POINTS = 2000


def _owner_key(spot) -> tuple:
    """What the owner documents of a point depend on: base area row, micro-grid row, owning micro-grids."""
    return spot.base_row, spot.microgrid_row, tuple(spot.owner_ids)


def _owners(conn: psycopg.Connection, keys: list[tuple], at: datetime | None) -> list[tuple]:
    """(chain, party cell, people) for each owner key, in order."""
    out: list[tuple] = []
    for start in range(0, len(keys), STATEMENT_POINTS):
        chunk = keys[start : start + STATEMENT_POINTS]
        params = {"at": at, "base_rows": [k[0] for k in chunk], "microgrid_rows": [k[1] for k in chunk],
                  "owners": ["{" + ",".join(map(str, k[2])) + "}" for k in chunk]}  # fmt: skip
        statement = sql.load_at("lookup_owners", at is not None)
        out += [row[1:] for row in conn.execute(statement, params, prepare=True)]
    return out


def lookup_now(
    index: LookupIndex | None,
    points_wgs84: Sequence[tuple[float, float]],
    options: LookupOptions,
    masked: bool = False,
) -> list:
    """The records the in-process index answers, one per point (checked already), None where the SQL
    path must answer: a past ``at``, ``layer="all"``, a layer the index does not hold, no index, or a point
    only a distance in PostGIS settles ("nearest"). Records equal ``lookup``'s; with ``masked``, people's
    phones are masked as ``gridmap.access.rules.redact`` masks them (from answers prepared once per owner)."""
    _check_options(options)
    if index is None or options.at is not None or options.layer not in index.layers or not points_wgs84:
        return [None] * len(points_wgs84)
    spots = index.locate(points_wgs84, options.layer, options.unit, options.floor, options.nearest_m)
    # Points with the same owner, building and options share one finished answer (read-only).
    kept, extra = index.records, (options.unit, options.floor, masked)
    if len(kept) > RECORDS_KEPT:
        kept.clear()
    out = []
    for spot in spots:
        if spot is None:
            out.append(None)
            continue
        units = spot.units and tuple((u["microgrid"]["id"], u["unit_from"], u["floor_from"]) for u in spot.units)
        key = (_owner_key(spot), spot.layer, spot.match, spot.building and spot.building["id"], units, extra)
        record = kept.get(key)
        if record is None:
            record = kept[key] = _record(spot, index.owner(_owner_key(spot), masked), options)
        out.append(record)
    return out


def lookup(
    conn: psycopg.Connection,
    points_wgs84: Sequence[tuple[float, float]],
    options: LookupOptions,
    index: LookupIndex | None = None,
) -> list[dict] | list[list[dict]]:
    """Resolve WGS-84 points (checked already); results come in input order. With ``index`` (a current
    ``LookupIndex``), the points it answers touch no database and the rest go to SQL.

    With one layer each result is a record; with ``layer="all"`` each is a list of records, one
    per layer. A record holds match, distance_m, microgrid, grid, community, subdistrict, owner,
    fallback, note, party_cell, building, units and people. Records of points with the same owner
    share the owner's dicts: treat records as read-only."""
    return fill_from_sql(conn, lookup_now(index, points_wgs84, options), points_wgs84, options)


def fill_from_sql(
    conn: psycopg.Connection,
    records: list,
    points_wgs84: Sequence[tuple[float, float]],
    options: LookupOptions,
    who: Principal | None = None,
) -> list:
    """``records`` (from ``lookup_now``) with every None answered by the SQL path, in place; those answers
    as ``who`` may see them (``redact``) when given."""
    rest = [i for i, r in enumerate(records) if r is None]
    if rest or not points_wgs84:
        answered = lookup_sql(conn, [points_wgs84[i] for i in rest], options)
        for i, record in zip(rest, answered if who is None else redact(who, answered), strict=True):
            records[i] = record
    return records


def lookup_sql(
    conn: psycopg.Connection, points_wgs84: Sequence[tuple[float, float]], options: LookupOptions
) -> list[dict] | list[list[dict]]:
    """``lookup`` by SQL alone, STATEMENT_POINTS per statement in spatial order: the answer for any
    ``at`` and layer, and the source of truth the index is checked against."""
    _check_options(options)
    layers = check_layer(conn, options.layer)
    if not points_wgs84:
        return []
    params = {"layers": layers, "at": options.at, "nearest_m": options.nearest_m, "unit": options.unit,
              "floor": options.floor}  # fmt: skip
    spots: list[tuple[int, tuple]] = []  # (input index, a row of lookup_points.sql by column name)
    # A custom plan costs ~2.5 ms of planning per call; the generic plan of the prepared statement is
    # as good for every batch size (measured: 1.2 ms vs 3.8 ms median for one point, same for 10,000).
    with conn.transaction():
        conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        order = spatial_order(points_wgs84)
        for start in range(0, len(order), STATEMENT_POINTS):
            chunk = order[start : start + STATEMENT_POINTS]
            params |= {"lon": [float(points_wgs84[i][0]) for i in chunk],
                       "lat": [float(points_wgs84[i][1]) for i in chunk]}  # fmt: skip
            statement = sql.load_at("lookup_points", options.at is not None)
            rows = conn.cursor(row_factory=namedtuple_row).execute(statement, params, prepare=True)
            spots += [(chunk[spot.ord - 1], spot) for spot in rows]
        keys: dict[tuple, int] = {}
        for _, spot in spots:
            keys.setdefault(_owner_key(spot), len(keys))
        owners = _owners(conn, list(keys), options.at)
    grouped: list[list[dict]] = [[] for _ in points_wgs84]
    for i, spot in spots:
        grouped[i].append(_record(spot, owners[keys[_owner_key(spot)]], options))
    if options.layer != ALL_LAYERS:
        return [records[0] for records in grouped]
    return grouped
