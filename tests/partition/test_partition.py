"""The partition core (gridmap/partition/algorithm.py) on the demo city, Suzhou's old city, Beijing compounds and
hand-made awkward inputs: band, explanations, unit splitting, contiguity, tiling, party cells, order."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from gridmap.areas.territory import Projection, share_land
from gridmap.partition.algorithm import LANE_M, Band, Building, propose_grid, split_building, tiling_problems
from tests.support.partition_data import beijing, demo_grids, share_in_band, suzhou

ORIGIN = (114.03, 22.62)
M = 1 / 111_000  # about a metre in degrees here


def square(x_m: float, y_m: float, size_m: float) -> shapely.Polygon:
    """A square of ``size_m`` metres with its south-west corner ``x_m``, ``y_m`` metres from ORIGIN."""
    x, y = ORIGIN[0] + x_m * M, ORIGIN[1] + y_m * M
    return shapely.box(x, y, x + size_m * M, y + size_m * M)


def row_of(households: list[int], gap_m: float = 10, size_m: float = 20) -> tuple[shapely.Polygon, list[Building]]:
    """Buildings in a row west→east and the grid around them."""
    step = size_m + gap_m
    buildings = [Building(f"b{i}", h, square(i * step, 0, size_m), label=f"b{i}") for i, h in enumerate(households)]
    grid = shapely.box(ORIGIN[0] - gap_m * M, ORIGIN[1] - gap_m * M, ORIGIN[0] + len(households) * step * M,
                       ORIGIN[1] + (size_m + gap_m) * M)  # fmt: skip
    return grid, buildings


def check_proposal(grid, buildings, proposal, band=Band()) -> None:
    """What every proposal must satisfy whatever its input."""
    assert tiling_problems(grid, proposal) == []
    lands = [m.land for m in proposal.microgrids if not m.land.is_empty]
    assert shapely.coverage_is_valid(np.array(lands, dtype=object))
    proj = Projection(grid)
    grid_m = proj.metric([grid])[0]
    # Every household is placed exactly once, every building part lies inside one micro-grid's polygon.
    held: dict[int, int] = {}
    for m in proposal.microgrids:
        assert m.households == sum(p.households for p in m.parts)
        assert m.in_band == band.holds(m.households)
        assert (m.reason is None) == m.in_band
        assert proj.metric([m.geometry])[0].difference(grid_m).area < 1.0  # never crosses the parent grid
        for p in m.parts:
            held[p.building] = held.get(p.building, 0) + p.households
    assert held == {i: b.households for i, b in enumerate(buildings)} or not buildings
    # Contiguous: a micro-grid's buildings with households are linked by shared territory borders or
    # lanes (a detached piece of the grid without households may join the nearest one, and says so).
    land = share_land(grid, [b.geometry for b in buildings])
    feet = proj.metric([b.geometry for b in buildings])
    bridged = any("detached part of the grid without households" in p for p in proposal.problems)
    for m in proposal.microgrids:
        clusters = _clusters(sorted({p.building for p in m.parts}), land.neighbours, feet)
        housed = [c for c in clusters if any(buildings[i].households for i in c)]
        assert len(housed) <= 1, f"micro-grid {m.sequence} is not contiguous"
        assert len(clusters) <= 1 or bridged  # none: the grid has no buildings
    # Codes run 1..n; every micro-grid sits in exactly one party cell.
    assert [m.sequence for m in proposal.microgrids] == list(range(1, len(proposal.microgrids) + 1))
    cells = [s for cell in proposal.party_cells for s in cell]
    assert sorted(cells) == [m.sequence for m in proposal.microgrids]


def _clusters(idx: list[int], borders: list[tuple[int, int]], feet) -> list[set[int]]:
    """Buildings ``idx`` in clusters joined by shared territory borders or lying within LANE_M."""
    linked = set(borders) | {(b, a) for a, b in borders}
    left, clusters = set(idx), []
    while left:
        start = min(left)
        seen, todo = {start}, [start]
        while todo:
            a = todo.pop()
            for b in sorted(left - seen):
                if (a, b) in linked or shapely.distance(feet[a], feet[b]) <= LANE_M:
                    seen.add(b)
                    todo.append(b)
        clusters.append(seen)
        left -= seen
    return clusters


@pytest.fixture(scope="module")
def demo_proposals():
    return [(code, grid, buildings, propose_grid(grid, buildings, seed=7)) for code, grid, buildings in demo_grids()]


def test_demo_city_band_tiling_and_explanations(demo_proposals) -> None:
    housed, worst = [], []
    for code, grid, buildings, proposal in demo_proposals:
        check_proposal(grid, buildings, proposal)
        for m in proposal.microgrids:
            if m.households:
                housed.append(m.households)
                if not m.in_band:
                    worst.append((abs(m.households - 40), code, m.sequence, m.households, m.reason))
    share = share_in_band(housed)
    print(f"\ndemo city: {len(housed)} micro-grids with households, {share:.1%} in 30–50; worst:")
    for row in sorted(worst, reverse=True)[:5]:
        print("  ", *row[1:])
    assert share >= 0.95
    assert all(reason for *_, reason in worst)


def test_suzhou_old_city() -> None:
    grid, buildings = suzhou()
    proposal = propose_grid(grid, buildings, seed=1)
    check_proposal(grid, buildings, proposal)
    share = share_in_band([m.households for m in proposal.microgrids if m.households])
    pp = np.median([m.polsby_popper for m in proposal.microgrids])
    print(f"\nSuzhou: {len(proposal.microgrids)} micro-grids, {share:.1%} in band, Polsby-Popper median {pp:.2f}")
    assert share >= 0.95


def test_beijing_compounds() -> None:
    housed = []
    for _name, grid, buildings in beijing():
        proposal = propose_grid(grid, buildings, seed=1)
        check_proposal(grid, buildings, proposal)
        housed += [m.households for m in proposal.microgrids if m.households]
    print(f"\nBeijing compounds: {len(housed)} micro-grids, {share_in_band(housed):.1%} in band")
    assert share_in_band(housed) >= 0.95


def test_too_few_households_is_explained_not_raised() -> None:
    grid, buildings = row_of([8, 7, 5])
    proposal = propose_grid(grid, buildings)
    check_proposal(grid, buildings, proposal)
    assert [m.households for m in proposal.microgrids] == [20]
    assert "20 households are fewer than 30" in proposal.problems[0]


def test_arithmetic_remainder_is_explained() -> None:
    # 55 households in small buildings: one micro-grid would hold 55, two would average 27.5.
    grid, buildings = row_of([5] * 11)
    proposal = propose_grid(grid, buildings)
    check_proposal(grid, buildings, proposal)
    assert (
        "cannot be divided into micro-grids of 30–50: 1 would average 55.0, 2 would average 27.5"
        in (proposal.problems[0])
    )
    assert all(m.reason for m in proposal.microgrids if not m.in_band)


def test_empty_grid_and_buildings_without_households() -> None:
    grid = square(0, 0, 100)
    proposal = propose_grid(grid, [])
    assert len(proposal.microgrids) == 1 and "no buildings" in proposal.microgrids[0].reason
    grid, buildings = row_of([0, 0])
    proposal = propose_grid(grid, buildings)
    check_proposal(grid, buildings, proposal)
    assert proposal.microgrids[0].reason.startswith("no households")


def test_a_building_between_neighbours_too_full_to_join() -> None:
    # 28 | 28 | 28: each alone is under 30, any two pass 50, and buildings this small are never split.
    grid, buildings = row_of([28, 28, 28])
    proposal = propose_grid(grid, buildings)
    check_proposal(grid, buildings, proposal)
    assert [m.households for m in proposal.microgrids] == [28, 28, 28]
    assert all("would pass 50" in m.reason for m in proposal.microgrids)


def test_tower_of_200_households_becomes_unit_microgrids() -> None:
    grid = square(-30, -30, 100)
    tower = Building("tower", 200, square(0, 0, 40), units=4, floors=30, label="1栋")
    proposal = propose_grid(grid, [tower])
    check_proposal(grid, [tower], proposal)
    assert len(proposal.microgrids) >= 4
    assert all(m.in_band for m in proposal.microgrids)
    # They share the tower's footprint and split it into disjoint unit/floor ranges covering all of it.
    cells = set()
    for m in proposal.microgrids:
        assert m.geometry.equals(proposal.microgrids[0].geometry)
        for p in m.parts:
            assert not p.whole
            for u in range(p.unit_from, p.unit_to + 1):
                for f in range(p.floor_from or 1, (p.floor_to or 30) + 1):
                    assert (u, f) not in cells
                    cells.add((u, f))
    assert len(cells) == 4 * 30


def test_split_building_rules() -> None:
    band = Band()
    assert [p.whole for p in split_building(50, 2, 10, band)] == [True]
    assert [p.whole for p in split_building(120, 1, None, band)] == [True]  # nothing to cut it by
    parts = split_building(200, 4, 30, band)
    assert sum(p.households for p in parts) == 200 and all(p.households <= 10 for p in parts)


def test_same_seed_same_answer_and_reading_order() -> None:
    grid, buildings = row_of([12, 9, 20, 15, 7, 18, 11, 30, 14, 22, 9, 16])

    def answer(seed):
        p = propose_grid(grid, buildings, seed=seed)
        return [(m.sequence, m.households, shapely.to_wkb(m.geometry), m.party_cell) for m in p.microgrids]

    assert answer(3) == answer(3)
    proposal = propose_grid(grid, buildings, seed=3)
    check_proposal(grid, buildings, proposal)
    xs = [m.land.centroid.x for m in proposal.microgrids]
    assert xs == sorted(xs)  # one row: numbered west → east


def test_party_cells_group_neighbours() -> None:
    grid, buildings = row_of([40] * 6)
    proposal = propose_grid(grid, buildings, cell_size=2)
    by_seq = {m.sequence: m for m in proposal.microgrids}
    assert proposal.party_cells == [[1, 2], [3, 4], [5, 6]]
    for cell in proposal.party_cells:
        assert by_seq[cell[0]].geometry.intersects(by_seq[cell[1]].geometry)
    assert propose_grid(grid, buildings, cell_size=3).party_cells == [[1, 2, 3], [4, 5, 6]]


def test_band_is_configurable() -> None:
    grid, buildings = row_of([10] * 12)
    proposal = propose_grid(grid, buildings, Band(55, 65))
    check_proposal(grid, buildings, proposal, Band(55, 65))
    assert sorted(m.households for m in proposal.microgrids) == [60, 60]
    with pytest.raises(ValueError):
        Band(50, 30)
