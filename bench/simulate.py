"""Year simulation benchmark: ``kaoping simulate`` over the shipped 57-target plan and a large plan.

    python bench/simulate.py [--targets 10000] [--days 365] [--assume steady]

Each plan is set up on 2 January 2024 in a fresh SQLite database, then simulated from 2 January to
the year's end (``--days`` fewer for a shorter run) on a throw-away copy: jobs every day, the people
acting as assumed, nothing sent. Prints the wall time and this process's CPU time (on a shared machine the wall time grows with the
load, the CPU time does not), what the timeline holds, and the process's
resident memory (peak, and after each run: flat means the second figure does not grow with the days).
"""
from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert  # noqa: E402
from sqlmodel import Session  # noqa: E402

from engine.calendar import clock  # noqa: E402
from engine.plans import demo  # noqa: E402
from engine.schedule.simulation import simulate  # noqa: E402
from engine.store import schema  # noqa: E402
from engine.store.db import make_engine  # noqa: E402
from engine.store.models import Assignment, Milestone, Plan, ReportSchedule, Target  # noqa: E402

START = date(2024, 1, 2)
SECTIONS = [f"第{i + 1}科" for i in range(20)]


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _current_rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def shipped(url: str) -> int:
    bind = make_engine(url)
    with clock.frozen(datetime(2024, 1, 2, 8)), Session(bind) as session:
        plan_id = demo.set_up(session).plan.id
    bind.dispose()
    return plan_id


def large(url: str, count: int) -> int:
    """``count`` targets in ``assigned`` over 20 sections, due through the year, with the monthly report."""
    bind = make_engine(url)
    with clock.frozen(datetime(2024, 1, 2, 8)), Session(bind) as session:
        now = clock.to_db(clock.now())
        plan = Plan(org="基准单位", year=2024, title="基准计划")
        session.add(plan)
        session.flush()
        session.add(Milestone(plan_id=plan.id, key="self_assessment_signed", label="自评", due_date=date(2024, 12, 30)))
        session.add(Milestone(plan_id=plan.id, key="evaluation", label="评估", due_date=date(2025, 1, 10)))
        session.add(ReportSchedule(plan_id=plan.id, key="monthly", label="月度工作进展", phrase="每月25日前"))
        rows = []
        for i in range(count):
            due = date(2024, 6 + i % 7, 28)
            rows.append(dict(plan_id=plan.id, workflow="target", code=f"B-{i}", text="基准目标", weight=Decimal(1),
                             deadline_phrase="", due_date=due, state="assigned", state_due=due, state_entered_at=now,
                             version=1, supervised=False, progress=0, created_at=now, updated_at=now, category="",
                             indicator="", basis="", entry=1, escalation_level=0))
        session.execute(insert(Target), rows)
        ids = [row[0] for row in session.execute(Target.__table__.select().with_only_columns(Target.id)
                                                 .order_by(Target.id))]
        session.execute(insert(Assignment), [dict(target_id=t, kind=k, name=n, position=0) for j, t in enumerate(ids)
                                             for k, n in (("section", SECTIONS[j % 20]), ("leader", f"领导{j % 5}"),
                                                          ("person", f"经办人{j % 200}"))])
        session.commit()
        plan_id = plan.id
    bind.dispose()
    return plan_id


def run(label: str, url: str, plan_id: int, days: int, assume: str) -> None:
    until = START + timedelta(days=days - 1)
    started, cpu = time.perf_counter(), time.process_time()
    with clock.frozen(datetime(2024, 1, 2, 8)):
        timeline = simulate(url=url, plan_id=plan_id, start=START, until=until, assume=assume)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    counts = "，".join(f"{k} {n}" for k, n in sorted(timeline.counts().items()))
    print(f"{label}: {days} days ({START} – {until}), assume {assume}: {elapsed:.1f} s "
          f"({elapsed / days * 1000:.0f} ms/day; CPU {cpu:.1f} s); {len(timeline.happenings)} happenings ({counts}); "
          f"RSS now {_current_rss_mib():.0f} MiB, peak {_rss_mib():.0f} MiB", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--targets", type=int, default=10000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--assume", default="steady")
    parser.add_argument("--skip-shipped", action="store_true")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="kaoping-bench-sim-"))
    if not args.skip_shipped:
        url = f"sqlite:///{folder / 'shipped.db'}"
        schema.upgrade(url)
        run("shipped plan (57 targets)", url, shipped(url), min(args.days, 365), args.assume)
    if args.targets:
        url = f"sqlite:///{folder / 'large.db'}"
        schema.upgrade(url)
        plan_id = large(url, args.targets)
        run(f"{args.targets} targets", url, plan_id, args.days, args.assume)


if __name__ == "__main__":
    main()
