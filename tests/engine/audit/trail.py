"""A realistic audit trail for the tampering tests, and the edits a database administrator could make."""
from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

from sqlalchemy import func, insert, select, text, update

from engine.audit import chain, checkpoints
from engine.people.actors import Actor
from engine.plans import staffing
from engine.store.config import settings
from engine.store.models import ChainHead, Target, TransitionRecord
from engine.workflow import evidence
from engine.workflow.commands import fire
from tests import factories as f
from tests.engine.lifecycle import drive, step

ADMIN = Actor("管理员", frozenset({"admin"}))


def use_files(monkeypatch, tmp_path) -> None:
    """Evidence, the signing key and the checkpoint file in the test's own folder."""
    monkeypatch.setattr(settings(), "files_dir", str(tmp_path / "files"))
    monkeypatch.setattr(settings(), "audit_key_file", str(tmp_path / "keys" / "audit.pem"))
    monkeypatch.setattr(settings(), "checkpoint_file", str(tmp_path / "kept" / "checkpoints.jsonl"))


def build(session, frozen) -> SimpleNamespace:
    """Users added by the admin; target a scored, b verified (signed), c in progress with evidence and reports."""
    staffing.register(session=session, by=ADMIN, name=f.STAFF.name, roles=["staff"], sections=["规划科"])
    staffing.register(session=session, by=ADMIN, name=f.LEADER.name, roles=["leader"])
    staffing.register(session=session, by=ADMIN, name=f.OFFICE.name, roles=["office"])
    staffing.register(session=session, by=ADMIN, name="审计员", roles=["auditor"])
    a, b, c = f.target(session), f.target(session), f.target(session)
    drive(session, a.id, "scored", staff=f.STAFF, leaders=[f.LEADER], office=f.OFFICE)
    drive(session, b.id, "verified", staff=f.STAFF, leaders=[f.LEADER], office=f.OFFICE)
    step(session, c.id, "start", f.STAFF)
    fire(session=session, target_id=c.id, trigger="report_progress", actor=f.STAFF,
         payload={"note": "第一季度", "percent": 20}, uploads=[evidence.Upload("纪要.pdf", b"%PDF-1.4 meeting notes")])
    for percent in (40, 60):
        frozen.move(timedelta(hours=1))
        step(session, c.id, "report_progress", f.STAFF, payload={"note": "推进中", "percent": percent})
    return SimpleNamespace(a=a.id, b=b.id, c=c.id)


def checkpoint(session, frozen) -> dict:
    frozen.move(timedelta(hours=1))
    found = checkpoints.take(session=session, reason="测试")
    frozen.move(timedelta(hours=1))
    return found


def sql(session, statement: str, **params) -> None:
    session.execute(text(statement), params)
    session.commit()


TABLE = TransitionRecord.__table__


def rows(session) -> list[dict]:
    """Every record as plain values (times as times, payloads as dicts)."""
    return [dict(row) for row in session.execute(select(TABLE).order_by(TABLE.c.id)).mappings()]


def _move_head(session, count: int, last_hash: str) -> None:
    """Set the head of the chain the records are in (the tests' organisation's)."""
    org = rows(session)[0]["org_id"]
    session.execute(update(ChainHead.__table__).where(ChainHead.__table__.c.id == org)
                    .values(count=count, last_id=count, last_hash=last_hash))


def rewrite(session, records: list[dict], *, start: int) -> None:
    """Write ``records`` back from place ``start`` on with every hash recomputed, and the head to match:
    what a careful administrator does to make an edit invisible to the hash chain."""
    prev = records[start - 2]["hash"] if start > 1 else chain.GENESIS
    old_ids = [item["id"] for item in records[start - 1:]]
    for place, item in enumerate(records[start - 1:], start=start):
        item["id"], item["seq"], item["prev_hash"] = place, place, prev
        item["hash"] = chain.digest(SimpleNamespace(**item))
        prev = item["hash"]
    session.execute(update(TABLE).where(TABLE.c.id >= start)  # hashes are unique: out of the way first
                    .values(hash=func.substr(TABLE.c.hash, 2) + "x"))
    for old, item in zip(old_ids, records[start - 1:], strict=True):
        session.execute(update(TABLE).where(TABLE.c.id == old).values(**item))
    _move_head(session, len(records), prev)
    session.commit()


def append_forged(session, item: dict) -> None:
    """Insert a record that continues the chain, and move the head: a forged append."""
    last = rows(session)[-1]
    item = {**item, "id": last["id"] + 1, "org_id": last["org_id"], "seq": last["seq"] + 1, "prev_hash": last["hash"]}
    item["hash"] = chain.digest(SimpleNamespace(**item))
    session.execute(insert(TABLE).values(**item))
    _move_head(session, item["id"], item["hash"])
    session.commit()


# Consistent tamperings: the tables are fixed up to match, so only checkpoints kept elsewhere tell.

def truncate(session, built) -> None:
    """Delete the last record, reset the head, and undo its effect on the target."""
    records = rows(session)
    sql(session, "DELETE FROM transitionrecord WHERE id = :n", n=len(records))
    _move_head(session, records[-2]["id"], records[-2]["hash"])
    sql(session, "UPDATE target SET version = version - 1, progress = 40 WHERE id = :t", t=built.c)


def rewrite_score(session, built) -> None:
    """Change a score in its record, recompute every hash after it and the head, and the target's score."""
    records = rows(session)
    scored = next(r for r in records if r["trigger"] == "score")
    scored["payload"] = {**scored["payload"], "score": 2.0, "after": {**scored["payload"]["after"], "score": "2.00"}}
    rewrite(session, records, start=scored["id"])
    sql(session, "UPDATE target SET score = 2 WHERE id = :t", t=built.a)


def renumber(session, built) -> None:
    """Delete the second-last record, renumber the last and recompute the hashes, and fix the target."""
    records = rows(session)
    gone = records.pop(-2)
    sql(session, "DELETE FROM transitionrecord WHERE id = :n", n=gone["id"])
    records[-1]["payload"]["after"]["version"] -= 1
    rewrite(session, records, start=gone["id"])
    sql(session, "UPDATE target SET version = version - 1 WHERE id = :t", t=built.c)


def forge_score(session, built) -> None:
    """Append a score record dated a day back (into the scoring days), and score the target to match."""
    target = session.get(Target, built.b)
    append_forged(session, {
        "target_id": built.b, "kind": "transition", "actor": f.OFFICE.name, "role": "office", "trigger": "score",
        "from_state": "verified", "to_state": "scored", "at": rows(session)[-1]["at"] - timedelta(days=1),
        "comment": "", "payload": {"score": 2, "after": {"state": "scored", "version": target.version + 1,
                                                         "score": "2.00"}}})
    sql(session, "UPDATE target SET state = 'scored', score = 2, version = version + 1 WHERE id = :t", t=built.b)

