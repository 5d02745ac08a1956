#!/usr/bin/env python3
"""Write the synthetic seeds of pipelines/stavanger_parking (deterministic: same output every
run). Facilities of Stavanger with a capacity, and one occupancy reading per facility and hour
of one day, following a weekday pattern per kind of facility."""

from __future__ import annotations

import csv
import math
import random
from pathlib import Path

SEEDS = Path(__file__).resolve().parents[2] / "pipelines/stavanger_parking/dbt/seeds"
FACILITIES = [
    (1, "Jorenholmen P-hus", "sentrum", 450, "garage"),
    (2, "Posthuset P-hus", "sentrum", 300, "garage"),
    (3, "St. Olav P-hus", "sentrum", 520, "garage"),
    (4, "Kyrkjebakken", "sentrum", 40, "street"),
    (5, "Stavanger Forum", "hinna", 1200, "lot"),
    (6, "Kvadrat", "sandnes", 2000, "lot"),
    (7, "Madla Amfi", "madla", 600, "lot"),
    (8, "Paradis", "hillevag", 80, "street"),
    (9, "Storhaug Helsehus", "storhaug", 120, "garage"),
    (10, "Tjensvoll", "tasta", 60, "street"),
    (11, "Universitetet", "ullandhaug", 900, "lot"),
    (12, "Sola Sentrum", "sola", 150, "street"),
]
SHAPE = {"garage": (9, 17, 0.85), "street": (12, 19, 0.95), "lot": (11, 16, 0.7)}


def occupancy(kind: str, capacity: int, hour: int, rng: random.Random) -> int:
    start, end, peak = SHAPE[kind]
    middle, width = (start + end) / 2, (end - start) / 2 + 2
    level = 0.08 + peak * math.exp(-(((hour - middle) / width) ** 2))
    noisy = level + rng.uniform(-0.05, 0.05)
    return max(0, min(capacity, round(capacity * noisy)))


def main() -> None:
    rng = random.Random(20261122)
    SEEDS.mkdir(parents=True, exist_ok=True)
    with open(SEEDS / "parking_facilities.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["facility_id", "facility_name", "zone", "capacity", "facility_kind"])
        writer.writerows(FACILITIES)
    with open(SEEDS / "parking_occupancy.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["reading_id", "facility_id", "observed_at", "occupied_spaces"])
        reading = 0
        for day in ("2026-11-16", "2026-11-17"):
            for hour in range(24):
                for facility_id, _, _, capacity, kind in FACILITIES:
                    reading += 1
                    writer.writerow(
                        [
                            reading,
                            facility_id,
                            f"{day} {hour:02d}:00:00",
                            occupancy(kind, capacity, hour, rng),
                        ]
                    )


if __name__ == "__main__":
    main()
