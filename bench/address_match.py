"""How often address text finds its building on the loaded city: for a seeded sample of buildings whose
door number (N栋) is unique in their compound, "<prefix><compound><N栋>" is matched through the gazetteer
and counted right when the building is found with at least the intake's confidence threshold.

    .venv/bin/python bench/address_match.py [--sample 300] [--seed 7]   (GRIDMAP_DATABASE_URL or the embedded city)
"""

from __future__ import annotations

import argparse
import random

import psycopg

from gridmap.db.connect import database_url
from gridmap.incidents.gazetteer import match_address
from gridmap.settings import Settings

PREFIXES = ("深圳市龙华区民治街道", "民治", "", "广东省深圳市")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    settings = Settings()
    with psycopg.connect(database_url(settings)) as conn:
        rows = conn.execute(
            "SELECT code, compound, name FROM building b WHERE compound <> '' AND name ~ '^[A-Z]?[0-9]+栋$'"
            " AND (SELECT count(*) FROM building o WHERE o.compound = b.compound AND o.name = b.name) = 1"
            " ORDER BY code"
        ).fetchall()
        sample = random.Random(args.seed).sample(rows, min(args.sample, len(rows)))
        misses = []
        for i, (code, compound, name) in enumerate(sample):
            address = f"{PREFIXES[i % len(PREFIXES)]}{compound}{name}"
            m = match_address(conn, address)
            if m.code != code or m.confidence < settings.incidents.address_min_confidence:
                misses.append((address, code, m.code, m.confidence))
    right = len(sample) - len(misses)
    floor = settings.incidents.address_min_confidence
    print(f"{right}/{len(sample)} addresses found their building with confidence >= {floor}")
    for address, code, got, confidence in misses:
        print(f"  {address}: wanted {code}, got {got} ({confidence:.2f})")


if __name__ == "__main__":
    main()
