"""How address text finds its building on the loaded city: right, queued or confident wrong.

For a seeded sample of buildings whose door number (N栋) is unique in their compound, "<prefix><compound><N栋>"
is matched through the gazetteer and counted right (the building, with at least the intake's confidence
threshold), queued (below it: the needs-location queue) or confident wrong (another building at or above it:
the one outcome that must not happen). tests/incidents/test_address_matching.py checks the same on addresses
written as citizens write them.

    .venv/bin/python bench/address_match.py [--sample 300] [--seed 7]   (GRIDMAP_DATABASE_URL or the embedded city)
"""

from __future__ import annotations

import argparse
import random
from collections import defaultdict

import psycopg

from gridmap.db.connect import database_url
from gridmap.incidents.gazetteer import match_address
from gridmap.settings import Settings

PREFIXES = ("深圳市龙华区民治街道", "民治", "", "广东省深圳市")


def outcome(code: str, match, threshold: float) -> str:
    """right, queued or confident wrong: what intake does with ``match`` for the building ``code``."""
    if match.building_id is None or match.confidence < threshold:
        return "queued"
    return "right" if match.code == code else "confident wrong"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    settings = Settings()
    threshold = settings.incidents.address_min_confidence
    with psycopg.connect(database_url(settings)) as conn:
        rows = conn.execute(
            "SELECT code, compound, name FROM building b WHERE compound <> '' AND name ~ '^[A-Z]?[0-9]+栋$'"
            " AND (SELECT count(*) FROM building o WHERE o.compound = b.compound AND o.name = b.name) = 1"
            " ORDER BY code"
        ).fetchall()
        sample = random.Random(args.seed).sample(rows, min(args.sample, len(rows)))
        seen = defaultdict(list)
        for i, (code, compound, name) in enumerate(sample):
            address = f"{PREFIXES[i % len(PREFIXES)]}{compound}{name}"
            m = match_address(conn, address)
            seen[outcome(code, m, threshold)].append((address, code, m.code, m.confidence, m.doubts))
    n = len(sample)
    print(f"{n} addresses, confidence threshold {threshold}: " + ", ".join(
        f"{kind} {len(seen[kind])} ({len(seen[kind]) / n:.1%})" for kind in ("right", "queued", "confident wrong")
    ))  # fmt: skip
    for kind in ("confident wrong", "queued"):
        for address, code, got, confidence, doubts in seen[kind]:
            print(f"  {kind}: {address}: wanted {code}, got {got} ({confidence:.2f}) {'; '.join(doubts)}")


if __name__ == "__main__":
    main()
