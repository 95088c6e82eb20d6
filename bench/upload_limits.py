"""How fast hostile plan files are refused, and what reading a good one in the limited child costs.

    .venv/bin/python bench/upload_limits.py
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.plans import importer  # noqa: E402
from engine.store import isolation  # noqa: E402
from tests.api import bombs  # noqa: E402

PLAN = Path(__file__).resolve().parents[1] / "workflows" / "plans" / "quanzhou-edu-2024.xlsx"


def measure(label: str, name: str, data: bytes) -> None:
    started = time.perf_counter()
    try:
        draft = isolation.run(importer.read_file, data, name)
        outcome = f"read, {len(draft.targets)} targets"
    except Exception as exc:  # noqa: BLE001 - a refusal is the expected outcome for the bombs
        outcome = f"refused: {type(exc).__name__}: {str(exc)[:70]}"
    print(f"{label:<34} {len(data):>9,} B  {time.perf_counter() - started:6.2f} s  {outcome}")


if __name__ == "__main__":
    measure("shipped plan (xlsx, in the child)", PLAN.name, PLAN.read_bytes())
    measure("YAML alias bomb (9 levels x 9)", "bomb.yaml", bombs.yaml_bomb())
    measure("YAML wide bomb (6 levels x 9)", "wide.yaml", bombs.yaml_bomb(levels=6))
    measure("xlsx with 200,000 cells", "cells.xlsx", bombs.xlsx_bomb(200_000))
    measure("xlsx unpacking past 32 MiB", "big.xlsx", bombs.xlsx_bomb(20_000, padding=2000))
    started = time.perf_counter()
    importer.read_file(PLAN.read_bytes(), PLAN.name)
    print(f"{'shipped plan (xlsx, in process)':<34} {PLAN.stat().st_size:>9,} B  {time.perf_counter() - started:6.2f} s")
