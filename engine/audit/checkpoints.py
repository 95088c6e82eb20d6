"""Signed checkpoints of the chain: the head (length, last hash), the time and the replayed-state digest,
signed with an Ed25519 key whose private half is a file outside the database.

A checkpoint is kept three times, so that whoever can rewrite the database cannot silently
rewrite all of them: a row in the database, a line appended to :data:`checkpoint_file` and a
message to every auditor's inbox (and e-mail, through the outbox). ``audit verify --checkpoints
FILE`` then finds a consistent rewrite of the chain, a truncation with the head reset, and a
record slipped in after a checkpoint but dated before it.
"""
from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine
from sqlmodel import Session, select

from engine.audit import chain, offline_verifier as core, replay
from engine.calendar import clock
from engine.store import db
from engine.store.config import settings
from engine.store.errors import DomainError
from engine.store.models import AuditCheckpoint, Milestone, OutboxEvent


class AuditKeyError(DomainError):
    """The signing key cannot be used (readable by others, unreadable, not an Ed25519 key)."""

    code = "audit_key"


class ChainBroken(DomainError):
    """The chain does not verify: a checkpoint would sign a tampered history."""

    code = "chain_broken"


def key_path() -> Path:
    return Path(settings().audit_key_file)


def load_key(*, create: bool = True) -> Ed25519PrivateKey | None:
    """The private key from :func:`key_path`; created (mode 0600) when missing and ``create``."""
    path = key_path()
    if not path.exists():
        if not create:
            return None
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
        return key
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        raise AuditKeyError(f"签名私钥文件 {path} 可被其他用户读取，请执行 chmod 600 {path}", path=str(path))
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError, OSError) as exc:
        raise AuditKeyError(f"签名私钥文件 {path} 无法读取：{exc}", path=str(path)) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise AuditKeyError(f"签名私钥文件 {path} 不是 Ed25519 密钥", path=str(path))
    return key


def public_pem(key: Ed25519PrivateKey | None = None) -> bytes | None:
    """The public half in PEM (``None`` while no key exists)."""
    key = key or load_key(create=False)
    if key is None:
        return None
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def public_key_info() -> dict[str, str] | None:
    """The public key and its fingerprint, as the audit page and the report show them."""
    pem = public_pem()
    return None if pem is None else {"pem": pem.decode(), "fingerprint": core.key_fingerprint(pem)}


def read_file(path: str | Path) -> list[dict[str, Any]]:
    """Checkpoints kept in a file, one JSON object a line."""
    return [json.loads(line) for line in Path(path).read_text("utf-8").splitlines() if line.strip()]


def _append_to_file(checkpoint: dict[str, Any]) -> None:
    path = Path(settings().checkpoint_file)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    with os.fdopen(fd, "a", encoding="utf-8") as out:
        out.write(core.dumps(checkpoint) + "\n")
        out.flush()
        os.fsync(out.fileno())


def take(*, session: Session, reason: str = "手动", org_id: int | None = None) -> dict[str, Any]:
    """A checkpoint of ``org_id``'s chain (``None``: of every chain, see :func:`take_all`; the first of them).

    Refused (:class:`ChainBroken`) when the chain itself does not verify.
    """
    return take_all(session=session, reason=reason, org_ids=None if org_id is None else [org_id])[0]


def take_all(*, session: Session, reason: str = "手动", org_ids: list[int] | None = None) -> list[dict[str, Any]]:
    """Replay the chains of ``org_ids`` (``None``: every chain that has records), sign each head and keep
    the checkpoints (database, file, auditors' inboxes), each naming the deployment's checkpoint before
    it; commits. The organisations' chains first, in order, then the deployment chain.

    Refused (:class:`ChainBroken`) when a chain does not verify; then none is signed.
    """
    key = load_key()
    pem = public_pem(key)
    run, _ = replay.replay(session, checkpoints=replay.stored_checkpoints(session, org_ids=org_ids), org_ids=org_ids)
    session.rollback()  # end the long read before writing
    if run.problem:
        raise ChainBroken(f"审计链校验失败，不签名：第 {run.first_bad_id} 条：{run.problem}", record_id=run.first_bad_id)
    chains = sorted((o for o, r in run.runs.items() if r.count or org_ids is not None),
                    key=lambda o: (o == chain.DEPLOYMENT, o))
    if not chains:
        chains = [min(run.runs, default=chain.DEPLOYMENT)] if run.runs else [chain.DEPLOYMENT]
    at = core.timestamp(clock.now())
    taken = []
    db.begin_write(session)
    try:
        # The link is read under the write lock: two checkpoints taken at once never name the same one.
        last = session.exec(select(AuditCheckpoint).order_by(AuditCheckpoint.id.desc())).first()
        prev = core.link_of(replay.checkpoint_of(last)) if last is not None else core.GENESIS
        for org in chains:
            found = run.runs.get(org) or core.Replay()
            checkpoint = {"length": found.count, "last_hash": found.prev, "at": at,
                          "state_digest": found.state_digest(), "org": org, "prev": prev}
            checkpoint["signature"] = key.sign(core.signed_message(checkpoint)).hex()
            checkpoint["key_fingerprint"] = core.key_fingerprint(pem)
            checkpoint["reason"] = reason[:100]
            prev = core.link_of(checkpoint)
            fields = {k: v for k, v in checkpoint.items() if k != "org"}
            session.add(AuditCheckpoint(**fields, org_id=org))
            session.add(OutboxEvent(event_type="audit.checkpoint", recipients=[{"kind": "role", "name": "auditor"}],
                                    data={**checkpoint, "fingerprint": core.checkpoint_fingerprint(checkpoint)}))
            taken.append(checkpoint)
        session.flush()
        for checkpoint in taken:  # before the commit: a checkpoint in the database is always in the file too
            _append_to_file(checkpoint)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return taken


def latest(session: Session) -> dict[str, Any] | None:
    """The newest checkpoint with its fingerprint (for the evaluation report and the audit page)."""
    row = session.exec(select(AuditCheckpoint).order_by(AuditCheckpoint.length.desc(), AuditCheckpoint.id.desc())).first()
    if row is None:
        return None
    found = replay.checkpoint_of(row)
    return {**found, "reason": row.reason, "fingerprint": core.checkpoint_fingerprint(found)}


def scheduled(bind: Engine) -> dict[str, Any]:
    """The daily job: a checkpoint of every chain, named after the plan milestones due today, if any."""
    with Session(bind, expire_on_commit=False) as session:
        today = clock.today()
        due = list(session.exec(select(Milestone.label).where(Milestone.due_date == today)))
        reason = ("里程碑：" + "、".join(due)) if due else "每日"
        found = take(session=session, reason=reason)
    return {"length": found["length"], "reason": found["reason"]}
