"""Whole-state verification: the current state must be what the history says.

``verify`` streams the chain through :class:`~engine.audit.offline_verifier.Replay` (the same
code an inspector runs on a bundle), then reads the tables — targets, signatures, users and
their sections, milestones, evidence rows and the evidence files themselves, re-hashed — and
names the first object that disagrees with the replay, and how.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from engine.audit import offline_verifier as core
from engine.store.config import settings
from engine.store.digests import file_sha256
from engine.store.models import (
    AuditCheckpoint,
    ChainHead,
    Evidence,
    Milestone,
    Section,
    Signature,
    Target,
    TransitionRecord,
    User,
    UserSection,
)

CHECKPOINT_FIELDS = ("length", "last_hash", "at", "state_digest", "signature", "key_fingerprint")


@dataclass
class StateCheck:
    """What ``audit verify`` found."""

    count: int
    ok: bool
    first_bad_id: int | None = None
    problem: str | None = None
    differences: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    state_digest: str = ""
    head: dict[str, Any] = field(default_factory=dict)


def stored_checkpoints(session: Session) -> list[dict[str, Any]]:
    rows = session.exec(select(AuditCheckpoint).order_by(AuditCheckpoint.length)).scalars()
    return [{name: getattr(row, name) for name in CHECKPOINT_FIELDS} for row in rows]


def head_of(session: Session) -> dict[str, Any]:
    head = session.get(ChainHead, 1, populate_existing=True)
    return {"count": head.count, "last_hash": head.last_hash, "last_id": head.last_id} if head else \
        {"count": 0, "last_hash": core.GENESIS, "last_id": 0}


def records(session: Session, *, upto: int, batch: int = 5000):
    """The chain's records as plain rows, in order, streamed (never all in memory)."""
    table = TransitionRecord.__table__
    return session.connection().execute(select(table).where(table.c.id <= upto).order_by(table.c.id)
                                        .execution_options(yield_per=batch, stream_results=True))


def replay(session: Session, *, checkpoints: list[dict[str, Any]] = (), batch: int = 5000,
           progress: Callable[[int], None] | None = None) -> tuple[core.Replay, dict]:
    """Feed the whole chain (up to the head read first) through a replay; the replay and that head.
    ``progress`` is told how many records were replayed after every ``batch`` of them."""
    head = head_of(session)
    run = core.Replay(checkpoints)
    for index, record in enumerate(records(session, upto=max(head["last_id"], head["count"]), batch=batch), start=1):
        if not run.feed(record):
            break
        if progress is not None and index % batch == 0:
            progress(index)
    run.finish(head)
    return run, head


def _file_sha256(path: Path) -> str | None:
    return file_sha256(path) if path.is_file() else None


def current_state(session: Session, *, plan_id: int | None = None, rehash: bool = True) -> dict[str, Any]:
    """The tables' state in the replay's form (``plan_id``: one plan's targets, milestones and files)."""
    targets: dict[str, dict[str, Any]] = {}
    query = select(Target.id, Target.code, Target.state, Target.version, Target.self_score, Target.score,
                   Target.supervised, Target.escalation_level)
    if plan_id is not None:
        query = query.where(Target.plan_id == plan_id)
    for row in session.execute(query.order_by(Target.id)):
        targets[str(row.id)] = {"code": row.code, "state": row.state, "version": row.version,
                                "self_score": core.points(row.self_score), "score": core.points(row.score),
                                "supervised": bool(row.supervised), "escalation_level": row.escalation_level,
                                "signed": []}
    for target_id, signer in session.execute(select(Signature.target_id, Signature.signer).order_by(Signature.id)):
        if str(target_id) in targets:
            targets[str(target_id)]["signed"].append(signer)
    users = {row.name: {"roles": row.roles, "sections": [], "active": row.active, "_id": row.id}
             for row in session.execute(select(User.id, User.name, User.roles, User.active))}
    by_id = {u["_id"]: u for u in users.values()}
    for user_id, name in session.execute(select(UserSection.user_id, Section.name)
                                         .join(Section, Section.id == UserSection.section_id)):
        by_id[user_id]["sections"].append(name)
    for user in users.values():
        user.pop("_id")
    milestones: dict[str, dict[str, str]] = {}
    query = select(Milestone.plan_id, Milestone.key, Milestone.due_date)
    for plan, key, due in session.execute(query if plan_id is None else query.where(Milestone.plan_id == plan_id)):
        milestones.setdefault(str(plan), {})[key] = due.isoformat()
    evidence = {}
    folder = Path(settings().files_dir)
    for row in session.execute(select(Evidence.id, Evidence.target_id, Evidence.sha256, Evidence.stored_as,
                                      Evidence.filename).order_by(Evidence.id)):
        if plan_id is not None and str(row.target_id) not in targets:
            continue
        item = {"sha256": row.sha256, "target_id": row.target_id, "filename": row.filename}
        if rehash:
            item["file_sha256"] = _file_sha256(folder / row.stored_as)
        evidence[str(row.id)] = item
    return {"targets": targets, "users": users, "milestones": milestones, "evidence": evidence}


def verify(*, session: Session, checkpoints: list[dict[str, Any]] = (), public_pem: bytes | None = None,
           batch: int = 5000, progress: Callable[[int], None] | None = None) -> StateCheck:
    """Replay the chain against the stored checkpoints and ``checkpoints`` (an auditor's copies), then
    compare the tables with the replay (``progress``: see :func:`replay`). Reads only."""
    kept = stored_checkpoints(session)
    every = core.merged(kept, checkpoints)
    problem = core.check_signatures(every, public_pem) if every and public_pem else None
    if every and not public_pem:
        problem = "有签名检查点，但找不到公钥，无法核对其签名"
    run, head = replay(session, checkpoints=every, batch=batch, progress=progress)
    problem = problem or run.problem
    differences = [] if problem else core.compare(run.state(), current_state(session))
    lines = core.report_lines(count=run.count, problem=problem, first_bad_id=run.first_bad_id if run.problem else None,
                              differences=differences, checkpoints=every)
    return StateCheck(count=run.count, ok=not problem and not differences,
                      first_bad_id=run.first_bad_id if run.problem else None, problem=problem,
                      differences=differences, lines=lines, state_digest=run.state_digest() if not problem else "",
                      head=head)
