"""The limit: plain ``sqlite3`` writing the rows one transition writes, and nothing else.

Per transition: one UPDATE of the target (state, version, due date …), the chained record
(hashed as :mod:`engine.audit.chain` hashes it), the signature on a 审签, the outbox row and
the UPDATE of the chain head; committed every ``batch`` transitions. No checks, no reads:
what the database allows, to compare the engine against at the same batch size.

    python bench/raw_sqlite.py [--targets 2000] [--batch 1]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sqlite3
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _shared import LIFECYCLE, fresh_database, load_targets  # noqa: E402

STATES = {"start": ("assigned", "in_progress"), "self_assess": ("in_progress", "self_assessed"),
          "sign": ("self_assessed", "leader_signed"), "verify": ("leader_signed", "verified"),
          "score": ("verified", "scored")}


def _hash(content: dict) -> str:
    return hashlib.sha256(json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
                          .encode("utf-8")).hexdigest()


def raw_run(path: str, ids: list[int], batch: int = 1) -> dict:
    """The whole lifecycle of ``ids``, ``batch`` transitions per transaction: transitions per second (``rate``) and
    the process's CPU time per transition in ms (``cpu_ms``: what writing the rows costs in the database and in
    the least Python that hands them over)."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    # The targets' organisation's chain (one organisation in the benchmark), its head made if new.
    org_id = conn.execute("SELECT org_id FROM target WHERE id = ?", (ids[0],)).fetchone()[0]
    conn.execute("INSERT OR IGNORE INTO chainhead (id, count, last_id, last_hash) VALUES (?, 0, 0, '')", (org_id,))
    seq, last_hash = conn.execute("SELECT count, last_hash FROM chainhead WHERE id = ?",
                                           (org_id,)).fetchone()
    last_id = conn.execute("SELECT coalesce(max(id), 0) FROM transitionrecord").fetchone()[0]
    last_hash = last_hash or "0" * 64
    pending = 0
    started, cpu = time.perf_counter(), time.process_time()
    for target_id in ids:
        version = 1
        for trigger, actor, payload in LIFECYCLE:
            if pending == 0:
                conn.execute("BEGIN IMMEDIATE")
            source, dest = STATES[trigger]
            now = datetime.now(timezone.utc)
            at = now.isoformat(sep=" ", timespec="microseconds").removesuffix("+00:00")
            conn.execute("UPDATE target SET state = ?, version = ?, state_entered_at = ?, state_due = ?, entry = entry + 1, "
                         "escalation_level = 0, supervised = 0, updated_at = ? WHERE id = ? AND version = ?",
                         (dest, version + 1, at, "2024-12-31", at, target_id, version))
            version += 1
            last_id += 1
            seq += 1
            content = {"id": last_id, "org_id": org_id, "seq": seq, "target_id": target_id, "kind": "transition", "actor": actor.name,
                       "role": next(iter(actor.roles)), "trigger": trigger, "from": source, "to": dest,
                       "at": now.isoformat(timespec="microseconds"), "comment": "", "payload": payload,
                       "prev": last_hash}
            record_hash = _hash(content)
            conn.execute("INSERT INTO transitionrecord (id, org_id, seq, target_id, kind, actor, role, \"trigger\", "
                         "from_state, to_state, at, comment, payload, prev_hash, hash) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         (last_id, org_id, seq, target_id, "transition", actor.name, content["role"], trigger, source, dest, at, "",
                          json.dumps(payload, ensure_ascii=False), last_hash, record_hash))
            if trigger == "sign":
                conn.execute("INSERT INTO signature (target_id, signer, record_id, signed_at) VALUES (?, ?, ?, ?)",
                             (target_id, actor.name, last_id, at))
            data = {"code": f"B-{target_id}", "trigger": trigger, "actor": actor.name, "from": source, "to": dest,
                    "payload": payload}
            conn.execute("INSERT INTO outboxevent (event_type, target_id, record_id, recipients, data, status, attempts, "
                         "available_at, last_error, created_at) VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, '', ?)",
                         (f"target.{trigger}", target_id, last_id, json.dumps([{"kind": "role", "name": "office"}]),
                          json.dumps(data, ensure_ascii=False), at, at))
            conn.execute("UPDATE chainhead SET count = ?, last_id = ?, last_hash = ? WHERE id = ?",
                         (seq, last_id, record_hash, org_id))
            last_hash = record_hash
            pending += 1
            if pending == batch:
                conn.execute("COMMIT")
                pending = 0
    if pending:
        conn.execute("COMMIT")
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    conn.close()
    transitions = len(ids) * len(LIFECYCLE)
    return {"rate": transitions / elapsed, "cpu_ms": cpu * 1000 / transitions}


def fresh_raw(targets: int) -> tuple[str, list[int]]:
    url = fresh_database("sqlite", "")
    return url.removeprefix("sqlite:///"), load_targets(url, targets)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--targets", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=1)
    args = parser.parse_args()
    path, ids = fresh_raw(args.targets)
    run = raw_run(path, ids, args.batch)
    print(f"raw sqlite3, {args.batch} per transaction: {run['rate']:,.0f} transitions/s, "
          f"{run['cpu_ms']:.3f} ms CPU per transition")
