"""Map and tile benchmark: render time and HTML size of each map kind for one community and the whole
subdistrict of the demo city, and vector tile time at z12–z16 around the centre, each against the bare
``ST_AsMVT`` query run over psycopg in the same run (a ratio, since these machines are shared and noisy).

Run: ``.venv/bin/python bench/maps.py`` (needs GRIDMAP_DATABASE_URL or the embedded cluster with the
demo city). The megacity generator (bench/make_city.py) comes with the megacity benchmarks."""

from __future__ import annotations

import math
import time

import psycopg

from gridmap import sql
from gridmap.db.connect import database_url
from gridmap.maps.render import KINDS, MapOptions, render
from gridmap.settings import Settings
from gridmap.tiles import LAYERS, tile

ROUNDS = 5


def tiles_around(lon: float, lat: float, z: int, radius: int = 1) -> list[tuple[int, int, int]]:
    """The tile holding (lon, lat) at zoom z and its neighbours within ``radius``."""
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return [(z, x + dx, y + dy) for dx in range(-radius, radius + 1) for dy in range(-radius, radius + 1)]


def _best(fn, rounds: int = ROUNDS) -> float:
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    with psycopg.connect(database_url(Settings())) as conn:
        subdistrict, community = conn.execute(
            "SELECT min(code) FILTER (WHERE level = 'subdistrict'), min(code) FILTER (WHERE level = 'community')"
            " FROM area WHERE valid_to IS NULL").fetchone()  # fmt: skip
        lon, lat = conn.execute("SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_Centroid(geom) c FROM area"
                                " WHERE code = %s AND valid_to IS NULL) x", (community,)).fetchone()  # fmt: skip
        print("| map | area | shapes | MB | seconds |\n|---|---|---:|---:|---:|")
        for kind in KINDS:
            for area in (community, subdistrict):
                page = render(conn, kind, area, MapOptions(assets="link"))
                print(f"| {kind} | {area} | {page.features:,} | {page.bytes / 1e6:.2f} | {page.seconds:.2f} |")
        print("\n| zoom | layer | tiles | KB (sum) | project ms | bare ST_AsMVT ms | ratio |")
        print("|---:|---|---:|---:|---:|---:|---:|")
        bare_sql = sql.load("tile_areas")
        for z in range(12, 17):
            for layer, level in (("microgrids", "microgrid"), ("grids", "grid")):
                if z < LAYERS[layer][1]:
                    print(f"| {z} | {layer} | — | below the layer's first zoom ({LAYERS[layer][1]}): empty | | | |")
                    continue
                addresses = tiles_around(lon, lat, z)
                size = sum(len(tile(conn, layer, *a)) for a in addresses)
                ours = _best(lambda addresses=addresses, layer=layer: [tile(conn, layer, *a) for a in addresses])
                bare = _best(lambda addresses=addresses, level=level, layer=layer: [
                    conn.execute(bare_sql, {"z": a[0], "x": a[1], "y": a[2], "level": level, "layer": "comprehensive",
                                            "name": layer}).fetchone() for a in addresses])  # fmt: skip
                print(f"| {z} | {layer} | {len(addresses)} | {size / 1024:,.0f} | {ours * 1000:.1f} | "
                      f"{bare * 1000:.1f} | {ours / bare:.2f} |")


if __name__ == "__main__":
    main()
