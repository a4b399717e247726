"""Partition benchmark: the demo city's 742 grids and a synthetic community of 100,000 households.

    .venv/bin/python bench/partition.py [--grids N] [--no-gerrychain]

Prints, for each input, seconds, micro-grids, share inside 30–50 (all, and those with households)
and the Polsby-Popper median. With gerrychain installed (``pip install gerrychain``; not a project
dependency), it also runs GerryChain's ``recursive_tree_part`` on the very same building graphs of
the demo city, for comparison. Deterministic inputs; timings vary with the machine."""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gridmap.areas.territory import share_land  # noqa: E402
from gridmap.partition.algorithm import Band, Building, _components, _graph, propose_grid  # noqa: E402
from tests.support.partition_data import demo_grids  # noqa: E402

M = 1 / 111_000


def synthetic_community(households: int = 100_000, seed: int = 1) -> list[tuple[shapely.Geometry, list[Building]]]:
    """Blocks of 200 m × 200 m (one grid each, ≈400 households) on a lattice: a mix of walk-ups
    (6–30 households), mid-rises (31–59) and towers (60–300, several units, 18–33 floors)."""
    rng = np.random.default_rng(seed)
    grids, total, i = [], 0, 0
    side = int(np.ceil(np.sqrt(households / 400)))
    while total < households:
        gx, gy = i % side, i // side
        x0, y0 = 114.0 + gx * 210 * M, 22.6 + gy * 210 * M
        grid = shapely.box(x0, y0, x0 + 200 * M, y0 + 200 * M)
        buildings, held = [], 0
        for r in range(6):
            for c in range(6):
                if held >= 400 or total + held >= households:
                    break
                kind = rng.choice(3, p=[0.55, 0.25, 0.2])
                low, high = [(6, 31), (31, 60), (60, 301)][kind]
                h = int(rng.integers(low, high))
                size = 10 + rng.random() * 14
                bx, by = x0 + (8 + c * 32) * M, y0 + (8 + r * 32) * M
                foot = shapely.box(bx, by, bx + size * M, by + size * M)
                units = int(rng.integers(2, 7)) if h > 59 else 1
                floors = int(rng.integers(18, 34)) if h > 59 else int(rng.integers(3, 8))
                buildings.append(Building(f"s{i}-{r}-{c}", h, foot, units, floors))
                held += h
        grids.append((grid, buildings))
        total += held
        i += 1
    return grids


def run(name: str, grids) -> dict:
    started = time.perf_counter()
    mgs = [m for grid, buildings in grids for m in propose_grid(grid, buildings, seed=0).microgrids]
    seconds = time.perf_counter() - started
    housed = [m for m in mgs if m.households]
    row = {
        "input": name,
        "grids": len(grids),
        "households": sum(m.households for m in mgs),
        "seconds": round(seconds, 1),
        "microgrids": len(mgs),
        "in_band": round(sum(m.in_band for m in mgs) / len(mgs), 4),
        "in_band_with_households": round(sum(m.in_band for m in housed) / len(housed), 4),
        "polsby_popper_median": round(statistics.median(m.polsby_popper for m in mgs), 3),
    }
    print(row, flush=True)
    return row


def gerrychain_compare(grids, band: Band = Band()) -> dict | None:
    """GerryChain's recursive_tree_part on the same graphs (buildings/tower parts and their borders)."""
    try:
        import networkx as nx
        from gerrychain import Graph
        from gerrychain.partition import recursive_tree_part
    except ImportError:
        print("gerrychain not installed: comparison skipped (pip install gerrychain)")
        return None
    import random

    random.seed(0)
    sizes, failed, tried, started = [], 0, 0, time.perf_counter()
    for grid, buildings in grids:
        if not buildings:
            continue
        land = share_land(grid, [b.geometry for b in buildings])
        parts, edges = _graph(buildings, land, band)
        for nodes in _components(len(parts), edges):
            total = sum(parts[n].households for n in nodes)
            counts = band.counts(total)
            if not counts:
                continue
            k = min(counts, key=lambda c: abs(total / c - 40))
            if k == 1:
                sizes.append(total)
                continue
            target = total / k
            eps = min((band.hi - target) / target, (target - band.lo) / target)
            g = nx.Graph()
            g.add_nodes_from((int(n), {"households": parts[n].households}) for n in nodes)
            g.add_edges_from((a, b) for a, b in edges if a in g and b in g)
            tried += 1
            try:
                assignment = recursive_tree_part(Graph.from_networkx(g), range(k), target, "households", eps)
            except RuntimeError:  # "Could not find a possible cut after 100000 attempts"
                failed += 1
                continue
            held: dict[int, int] = {}
            for node, part in assignment.items():
                held[part] = held.get(part, 0) + parts[node].households
            sizes += list(held.values())
    row = {
        "method": "gerrychain recursive_tree_part",
        "seconds": round(time.perf_counter() - started, 1),
        "in_band_where_it_succeeded": round(float(np.mean([band.holds(s) for s in sizes if s])), 4),
        "grids_failed": f"{failed} of {tried} (no balanced cut found: no proposal at all for them)",
    }
    print(row, flush=True)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--grids", type=int, default=None, help="Only the first N demo grids")
    ap.add_argument("--no-gerrychain", action="store_true")
    args = ap.parse_args()
    demo = [(grid, buildings) for _, grid, buildings in demo_grids()][: args.grids]
    run("demo city (Minzhi)", demo)
    run("synthetic community, 100,000 households", synthetic_community())
    if not args.no_gerrychain:
        gerrychain_compare(demo)


if __name__ == "__main__":
    main()
