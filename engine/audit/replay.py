"""Whole-state verification: the current state must be what the history says.

``verify`` streams the chain through :class:`~engine.audit.offline_verifier.Replay` (the same
code an inspector runs on a bundle), then reads the tables — targets, signatures, users and
their sections, milestones, evidence rows and the evidence files themselves, re-hashed — and
names the first object that disagrees with the replay, and how.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from engine.audit import chain, offline_verifier as core
from engine.store.config import settings
from engine.store.digests import file_sha256
from engine.store.errors import NotFound
from engine.store.models import (
    AuditCheckpoint,
    Evidence,
    Milestone,
    Organisation,
    Plan,
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


def checkpoint_of(row: Any) -> dict[str, Any]:
    """A stored checkpoint as it was signed (with its chain and link, when it has them)."""
    found = {name: getattr(row, name) for name in CHECKPOINT_FIELDS}
    if row.prev is not None:
        found.update(org=row.org_id, prev=row.prev)
    return found


def stored_checkpoints(session: Session, *, org_ids: Iterable[int] | None = None) -> list[dict[str, Any]]:
    """The checkpoints kept in the database (of the chains of ``org_ids``; all: ``None``), as signed,
    each with the chain it signs (``chain``), in the order they were taken."""
    query = select(AuditCheckpoint).order_by(AuditCheckpoint.id)
    if org_ids is not None:
        query = query.where(AuditCheckpoint.org_id.in_(list(org_ids)))
    return [{**checkpoint_of(row), "chain": row.org_id} for row in session.exec(query).scalars()]


def scope(session: Session, org_id: int | None) -> list[int] | None:
    """The chains ``audit verify --org`` reads: the organisation's and its descendants' (``None``: every chain)."""
    if org_id is None:
        return None
    organisation = session.get(Organisation, org_id)
    if organisation is None:
        raise NotFound(f"单位 {org_id} 不存在", org_id=org_id)
    below = session.exec(select(Organisation.id).where(Organisation.path.startswith(organisation.path, autoescape=True),
                                                       Organisation.id != org_id).order_by(Organisation.id)).scalars()
    return [org_id, *below]


def within(session: Session, org_id: int, ancestor_id: int) -> bool:
    """Whether organisation ``org_id`` is ``ancestor_id`` or below it."""
    return org_id in (scope(session, ancestor_id) or ())


def head_of(session: Session, org_id: int | None = None) -> dict[str, Any]:
    """The head of ``org_id``'s chain (``None``: the heads of every chain, added up)."""
    found = chain.heads(session.connection(), None if org_id is None else [org_id])
    if org_id is not None:
        return (found[0] if found else chain.Head(org_id)).as_dict()
    return {"count": sum(h.count for h in found), "last_hash": found[-1].last_hash if found else core.GENESIS,
            "last_id": max((h.last_id for h in found), default=0)}


def records(session: Session, *, org_id: int, batch: int = 5000, past_head: bool = False):
    """The records of ``org_id``'s chain as tuples (see :func:`engine.audit.chain.stream`), in order, up to
    its head read first (``past_head``: every record that says it is in that chain, to the last; never
    all in memory)."""
    connection = session.connection()
    head = chain.Head(org_id, count=2 ** 62) if past_head else \
        next(iter(chain.heads(connection, [org_id])), chain.Head(org_id))
    return chain.stream(connection, head, batch=batch)


class Replayed:
    """The replays of several chains, one per chain; their states taken together."""

    def __init__(self, runs: dict[int, core.Replay], heads: dict[int, chain.Head]) -> None:
        self.runs, self.heads = runs, heads
        failed = next((run for run in runs.values() if run.problem), None)
        self.problem = failed.problem if failed else None
        self.first_bad_id = failed.first_bad_id if failed else None
        self.count = sum(run.count for run in runs.values())

    def chains(self) -> dict[int, tuple[int, list[dict[str, Any]]]]:
        """Each chain's records replayed and the checkpoints that sign it (see :func:`core.report_lines`)."""
        return {org: (run.count, run.checkpoints) for org, run in self.runs.items()}

    def state(self) -> dict[str, Any]:
        merged: dict[str, dict] = {"targets": {}, "users": {}, "milestones": {}, "evidence": {}}
        for run in self.runs.values():
            for part, found in run.state().items():
                merged[part].update(found)
        return merged

    def state_digest(self) -> str:
        return hashlib.sha256(core.dumps(self.state()).encode("utf-8")).hexdigest()


def chain_names(session: Session, orgs: Iterable[int]) -> dict[int, str]:
    """How the report names the chains of ``orgs``: the deployment's, or by their organisation."""
    wanted = [o for o in orgs if o != chain.DEPLOYMENT]
    found = dict(session.execute(select(Organisation.id, Organisation.name).where(Organisation.id.in_(wanted))).all()) \
        if wanted else {}
    return {o: f"{found[o]}（单位 {o}）的链" if o in found else core.chain_name(o) for o in orgs}


def _chain_of(checkpoint: dict[str, Any], legacy: int) -> int:
    """The chain a checkpoint signs; one signed before chains per organisation signs the first one."""
    for key in ("chain", "org"):
        if checkpoint.get(key) is not None:
            return int(checkpoint[key])
    return legacy


def replay(session: Session, *, checkpoints: list[dict[str, Any]] = (), org_ids: Iterable[int] | None = None,
           batch: int = 5000, progress: Callable[[int], None] | None = None) -> tuple[Replayed, dict]:
    """Feed each chain of ``org_ids`` (every chain: ``None``), up to its head read first, through a replay
    against its checkpoints; the replays and the heads added up. ``progress`` is told how many records
    were replayed after every ``batch`` of them."""
    connection = session.connection()
    heads = {h.org_id: h for h in chain.heads(connection, org_ids)}
    legacy = min((o for o in heads if o != chain.DEPLOYMENT), default=chain.DEPLOYMENT)
    mine: dict[int, list] = {}
    for checkpoint in checkpoints:
        mine.setdefault(_chain_of(checkpoint, legacy), []).append(checkpoint)
    for org in mine:  # a chain its checkpoints know but whose records and head are gone
        if (org_ids is None or org in org_ids) and org not in heads:
            heads[org] = chain.Head(org, present=False)
    runs, done = {}, 0
    for org in sorted(heads):
        run = runs[org] = core.Replay(mine.get(org, []), hashing=chain.row_digest)
        feed = run.feed_row
        for row in chain.stream(connection, heads[org], batch=batch):
            if not feed(row):
                break
            done += 1
            if progress is not None and done % batch == 0:
                progress(done)
        run.finish(heads[org].as_dict())
        stray = None if run.problem else chain.beyond(connection, heads[org], batch=batch)
        if stray:
            run.fail(*stray)
    found = Replayed(runs, heads)
    total = {"count": found.count, "last_id": max((h.last_id for h in heads.values()), default=0),
             "last_hash": heads[max(heads)].last_hash if heads else core.GENESIS}
    return found, total


def _file_sha256(path: Path) -> str | None:
    return file_sha256(path) if path.is_file() else None


def current_state(session: Session, *, plan_id: int | None = None, org_ids: Iterable[int] | None = None,
                  rehash: bool = True) -> dict[str, Any]:
    """The tables' state in the replay's form (``plan_id``: one plan's targets, milestones and files;
    ``org_ids``: those of these organisations, and their people)."""
    targets: dict[str, dict[str, Any]] = {}
    query = select(Target.id, Target.code, Target.state, Target.version, Target.self_score, Target.score,
                   Target.supervised, Target.escalation_level)
    if plan_id is not None:
        query = query.where(Target.plan_id == plan_id)
    if org_ids is not None:
        query = query.where(Target.org_id.in_(list(org_ids)))
    for row in session.execute(query.order_by(Target.id)):
        targets[str(row.id)] = {"code": row.code, "state": row.state, "version": row.version,
                                "self_score": core.points(row.self_score), "score": core.points(row.score),
                                "supervised": bool(row.supervised), "escalation_level": row.escalation_level,
                                "signed": []}
    for target_id, signer in session.execute(select(Signature.target_id, Signature.signer).order_by(Signature.id)):
        if str(target_id) in targets:
            targets[str(target_id)]["signed"].append(signer)
    people = select(User.id, User.login, User.roles, User.active, User.org_id)
    if org_ids is not None:
        people = people.where(User.org_id.in_(list(org_ids)))
    users = {row.login: {"roles": row.roles, "sections": [], "active": row.active, "org_id": row.org_id,
                         "_id": row.id}
             for row in session.execute(people)}
    by_id = {u["_id"]: u for u in users.values()}
    for user_id, name in session.execute(select(UserSection.user_id, Section.name)
                                         .join(Section, Section.id == UserSection.section_id)):
        if user_id in by_id:
            by_id[user_id]["sections"].append(name)
    for user in users.values():
        user.pop("_id")
    milestones: dict[str, dict[str, str]] = {}
    query = select(Milestone.plan_id, Milestone.key, Milestone.due_date)
    if plan_id is not None:
        query = query.where(Milestone.plan_id == plan_id)
    if org_ids is not None:
        query = query.join(Plan, Plan.id == Milestone.plan_id).where(Plan.org_id.in_(list(org_ids)))
    for plan, key, due in session.execute(query):
        milestones.setdefault(str(plan), {})[key] = due.isoformat()
    evidence = {}
    folder = Path(settings().files_dir)
    for row in session.execute(select(Evidence.id, Evidence.target_id, Evidence.sha256, Evidence.stored_as,
                                      Evidence.filename, Evidence.removed_at).order_by(Evidence.id)):
        if (plan_id is not None or org_ids is not None) and str(row.target_id) not in targets:
            continue
        item = {"sha256": row.sha256, "target_id": row.target_id, "filename": row.filename}
        if row.removed_at is not None:  # only then: the state (and its digest) of files never removed is as before
            item["removed"] = True
        if rehash:
            item["file_sha256"] = _file_sha256(folder / row.stored_as)
        evidence[str(row.id)] = item
    return {"targets": targets, "users": users, "milestones": milestones, "evidence": evidence}


def verify(*, session: Session, checkpoints: list[dict[str, Any]] = (), public_pem: bytes | None = None,
           org_id: int | None = None, batch: int = 5000,
           progress: Callable[[int], None] | None = None) -> StateCheck:
    """Replay the chains (``org_id``: that organisation's and its descendants', reading no other) against
    the stored checkpoints and ``checkpoints`` (an auditor's copies), then compare the tables with the
    replay (``progress``: see :func:`replay`). Reads only."""
    org_ids = scope(session, org_id)
    kept = stored_checkpoints(session, org_ids=org_ids)
    every = core.merged(kept, checkpoints)
    problem = core.check_signatures(every, public_pem) if every and public_pem else None
    if every and not public_pem:
        problem = "有签名检查点，但找不到公钥，无法核对其签名"
    if org_ids is None and not problem:  # the deployment's chain of checkpoints, in the order taken
        problem = core.check_links(kept)
    run, head = replay(session, checkpoints=every, org_ids=org_ids, batch=batch, progress=progress)
    problem = problem or run.problem
    differences = [] if problem else core.compare(run.state(), current_state(session, org_ids=org_ids))
    lines = core.report_lines(count=run.count, problem=problem, first_bad_id=run.first_bad_id if run.problem else None,
                              differences=differences, checkpoints=every, chains=run.chains(),
                              names=chain_names(session, run.runs))
    return StateCheck(count=run.count, ok=not problem and not differences,
                      first_bad_id=run.first_bad_id if run.problem else None, problem=problem,
                      differences=differences, lines=lines, state_digest=run.state_digest() if not problem else "",
                      head=head)
