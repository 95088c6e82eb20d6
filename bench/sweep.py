"""Escalation sweep benchmark on PostgreSQL: 100,000 and 1,000,000 targets, 1% overdue.

    python bench/sweep.py [--pg postgresql://postgres@127.0.0.1:5432/test] [--sizes 100000,1000000]

For each size: the first sweep (every overdue target climbs three levels: history, outbox,
supervision) and a second sweep (nothing left to do: only the cost of finding work). A run
with 1,000,000 targets and 0.1% overdue shows the cost follows the overdue targets, not the
table. Targets are loaded with one INSERT … SELECT generate_series.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _shared import fresh_database  # noqa: E402
from sqlalchemy import text  # noqa: E402

from engine.calendar import clock  # noqa: E402
from engine.schedule import escalation
from engine.store.db import make_engine  # noqa: E402

TODAY = date(2024, 10, 12)  # five working days after 30 September, across National Day


def load(url: str, total: int, every: int) -> int:
    """``total`` targets in progress; every ``every``-th is overdue (due 30 September 2024)."""
    bind = make_engine(url)
    with bind.begin() as conn:
        conn.execute(text("INSERT INTO plan (org, year, title, timezone, categories, created_at) "
                          "VALUES ('基准单位', 2024, '基准', 'Asia/Shanghai', '{}', now())"))
        conn.execute(text("""
            INSERT INTO target (plan_id, workflow, code, category, indicator, basis, text, weight, deadline_phrase,
                                due_date, state, state_entered_at, state_due, entry, escalation_level, version,
                                supervised, progress, created_at, updated_at)
            SELECT 1, 'target', 'B-' || g, '', '', '', '基准目标', 1, '',
                   CASE WHEN g % :every = 0 THEN DATE '2024-09-30' ELSE DATE '2024-12-31' END,
                   'in_progress', now(),
                   CASE WHEN g % :every = 0 THEN DATE '2024-09-30' ELSE DATE '2024-12-31' END,
                   2, 0, 2, false, 0, now(), now()
            FROM generate_series(1, :total) AS g"""), {"total": total, "every": every})
        conn.execute(text("""
            INSERT INTO assignment (target_id, kind, name, position)
            SELECT id, k.kind, k.name, 0 FROM target,
                   (VALUES ('section', '规划科'), ('leader', '林长华'), ('person', '洪玮玮')) AS k(kind, name)
            WHERE state_due = DATE '2024-09-30'"""))
        overdue = conn.execute(text("SELECT count(*) FROM target WHERE state_due < :d"), {"d": TODAY}).scalar()
    with bind.connect() as conn:
        conn.execute(text("ANALYZE"))
    bind.dispose()
    return overdue


def plan_of_candidate_query(url: str) -> str:
    bind = make_engine(url)
    with bind.connect() as conn:
        rows = conn.execute(text(
            "EXPLAIN SELECT id, state_due, escalation_level FROM target WHERE workflow = 'target' "
            "AND state = 'in_progress' AND state_due < :d AND escalation_level < 3"), {"d": TODAY}).all()
    bind.dispose()
    return rows[0][0]


def timed_sweeps(url: str) -> tuple[float, int, float]:
    bind = make_engine(url)
    with clock.frozen(datetime(2024, 10, 12, 9)):
        started = time.perf_counter()
        first = escalation.sweep(bind, today=TODAY)
        first_s = time.perf_counter() - started
        started = time.perf_counter()
        second = escalation.sweep(bind, today=TODAY)
        second_s = time.perf_counter() - started
    bind.dispose()
    assert not second.fired
    return first_s, len(first.fired), second_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pg", default=os.environ.get("KAOPING_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--sizes", default="100000,1000000")
    args = parser.parse_args()
    runs = [(int(n), 100) for n in args.sizes.split(",")] + [(int(args.sizes.split(",")[-1]), 1000)]
    results = []
    for total, every in runs:
        url = fresh_database("postgres", args.pg)
        started = time.perf_counter()
        overdue = load(url, total, every)
        loaded = time.perf_counter() - started
        first_s, fired, second_s = timed_sweeps(url)
        results.append((total, overdue, first_s, second_s))
        print(f"{total:>9,} targets, {overdue:>6,} overdue (loaded in {loaded:.0f} s): first sweep {first_s:.2f} s "
              f"({fired:,} levels fired, {fired / first_s:,.0f}/s); second sweep {second_s * 1000:.0f} ms")
        print(f"          candidate query plan: {plan_of_candidate_query(url)}")
    (n1, o1, f1, s1), (n2, o2, f2, s2) = results[0], results[1]
    print(f"ratio {n2:,}/{n1:,} targets (overdue ×{o2 / o1:.0f}): first sweep ×{f2 / f1:.1f}, second sweep ×{s2 / s1:.1f}")
    n3, o3, f3, s3 = results[2]
    print(f"ratio {n3:,} targets with {o3:,} overdue / {n1:,} with {o1:,}: first sweep ×{f3 / f1:.1f}, "
          f"second sweep ×{s3 / s1:.1f}")


if __name__ == "__main__":
    main()
