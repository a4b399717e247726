"""Map and tile benchmark: render time and HTML size of each map kind for one community and the whole
subdistrict, and vector tile time around the centre against the bare ``ST_AsMVT`` query run over
psycopg in the same run (a ratio, since these machines are shared and noisy).

Run: ``.venv/bin/python bench/maps.py`` (needs GRIDMAP_DATABASE_URL or the embedded cluster with the
demo city). ``bench/megacity.py`` runs the same measurements on a generated megacity, over HTTP."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import psycopg

from gridmap import sql
from gridmap.db.connect import database_url
from gridmap.publish.maps.render import KINDS, MapOptions, render
from gridmap.publish.tiles import LAYERS, tile
from gridmap.settings import Settings

ROUNDS = 5
Fetch = Callable[[str, int, int, int], bytes]


def tiles_around(lon: float, lat: float, z: int, radius: int = 1) -> list[tuple[int, int, int]]:
    """The tile holding (lon, lat) at zoom z and its neighbours within ``radius``."""
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return [(z, x + dx, y + dy) for dx in range(-radius, radius + 1) for dy in range(-radius, radius + 1)]


def best(fn, rounds: int = ROUNDS) -> float:
    """The fastest of ``rounds`` calls, in seconds: the least disturbed by other work on the machine."""
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def map_figures(conn: psycopg.Connection, kinds, areas) -> list[dict]:
    """Render each map kind for each area code: shapes, MB and seconds."""
    rows = []
    for kind in kinds:
        for area in areas:
            page = render(conn, kind, area, MapOptions(assets="link"))
            rows.append({"kind": kind, "area": area, "shapes": page.features, "mb": page.bytes / 1e6,
                         "seconds": page.seconds})  # fmt: skip
    return rows


def tile_figures(conn: psycopg.Connection, lon: float, lat: float, zooms, fetch: Fetch, layers=("microgrids",)):
    """For each zoom and layer, the 3×3 tiles around (lon, lat): best time of ``fetch`` (the project's
    path) against the bare tile query over ``conn``, and the ratio."""
    bare_sql = sql.load("tile_areas")
    rows = []
    for z in zooms:
        for layer in layers:
            level, first_zoom = LAYERS[layer]
            if z < first_zoom:
                continue
            addresses = tiles_around(lon, lat, z)
            size = sum(len(fetch(layer, *a)) for a in addresses)
            ours = best(lambda addresses=addresses, layer=layer: [fetch(layer, *a) for a in addresses])
            bare = best(lambda addresses=addresses, level=level, layer=layer: [
                conn.execute(bare_sql, {"z": a[0], "x": a[1], "y": a[2], "level": level, "layer": "comprehensive",
                                        "name": layer, "jurisdiction": None}).fetchone()
                for a in addresses])  # fmt: skip
            rows.append({"zoom": z, "layer": layer, "tiles": len(addresses), "kb": size / 1024,
                         "project_ms": ours * 1000, "bare_ms": bare * 1000, "ratio": ours / bare})  # fmt: skip
    return rows


def main() -> None:
    with psycopg.connect(database_url(Settings())) as conn:
        subdistrict, community = conn.execute(
            "SELECT min(code) FILTER (WHERE level = 'subdistrict'), min(code) FILTER (WHERE level = 'community')"
            " FROM area WHERE valid_to IS NULL").fetchone()  # fmt: skip
        lon, lat = conn.execute("SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_Centroid(geom) c FROM area"
                                " WHERE code = %s AND valid_to IS NULL) x", (community,)).fetchone()  # fmt: skip
        print("| map | area | shapes | MB | seconds |\n|---|---|---:|---:|---:|")
        for r in map_figures(conn, KINDS, (community, subdistrict)):
            print(f"| {r['kind']} | {r['area']} | {r['shapes']:,} | {r['mb']:.2f} | {r['seconds']:.2f} |")
        print("\n| zoom | layer | tiles | KB (sum) | project ms | bare ST_AsMVT ms | ratio |")
        print("|---:|---|---:|---:|---:|---:|---:|")
        rows = tile_figures(conn, lon, lat, range(12, 17), lambda layer, z, x, y: tile(conn, layer, z, x, y),
                            layers=("microgrids", "grids"))  # fmt: skip
        for r in rows:
            print(
                f"| {r['zoom']} | {r['layer']} | {r['tiles']} | {r['kb']:,.0f} | {r['project_ms']:.1f} | "
                f"{r['bare_ms']:.1f} | {r['ratio']:.2f} |"
            )


if __name__ == "__main__":
    main()
