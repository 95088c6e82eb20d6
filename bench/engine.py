"""Engine benchmark: audited transitions per second through ``fire`` on SQLite and PostgreSQL,
against the limit (plain ``sqlite3`` writing the same rows, ``raw_sqlite.py``), the peer
(SpiffWorkflow 3.2 round-tripping each instance through JSON, ``peer_spiff.py``; the ``bench``
extra) and plain in-memory pytransitions; statements and CPU per fire; with ``--memory``, the
engine's memory with 10,000 and 100,000 targets in the database.

    python bench/engine.py [--targets 2000] [--pg postgresql://postgres@127.0.0.1:5432/test] [--memory]

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

from _shared import (LIFECYCLE, fresh_database, load_targets, measure_grouped, measure_lifecycles,  # noqa: E402
                     run_lifecycles)
from peer_spiff import spiff_rate  # noqa: E402
from raw_sqlite import fresh_raw, raw_run  # noqa: E402
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
    parser.add_argument("--targets", type=int, default=2000)
    parser.add_argument("--peer-instances", type=int, default=1000, help="instances the peer runs (at most --targets)")
    parser.add_argument("--memory", action="store_true", help="also the memory runs (10,000 and 100,000 targets)")
    parser.add_argument("--sample", type=int, default=1000, help="targets fired on in the memory runs")
    parser.add_argument("--pg", default=os.environ.get("KAOPING_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--threads", type=int, default=16, help="concurrent callers of the group writer")
    parser.add_argument("--memory-child")
    args = parser.parse_args()
    if args.memory_child:
        print(json.dumps(memory_child(args.memory_child, args.sample)))
        return

    plain = plain_transitions_rate(args.targets)
    fires = args.targets * len(LIFECYCLE)
    print(f"{args.targets:,} targets × {len(LIFECYCLE)} transitions = {fires:,} fires per run")
    print(f"plain pytransitions, in memory (no checks, nothing stored): {plain:,.0f} transitions/s")
    peer = spiff_rate(min(args.targets, args.peer_instances))
    print(f"peer: SpiffWorkflow 3.2, JSON round trip per transition (in memory): {peer:,.0f} transitions/s")
    raw, raw_cpu = {}, {}
    for batch in (1, 10):
        path, ids = fresh_raw(args.targets)
        r = raw_run(path, ids, batch)
        raw[batch], raw_cpu[batch] = r["rate"], r["cpu_ms"]
        print(f"limit: raw sqlite3, same rows, {batch:>2} per transaction: {raw[batch]:,.0f} transitions/s, "
              f"{raw_cpu[batch]:.3f} ms CPU per transition")
    for kind in args.backends.split(","):
        url = fresh_database(kind, args.pg)
        ids = load_targets(url, args.targets * 2)  # one half one at a time, the other through the group writer
        m = measure_lifecycles(url, ids[:args.targets])
        line = (f"kaoping {kind}: {m['rate']:,.0f} audited transitions/s, one per transaction; "
                f"{m['statements']:.2f} statements and {m['cpu_ms']:.3f} ms CPU per fire; "
                f"{m['rate'] / peer:.2f}× the peer")
        if kind == "sqlite":  # the CPU beyond the raw script's: the engine's own work, apart from the database's
            line += (f", {m['rate'] / raw[1]:.0%} of raw sqlite3 at 1 per transaction "
                     f"({m['cpu_ms'] - raw_cpu[1]:.3f} ms CPU per fire beyond its)")
        print(line)
        g = measure_grouped(url, ids[args.targets:], threads=args.threads, size=10)
        line = (f"kaoping {kind}, group commit ({args.threads} threads, at most 10 per transaction): "
                f"{g['rate']:,.0f} audited transitions/s, {g['per_commit']:.1f} fires per commit; "
                f"{g['statements']:.2f} statements and {g['cpu_ms']:.3f} ms CPU per fire; {g['rate'] / peer:.2f}× the peer")
        if kind == "sqlite":
            line += (f", {g['rate'] / raw[10]:.0%} of raw sqlite3 at 10 per transaction "
                     f"({g['cpu_ms'] - raw_cpu[10]:.3f} ms CPU per fire beyond its)")
        print(line)
        if not args.memory:
            continue
        for total in (10_000, 100_000):
            m = memory(kind, args.pg, total, args.sample)
            print(f"{kind}: {total:>7,} targets in the table, lifecycles on {args.sample:,} of them: "
                  f"tracemalloc peak {m['tracemalloc_peak_mib']:.1f} MiB, max RSS {m['maxrss_mib']:.0f} MiB "
                  f"(+{m['maxrss_growth_mib']:.1f} MiB while firing)")

if __name__ == "__main__":
    main()
