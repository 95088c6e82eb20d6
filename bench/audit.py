"""Audit benchmark: whole-state verification (replay) of a long chain, a signed checkpoint, a bundle.

    python bench/audit.py [--records 1000000] [--first 100000] [--targets 10000] [--db sqlite|postgres]
                          [--pg postgresql+psycopg://postgres@127.0.0.1:5432/test]

The chain is written directly (hashes computed as ``chain.extend`` does, rows inserted in
bulk): creation records, a start and then progress reports spread over the targets, each
with the state it leaves, and the target rows set to match, so verification finds nothing.
``audit verify`` runs first on a chain of ``--first`` records, then on one of ``--records``,
each time in a process of its own, so that its peak resident memory (``VmHWM``) is its own:
flat memory shows as the same peak at both lengths. Each figure is printed with records per
second of wall time and of the process's CPU time (the machine is shared: the CPU rate is the
one that does not move with the load) and the load average. Then the checkpoint and the bundle
export of the long chain, and the bundle's own verifier run as an inspector runs it (the
``offline_verifier.py`` taken out of the bundle, a plain ``python`` without kaoping).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import orjson  # noqa: E402
from _shared import fresh_database, load_targets  # noqa: E402
from sqlalchemy import delete, insert, text  # noqa: E402
from sqlmodel import Session  # noqa: E402

from engine.audit import bundle, checkpoints, offline_verifier as core, replay  # noqa: E402
from engine.calendar import clock  # noqa: E402
from engine.store.config import settings  # noqa: E402
from engine.store.db import make_engine  # noqa: E402
from engine.store.models import ChainHead, TransitionRecord  # noqa: E402

BATCH = 20_000


def load() -> str:
    with open("/proc/loadavg") as averages:
        return "load " + " ".join(averages.read().split()[:3])


def _after(state: str, version: int) -> dict:
    return {"state": state, "version": version, "self_score": None, "score": None, "supervised": False,
            "escalation_level": 0}


class ChainWriter:
    """Writes the benchmark's chain in bulk, and lengthens it later."""

    def __init__(self, url: str, targets: int) -> None:
        self.url, self.ids = url, load_targets(url, targets)
        self.bind = make_engine(url)
        with self.bind.connect() as connection:  # the targets' organisation, whose chain this is
            self.org = connection.execute(text("SELECT org_id FROM target LIMIT 1")).scalar_one()
        self.start_at = clock.to_db(clock.now())
        self.versions = {i: 1 for i in self.ids}
        self.prev, self.place, self.turn, self.rows = core.GENESIS, 0, 0, []

    def _add(self, **fields) -> None:
        self.place += 1
        item = {"id": self.place, "org_id": self.org, "seq": self.place, "prev_hash": self.prev,
                "at": self.start_at + timedelta(milliseconds=self.place), **fields}
        # The canonical bytes (sorted keys, no spaces, UTF-8): what orjson writes for these plain values.
        self.prev = item["hash"] = hashlib.sha256(orjson.dumps({
            "id": item["seq"], "target_id": item["target_id"], "kind": item["kind"], "actor": item["actor"],
            "role": item["role"], "trigger": item["trigger"], "from": item["from_state"], "to": item["to_state"],
            "at": core.timestamp(item["at"]), "comment": item["comment"], "payload": item["payload"],
            "prev": item["prev_hash"]}, option=orjson.OPT_SORT_KEYS)).hexdigest()
        self.rows.append(item)

    def extend(self, records: int) -> None:
        """Lengthen the chain to ``records`` records, and set the targets and the head to match."""
        with Session(self.bind) as session:
            def flush() -> None:
                if self.rows:
                    session.execute(insert(TransitionRecord), self.rows)
                    self.rows.clear()

            if not self.place:
                self._add(target_id=None, kind="plan", actor="管理员", role="admin", trigger="import_plan",
                          from_state=None, to_state=None, comment="",
                          payload={"plan_id": 1, "milestones": {"self_assessment_signed": "2024-12-30",
                                                                "evaluation": "2025-01-10"}})
                for i in self.ids:
                    self._add(target_id=i, kind="creation", actor="管理员", role="admin", trigger="create",
                              from_state=None, to_state="assigned", comment="导入计划",
                              payload={"after": {**_after("assigned", 1), "plan_id": 1, "code": f"B-{i}", "signed": []}})
            while self.place < records:
                i = self.ids[self.turn % len(self.ids)]
                self.turn += 1
                self.versions[i] += 1
                version = self.versions[i]
                moving = version == 2
                self._add(target_id=i, kind="transition", actor="洪玮玮", role="staff",
                          trigger="start" if moving else "report_progress",
                          from_state="assigned" if moving else "in_progress", to_state="in_progress", comment="",
                          payload={"after": _after("in_progress", 2)} if moving else
                          {"note": "按计划推进，已完成阶段任务", "percent": min(100, version),
                           "after": _after("in_progress", version)})
                if len(self.rows) >= BATCH:
                    flush()
            flush()
            moved = [{"i": i, "v": v, "s": "in_progress" if v > 1 else "assigned"} for i, v in self.versions.items()]
            session.execute(text("UPDATE target SET version = :v, state = :s WHERE id = :i"), moved)
            session.execute(delete(ChainHead).where(ChainHead.id == self.org))
            session.execute(insert(ChainHead).values(id=self.org, count=self.place, last_id=self.place,
                                                     last_hash=self.prev))
            if session.get_bind().dialect.name == "postgresql":  # the keys were given here, not by the sequence
                session.execute(text("SELECT setval('transitionrecord_id_seq', :n)"), {"n": self.place})
                session.execute(text("ANALYZE transitionrecord"))
            session.commit()
        self.bind.dispose()  # no connection left open: the run's database is dropped at its end


def _verify(url: str) -> dict:
    """``audit verify`` of every chain (replay, signatures, every table compared, files re-hashed)."""
    bind = make_engine(url)
    with Session(bind) as session:
        cpu, started = time.process_time(), time.perf_counter()
        check = replay.verify(session=session, public_pem=checkpoints.public_pem())
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    bind.dispose()
    assert check.ok, check.lines
    return {"count": check.count, "seconds": elapsed, "cpu": cpu}


def _seal(url: str, folder: str) -> dict:
    """A checkpoint of every chain (a replay, the signing, the three copies), then the plan's bundle."""
    bind = make_engine(url)
    with Session(bind) as session:
        started = time.perf_counter()
        taken = checkpoints.take(session=session, reason="基准测试")
        checkpoint_s = time.perf_counter() - started
        started = time.perf_counter()
        done = bundle.export(session=session, plan_id=1, path=os.path.join(folder, "bundle.zip"))
        bundle_s = time.perf_counter() - started
    bind.dispose()
    return {"checkpoint": checkpoint_s, "fingerprint": core.checkpoint_fingerprint(taken), "bundle": bundle_s,
            "records": done.records, "mib": Path(done.path).stat().st_size / 1_048_576}


#: Run as the last thing in a child: its peak resident memory since it started (``VmHWM``; Linux's
#: ``getrusage`` maximum would start at the size of the process that forked it).
PEAK = "print('peak', int(next(l for l in open('/proc/self/status') if l.startswith('VmHWM:')).split()[1]) // 1024)"


def _child(command: list[str]) -> tuple[list[str], float, float, int]:
    """Run the Python ``command`` (its arguments after ``python``); its lines of output, wall seconds,
    CPU seconds (``getrusage`` of the child) and peak resident MiB."""
    script = (f"import runpy, sys; sys.argv = {command!r}\n"
              "try:\n    runpy.run_path(sys.argv[0], run_name='__main__')\n"
              f"except SystemExit as end:\n    status = end.code\nelse:\n    status = 0\n{PEAK}\nsys.exit(status)")
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-I", "-c", script], stdout=subprocess.PIPE)
    out = process.stdout.read().decode()
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        raise SystemExit(f"{command} failed ({os.waitstatus_to_exitcode(status)})")
    lines = out.strip().splitlines()
    return lines[:-1], elapsed, usage.ru_utime + usage.ru_stime, int(lines[-1].split()[1])


def _in_child(what: str, url: str, folder: str) -> tuple[dict, int]:
    lines, _, _, mib = _child([__file__, "--child", what, "--url", url, "--folder", folder])
    return json.loads(lines[-1]), mib


def _use(folder: str) -> None:
    for name, value in (("audit_key_file", "audit.pem"), ("checkpoint_file", "checkpoints.jsonl"),
                        ("files_dir", "files")):
        os.environ[f"KAOPING_{name.upper()}"] = os.path.join(folder, value)
        setattr(settings(), name, os.path.join(folder, value))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--first", type=int, default=100_000, help="the length of the first, shorter chain")
    parser.add_argument("--targets", type=int, default=10_000)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--child", choices=["verify", "seal"], help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _use(args.folder)
        found = _verify(args.url) if args.child == "verify" else _seal(args.url, args.folder)
        print(json.dumps(found))
        return

    folder = tempfile.mkdtemp(prefix="kaoping-bench-audit-")
    _use(folder)
    url = fresh_database(args.db, args.pg, suffix="_audit")
    writer = ChainWriter(url, args.targets)
    rates = {}
    for length in sorted({args.first, args.records}):
        started = time.perf_counter()
        writer.extend(length)
        print(f"{args.db}: chain of {length:,} records over {args.targets:,} targets written in "
              f"{time.perf_counter() - started:.0f} s ({load()})")
        found, mib = _in_child("verify", url, folder)
        rates[length] = found["count"] / found["seconds"]
        print(f"  audit verify of {found['count']:,} records: {found['seconds']:.1f} s = {rates[length]:,.0f} records/s "
              f"({found['count'] / found['cpu']:,.0f} records per CPU second), peak RSS {mib:.0f} MiB ({load()})")
    if len(rates) == 2:
        short, long = sorted(rates)
        print(f"  rate at {long:,} / rate at {short:,}: {rates[long] / rates[short]:.2f}")

    sealed, mib = _in_child("seal", url, folder)
    print(f"checkpoint of {args.records:,} records (replay, sign, store, file, outbox): {sealed['checkpoint']:.1f} s, "
          f"fingerprint {sealed['fingerprint']} ({load()})")
    print(f"bundle export: {sealed['bundle']:.1f} s, {sealed['records']:,} records, {sealed['mib']:.0f} MiB; "
          f"peak RSS of checkpoint and export {mib:.0f} MiB ({load()})")

    inspector = tempfile.mkdtemp(prefix="kaoping-bench-inspector-")
    with zipfile.ZipFile(os.path.join(folder, "bundle.zip")) as zipped:
        zipped.extract("offline_verifier.py", inspector)
    out, elapsed, cpu, mib = _child([os.path.join(inspector, "offline_verifier.py"), os.path.join(folder, "bundle.zip")])
    records = sealed["records"]
    print(f"the bundle's own verifier (offline_verifier.py bundle.zip, python -I): {elapsed:.1f} s = "
          f"{records / elapsed:,.0f} records/s ({records / cpu:,.0f} per CPU second), peak RSS {mib:.0f} MiB; "
          f"{out[0]} ({load()})")


if __name__ == "__main__":
    main()
