"""Audit benchmark: whole-state verification (replay) of a long chain, a signed checkpoint, a bundle.

    python bench/audit.py [--records 1000000] [--targets 10000] [--db sqlite|postgres]
                          [--pg postgresql://postgres@127.0.0.1:5432/test]

The chain is written directly (hashes computed as ``chain.extend`` does, rows inserted in
bulk): creation records, a start and then progress reports spread over the targets, each
with the state it leaves, and the target rows set to match, so verification finds nothing.
Prints records per second, the resident memory sampled every 100,000 records of the replay
(flat when the replay streams), and the checkpoint and bundle times.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _shared import fresh_database, load_targets  # noqa: E402
from sqlalchemy import delete, insert, text  # noqa: E402
from sqlmodel import Session  # noqa: E402

from engine.audit import bundle, chain, checkpoints, offline_verifier as core, replay  # noqa: E402
from engine.calendar import clock  # noqa: E402
from engine.store.config import settings  # noqa: E402
from engine.store.db import make_engine  # noqa: E402
from engine.store.models import ChainHead, TransitionRecord  # noqa: E402

BATCH = 20_000


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def _after(state: str, version: int) -> dict:
    return {"state": state, "version": version, "self_score": None, "score": None, "supervised": False,
            "escalation_level": 0}


def write_chain(url: str, records: int, targets: int) -> None:
    ids = load_targets(url, targets)
    bind = make_engine(url)
    with bind.connect() as connection:  # the targets' organisation, whose chain this is
        org = connection.execute(text("SELECT org_id FROM target LIMIT 1")).scalar_one()
    start_at = clock.to_db(clock.now())
    versions = {i: 1 for i in ids}
    prev, place, rows = core.GENESIS, 0, []

    def add(**fields) -> None:
        nonlocal prev, place
        place += 1
        item = {"id": place, "org_id": org, "seq": place, "prev_hash": prev, "at": start_at + timedelta(milliseconds=place), **fields}
        item["hash"] = core.digest(SimpleNamespace(**item))
        prev = item["hash"]
        rows.append(item)

    with Session(bind) as session:
        def flush() -> None:
            if rows:
                session.execute(insert(TransitionRecord), rows)
                rows.clear()

        add(target_id=None, kind="plan", actor="管理员", role="admin", trigger="import_plan", from_state=None,
            to_state=None, comment="", payload={"plan_id": 1, "milestones": {"self_assessment_signed": "2024-12-30",
                                                                            "evaluation": "2025-01-10"}})
        for i in ids:
            add(target_id=i, kind="creation", actor="管理员", role="admin", trigger="create", from_state=None,
                to_state="assigned", comment="导入计划",
                payload={"after": {**_after("assigned", 1), "plan_id": 1, "code": f"B-{i}", "signed": []}})
        n = 0
        while place < records:
            i = ids[n % len(ids)]
            n += 1
            versions[i] += 1
            moving = versions[i] == 2
            add(target_id=i, kind="transition", actor="洪玮玮", role="staff",
                trigger="start" if moving else "report_progress", from_state="assigned" if moving else "in_progress",
                to_state="in_progress", comment="",
                payload={"after": _after("in_progress", 2)} if moving else
                {"note": "按计划推进，已完成阶段任务", "percent": min(100, versions[i]),
                 "after": _after("in_progress", versions[i])})
            if len(rows) >= BATCH:
                flush()
        flush()
        moved = [{"i": i, "v": v, "s": "in_progress" if v > 1 else "assigned"} for i, v in versions.items()]
        session.execute(text("UPDATE target SET version = :v, state = :s WHERE id = :i"), moved)
        session.execute(delete(ChainHead).where(ChainHead.id == org))
        session.execute(insert(ChainHead).values(id=org, count=place, last_id=place, last_hash=prev))
        if session.get_bind().dialect.name == "postgresql":  # the keys were given here, not by the sequence
            session.execute(text("SELECT setval('transitionrecord_id_seq', :n)"), {"n": place})
        session.commit()
    bind.dispose()


def timed_replay(url: str) -> tuple[float, int, list[tuple[int, float]]]:
    """The streaming replay alone, sampling memory every 100,000 records."""
    bind = make_engine(url)
    samples = []
    with Session(bind) as session:
        org = session.execute(text("SELECT org_id FROM target LIMIT 1")).scalar_one()
        head = replay.head_of(session, org)
        run = core.Replay(hashing=chain.row_digest)
        started = time.perf_counter()
        for record in replay.records(session, org_id=org):
            run.feed_row(record)
            if run.count % 100_000 == 0:
                samples.append((run.count, rss_mib()))
        run.finish(head)
        elapsed = time.perf_counter() - started
        assert run.problem is None, run.problem
    bind.dispose()
    return elapsed, run.count, samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--targets", type=int, default=10_000)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="kaoping-bench-audit-")
    settings().audit_key_file = os.path.join(folder, "audit.pem")
    settings().checkpoint_file = os.path.join(folder, "checkpoints.jsonl")
    settings().files_dir = os.path.join(folder, "files")
    url = fresh_database(args.db, args.pg, suffix="_audit")
    started = time.perf_counter()
    write_chain(url, args.records, args.targets)
    print(f"{args.db}: wrote {args.records:,} records over {args.targets:,} targets in {time.perf_counter() - started:.1f} s")

    elapsed, count, samples = timed_replay(url)
    print(f"replay (hashes + state): {count:,} records in {elapsed:.1f} s = {count / elapsed:,.0f} records/s")
    print("resident memory during the replay (records → MiB): "
          + ", ".join(f"{n // 1000}k→{mib:.0f}" for n, mib in samples))

    bind = make_engine(url)
    with Session(bind) as session:
        started = time.perf_counter()
        check = replay.verify(session=session, public_pem=checkpoints.public_pem())
        verify_s = time.perf_counter() - started
        assert check.ok, check.lines
        print(f"audit verify (replay + every table compared): {verify_s:.1f} s = {check.count / verify_s:,.0f} records/s")
        started = time.perf_counter()
        found = checkpoints.take(session=session, reason="基准测试")
        print(f"checkpoint (replay, sign, store, file, outbox): {time.perf_counter() - started:.1f} s, "
              f"fingerprint {core.checkpoint_fingerprint(found)}")
        started = time.perf_counter()
        done = bundle.export(session=session, plan_id=1, path=os.path.join(folder, "bundle.zip"))
        size = Path(done.path).stat().st_size / 1_048_576
        print(f"bundle export: {time.perf_counter() - started:.1f} s, {size:.0f} MiB")
    bind.dispose()
    started = time.perf_counter()
    ok, lines = core.verify_bundle(os.path.join(folder, "bundle.zip"))
    print(f"offline verifier on the bundle: {time.perf_counter() - started:.1f} s, {'ok' if ok else lines[0]}")


if __name__ == "__main__":
    main()
