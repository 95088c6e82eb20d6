"""Escalation sweep benchmark: how long the sweep takes for so many overdue targets, and how it scales.

    python bench/sweep.py --overdue 10000 [--memory] [--backends sqlite,postgres] [--pg postgresql://postgres@127.0.0.1:5432/test]
    python bench/sweep.py [--pg …] [--sizes 100000,1000000]

``--overdue N``: N targets, every one overdue, on each backend: the first sweep (each climbs three
levels: history, outbox, supervision; ``escalation.BATCH`` targets per transaction, each all or
nothing), its time per target, and a second sweep (nothing left to do). Without it, on PostgreSQL:
for each size, 1% overdue, the first and second sweeps; a run with the largest size and 0.1%
overdue shows the cost follows the overdue targets, not the table. Targets are loaded with one
INSERT … SELECT of a recursive count.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import tracemalloc
from datetime import date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _shared import fresh_database  # noqa: E402
from sqlalchemy import Boolean, Date, DateTime, bindparam, text  # noqa: E402
from sqlmodel import Session  # noqa: E402

from engine.calendar import clock  # noqa: E402
from engine.people import organisations  # noqa: E402
from engine.schedule import escalation  # noqa: E402
from engine.store.db import make_engine  # noqa: E402
from engine.store.models import Plan  # noqa: E402

TODAY = date(2024, 10, 12)  # five working days after 30 September, across National Day
LATE = date(2024, 9, 30)


def load(url: str, total: int, every: int) -> int:
    """``total`` targets in progress; every ``every``-th is overdue (due 30 September 2024), with its
    section, leader and person. One INSERT … SELECT of a recursive count: the same on SQLite and PostgreSQL."""
    bind = make_engine(url)
    with Session(bind) as session:
        organisation, _ = organisations.for_plan(session, "基准单位")
        plan = Plan(org_id=organisation.id, org="基准单位", year=2024, title="基准")
        session.add(plan)
        session.commit()
        plan_id, org_id = plan.id, organisation.id
    values = {"plan": plan_id, "org": org_id, "total": total, "every": every, "late": LATE, "later": date(2024, 12, 31),
              "now": clock.to_db(clock.now()), "no": False}
    types = [bindparam("late", type_=Date), bindparam("later", type_=Date), bindparam("now", type_=DateTime(timezone=True)),
             bindparam("no", type_=Boolean)]
    with bind.begin() as conn:
        conn.execute(text("""
            INSERT INTO target (plan_id, org_id, rollup, workflow, workflow_version, code, category, indicator, basis,
                                text, weight, deadline_phrase, due_date, state, state_entered_at, state_due, entry,
                                escalation_level, version, supervised, progress, created_at, updated_at)
            WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < :total)
            SELECT :plan, :org, '', 'target', 1, 'B-' || n, '', '', '', '基准目标', 1, '',
                   CASE WHEN n % :every = 0 THEN :late ELSE :later END, 'in_progress', :now,
                   CASE WHEN n % :every = 0 THEN :late ELSE :later END, 2, 0, 2, :no, 0, :now, :now
            FROM g""").bindparams(*types), values)
        conn.execute(text("INSERT INTO assignment (target_id, kind, name, position) " + " UNION ALL ".join(
            f"SELECT id, '{kind}', '{name}', 0 FROM target WHERE state_due = :late"
            for kind, name in (("section", "规划科"), ("leader", "林长华"), ("person", "洪玮玮")))
        ).bindparams(bindparam("late", type_=Date)), {"late": LATE})
        overdue = conn.execute(text("SELECT count(*) FROM target WHERE state_due < :d").bindparams(
            bindparam("d", type_=Date)), {"d": TODAY}).scalar()
    with bind.connect() as conn:
        conn.execute(text("ANALYZE"))
        conn.commit()
    bind.dispose()
    return overdue


def plan_of_candidate_query(url: str) -> str:
    bind = make_engine(url)
    explain = "EXPLAIN QUERY PLAN" if bind.dialect.name == "sqlite" else "EXPLAIN"
    with bind.connect() as conn:
        rows = conn.execute(text(
            f"{explain} SELECT id, state_due, escalation_level FROM target WHERE workflow = 'target' "
            "AND state = 'in_progress' AND state_due < :d AND escalation_level < 3").bindparams(
            bindparam("d", type_=Date)), {"d": TODAY}).all()
    bind.dispose()
    return rows[0][-1]


def timed_sweeps(url: str, *, memory: bool = False) -> tuple[float, int, float, float | None]:
    """The first sweep's time and levels fired, the second's time, and with ``memory`` the peak of what
    Python allocated during the first (MiB, traced: the sweep then runs slower)."""
    bind = make_engine(url)
    peak = None
    with clock.frozen(datetime(2024, 10, 12, 9)):
        if memory:
            tracemalloc.start()
        started = time.perf_counter()
        first = escalation.sweep(bind, today=TODAY)
        first_s = time.perf_counter() - started
        if memory:
            peak = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
        started = time.perf_counter()
        second = escalation.sweep(bind, today=TODAY)
        second_s = time.perf_counter() - started
    bind.dispose()
    assert not second.fired
    return first_s, len(first.fired), second_s, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pg", default=os.environ.get("KAOPING_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--overdue", type=int, help="this many targets, all overdue, on each of --backends")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--memory", action="store_true",
                        help="with --overdue: the peak of what the first sweep allocates (traced, so not timed)")
    args = parser.parse_args()
    if args.overdue:
        for kind in args.backends.split(","):
            url = fresh_database(kind, args.pg)
            started = time.perf_counter()
            overdue = load(url, args.overdue, 1)
            loaded = time.perf_counter() - started
            first_s, fired, second_s, peak = timed_sweeps(url, memory=args.memory)
            if peak is not None:
                print(f"{kind:8} {overdue:,} overdue targets: the first sweep allocated at most {peak:.1f} MiB "
                      f"({fired:,} levels fired; traced, so its time is not shown)")
                continue
            print(f"{kind:8} {overdue:,} overdue targets (loaded in {loaded:.1f} s): first sweep {first_s:.1f} s, "
                  f"{first_s * 1000 / overdue:.1f} ms per target ({fired:,} levels fired, {fired / first_s:,.0f}/s, "
                  f"{escalation.BATCH} targets per transaction); second sweep {second_s * 1000:.0f} ms")
        return
    runs = [(int(n), 100) for n in args.sizes.split(",")] + [(int(args.sizes.split(",")[-1]), 1000)]
    results = []
    for total, every in runs:
        url = fresh_database("postgres", args.pg)
        started = time.perf_counter()
        overdue = load(url, total, every)
        loaded = time.perf_counter() - started
        first_s, fired, second_s, _ = timed_sweeps(url)
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
