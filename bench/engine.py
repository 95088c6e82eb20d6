"""Engine benchmark: audited transitions per second, against plain in-memory pytransitions,
and the engine's memory with 10,000 and 100,000 targets in the database.

    python bench/engine.py [--targets 10000] [--pg postgresql://postgres@127.0.0.1:5432/test]

Every figure is measured in this one run; compare the ratios, not the absolute numbers.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _shared import LIFECYCLE, fresh_database, load_targets, run_lifecycles  # noqa: E402
from sqlmodel import Session, select  # noqa: E402
from transitions import Machine  # noqa: E402

from engine.workflow import definitions  # noqa: E402
from engine.store.db import make_engine  # noqa: E402
from engine.store.models import Target  # noqa: E402


def plain_transitions_rate(count: int) -> float:
    """The same lifecycle in plain, in-memory pytransitions (no checks, no database)."""
    definition = definitions.get("target")
    machine = Machine(model=None, states=list(definition.states), initial="assigned", auto_transitions=False)
    for spec in definition.transitions:
        for source in spec.sources:
            machine.add_transition(spec.trigger, source, spec.dest)

    class Item:
        def __init__(self) -> None:
            self.state = "assigned"

    items = [Item() for _ in range(count)]
    started = time.perf_counter()
    for item in items:
        for trigger, _, _ in LIFECYCLE:
            machine.events[trigger].trigger(item)
    return count * len(LIFECYCLE) / (time.perf_counter() - started)


def memory_child(url: str, sample: int) -> dict:
    """In a fresh process: fire lifecycles on ``sample`` targets spread over the table; report memory."""
    bind = make_engine(url)
    with Session(bind) as session:
        ids = list(session.exec(select(Target.id).where(Target.state == "assigned").order_by(Target.id)))
    bind.dispose()
    step = max(1, len(ids) // sample)
    chosen = ids[::step][:sample]
    tracemalloc.start()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    run_lifecycles(url, chosen)
    _, peak = tracemalloc.get_traced_memory()
    return {"tracemalloc_peak_mib": peak / 2**20,
            "maxrss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "maxrss_growth_mib": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024}


def memory(kind: str, pg_admin: str, total: int, sample: int) -> dict:
    url = fresh_database(kind, pg_admin)
    load_targets(url, total)
    out = subprocess.run([sys.executable, __file__, "--memory-child", url, "--sample", str(sample)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--targets", type=int, default=10_000)
    parser.add_argument("--sample", type=int, default=1000, help="targets fired on in the memory runs")
    parser.add_argument("--pg", default=os.environ.get("KAOPING_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--memory-child")
    args = parser.parse_args()
    if args.memory_child:
        print(json.dumps(memory_child(args.memory_child, args.sample)))
        return

    plain = plain_transitions_rate(args.targets)
    print(f"plain pytransitions, in memory: {plain:,.0f} transitions/s ({args.targets:,} targets × {len(LIFECYCLE)})")
    for kind in args.backends.split(","):
        url = fresh_database(kind, args.pg)
        ids = load_targets(url, args.targets)
        rate = run_lifecycles(url, ids)
        print(f"{kind}: {rate:,.0f} audited transitions/s through the full lifecycle of {args.targets:,} targets; "
              f"plain/engine = {plain / rate:,.0f}")
        for total in (10_000, 100_000):
            m = memory(kind, args.pg, total, args.sample)
            print(f"{kind}: {total:>7,} targets in the table, lifecycles on {args.sample:,} of them: "
                  f"tracemalloc peak {m['tracemalloc_peak_mib']:.1f} MiB, max RSS {m['maxrss_mib']:.0f} MiB "
                  f"(+{m['maxrss_growth_mib']:.1f} MiB while firing)")


if __name__ == "__main__":
    main()
