"""Evidence files (佐证材料): checked, stored safely, listed and fetched for people who may see the target."""
from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path, PurePath

from sqlmodel import Session, select

from engine.store.config import settings
from engine.people import scope
from engine.people.actors import Actor, may_see_evidence
from engine.store.errors import EvidenceTampered, Forbidden, InvalidPayload, NotFound
from engine.store.models import Evidence, Target
from engine.store.digests import file_sha256

#: What may be uploaded: the kinds of document a bureau's evidence comes in, by file ending.
ALLOWED = {
    ".pdf": "application/pdf", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png",
    ".doc": "application/msword", ".xls": "application/vnd.ms-excel", ".txt": "text/plain",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".ofd": "application/ofd", ".zip": "application/zip",
}
# The first bytes of the binary kinds, so that a renamed file is not taken for what it is not.
MAGIC = {".pdf": [b"%PDF"], ".png": [b"\x89PNG"], ".jpg": [b"\xff\xd8\xff"], ".jpeg": [b"\xff\xd8\xff"],
         ".docx": [b"PK"], ".xlsx": [b"PK"], ".zip": [b"PK"], ".ofd": [b"PK"],
         ".doc": [b"\xd0\xcf\x11\xe0"], ".xls": [b"\xd0\xcf\x11\xe0"]}


MAX_FILES = 5  # per form


@dataclass(frozen=True)
class Upload:
    filename: str
    data: bytes


def read_limit() -> int:
    """How much of an upload to read: one byte over the limit is enough to refuse it."""
    return settings().max_evidence_bytes + 1


def _folder() -> Path:
    folder = Path(settings().files_dir)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)  # evidence is for the people of the target only
    return folder


def _write_private(path: Path, data: bytes) -> None:
    """Write a new file readable by its owner only (0600)."""
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
        out.write(data)


def check(upload: Upload) -> str | None:
    """Why ``upload`` may not be kept, or ``None``."""
    name = PurePath(upload.filename or "").name
    ending = PurePath(name).suffix.lower()
    if not name or ending not in ALLOWED:
        return f"文件“{name or '（无名）'}”的类型不允许（允许：{'、'.join(sorted(ALLOWED))}）"
    if not upload.data:
        return f"文件“{name}”是空的"
    limit = settings().max_evidence_bytes
    if len(upload.data) > limit:
        return f"文件“{name}”超过 {limit // 1_048_576} MiB"
    if ending in MAGIC and not any(upload.data.startswith(m) for m in MAGIC[ending]):
        return f"文件“{name}”的内容与其类型 {ending} 不符"
    return None


ZIP_KINDS = (".docx", ".xlsx", ".zip", ".ofd")
MAX_UNPACKED_BYTES = 512 * 1_048_576  # a zip-based file that unpacks to more is refused (a zip bomb)


def inspect(uploads: list[Upload]) -> list[str]:
    """Why each upload may not be kept, looking inside it (zip directories); run in a limited child process."""
    import io
    import zipfile

    problems = [reason for reason in map(check, uploads) if reason]
    for upload in uploads:
        name = PurePath(upload.filename or "").name
        if PurePath(name).suffix.lower() not in ZIP_KINDS or check(upload):
            continue
        try:
            unpacked = sum(part.file_size for part in zipfile.ZipFile(io.BytesIO(upload.data)).infolist())
        except (zipfile.BadZipFile, ValueError, OSError):
            problems.append(f"文件“{name}”已损坏（不是完整的压缩文件）")
            continue
        if unpacked > MAX_UNPACKED_BYTES:
            problems.append(f"文件“{name}”解压后超过 {MAX_UNPACKED_BYTES // 1_048_576} MiB")
    return problems


def store(*, session: Session, target_id: int, uploader: str, uploads: list[Upload]) -> list[Evidence]:
    """Check and keep the files (all or none); flushes. The caller's transaction records them."""
    problems = [reason for reason in map(check, uploads) if reason]
    if len(uploads) > MAX_FILES:
        problems.append(f"一次最多上传 {MAX_FILES} 个文件")
    if problems:
        raise InvalidPayload("；".join(problems), errors=[{"field": "evidence", "reason": p} for p in problems])
    kept = []
    for upload in uploads:
        name = PurePath(upload.filename).name
        stored_as = secrets.token_hex(16) + PurePath(name).suffix.lower()
        path = _folder() / stored_as
        _write_private(path, upload.data)
        path.chmod(0o400)  # its owner reads it, nobody writes it; its SHA-256 goes into the chain with the transition
        row = Evidence(target_id=target_id, filename=name[:200], content_type=ALLOWED[PurePath(name).suffix.lower()],
                       size=len(upload.data), sha256=hashlib.sha256(upload.data).hexdigest(), stored_as=stored_as,
                       uploaded_by=uploader)
        session.add(row)
        kept.append(row)
    session.flush()
    return kept


MAX_REFERENCES = 50  # evidence items one transition may name


def issued(*, session: Session, target_id: int, items: list) -> list[dict]:
    """The evidence a transition names, as ``{id, name, sha256}``: only ids of files stored for this target.

    Made-up lists (file names, foreign or invented ids, thousands of items) are refused.
    """
    if len(items) > MAX_REFERENCES:
        raise InvalidPayload(f"佐证材料最多引用 {MAX_REFERENCES} 个文件",
                             errors=[{"field": "evidence", "reason": f"最多 {MAX_REFERENCES} 个"}])
    ids = [item.get("id") if isinstance(item, dict) else item for item in items]
    if not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        raise InvalidPayload("佐证材料只能引用已上传文件的编号",
                             errors=[{"field": "evidence", "reason": "只能引用已上传文件的编号"}])
    rows = {row.id: row for row in session.exec(select(Evidence).where(Evidence.id.in_(ids),
                                                                        Evidence.target_id == target_id))}
    unknown = [str(i) for i in ids if i not in rows]
    if unknown:
        raise InvalidPayload(f"佐证文件不存在或不属于该目标：{'、'.join(unknown[:10])}",
                             errors=[{"field": "evidence", "reason": "文件不存在或不属于该目标"}])
    gone = [rows[i].filename for i in ids if rows[i].removed_at is not None]
    if gone:
        raise InvalidPayload(f"佐证文件已移除，不能再引用：{'、'.join(gone[:10])}",
                             errors=[{"field": "evidence", "reason": "文件已移除"}])
    return [{"id": i, "name": rows[i].filename, "sha256": rows[i].sha256} for i in dict.fromkeys(ids)]


def of_target(session: Session, target_id: int) -> list[Evidence]:
    """Every file ever attached to the target, removed ones included (they stay for the audit)."""
    return list(session.exec(select(Evidence).where(Evidence.target_id == target_id).order_by(Evidence.id)))


def remove(*, session: Session, target_id: int, ids: list, by: str, at) -> list[dict]:
    """Mark the target's files ``ids`` removed (移除) by ``by`` at ``at``, as ``{id, name, sha256}`` for the
    transition's record; flushes nothing. The bytes stay: the chain still names them. Foreign, unknown,
    already removed or too many ids are refused."""
    if len(ids) > MAX_REFERENCES:
        raise InvalidPayload(f"一次最多移除 {MAX_REFERENCES} 个文件",
                             errors=[{"field": "evidence", "reason": f"最多 {MAX_REFERENCES} 个"}])
    if not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        raise InvalidPayload("只能移除已上传文件的编号", errors=[{"field": "evidence", "reason": "只能移除已上传文件的编号"}])
    rows = {row.id: row for row in session.exec(select(Evidence).where(Evidence.id.in_(ids),
                                                                        Evidence.target_id == target_id))}
    wrong = [str(i) for i in ids if i not in rows or rows[i].removed_at is not None]
    if wrong:
        raise InvalidPayload(f"要移除的佐证文件不存在、不属于该目标或已移除：{'、'.join(wrong[:10])}",
                             errors=[{"field": "evidence", "reason": "文件不存在、不属于该目标或已移除"}])
    removed = []
    for i in dict.fromkeys(ids):
        row = rows[i]
        row.removed_at, row.removed_by = at, by[:100]
        session.add(row)
        removed.append({"id": i, "name": row.filename, "sha256": row.sha256})
    return removed


def fetch(*, session: Session, evidence_id: int, actor: Actor, target_id: int | None = None) -> tuple[Evidence, Path]:
    """A file's record and where its bytes are, for ``actor`` if they may see the target's evidence, re-hashed.

    :class:`NotFound` when the file is missing (or is not ``target_id``'s), :class:`Forbidden`
    for someone who is not a party of the target, the office or the auditor, and
    :class:`EvidenceTampered` (with an alert to the office, in the chain and the outbox) when the
    bytes are not the ones recorded.
    """
    from engine.workflow.targets import parties_of

    row = session.get(Evidence, evidence_id)
    path = _folder() / row.stored_as if row else None
    if row is None or (target_id is not None and row.target_id != target_id) \
            or session.get(Target, row.target_id) is None or not path.is_file() \
            or not scope.may_read(session, actor, session.get(Target, row.target_id).org_id):
        raise NotFound(f"文件 {evidence_id} 不存在", evidence_id=evidence_id)
    if not may_see_evidence(actor, parties_of(session, row.target_id)):
        raise Forbidden(f"{actor.name} 不是该目标的责任科室、分管领导、绩效办或审计人员，不能查看其佐证材料",
                        code="out_of_scope", evidence_id=evidence_id)
    if file_sha256(path) != row.sha256:
        _alert(session, row)
        raise EvidenceTampered(f"文件“{row.filename}”与上传时的校验值不符，已拒绝下载并通知绩效办",
                               evidence_id=evidence_id)
    return row, path




def _alert(session: Session, row: Evidence) -> None:
    """Tell the office, and write the finding to the chain; commits."""
    from engine.audit import chain
    from engine.calendar import clock
    from engine.store import db
    from engine.store.models import OutboxEvent

    target = session.get(Target, row.target_id)
    code, target_id, org_id = target.code, target.id, target.org_id
    data = {"evidence_id": row.id, "filename": row.filename}
    session.rollback()
    db.begin_write(session)
    try:
        record = chain.append(session, target_id=target_id, org_id=org_id, kind="system", actor="系统", role="system",
                              trigger="evidence_mismatch", from_state=None, to_state=None,
                              at=clock.to_db(clock.now()), comment="佐证文件与记录的校验值不符", payload=data)
        session.add(OutboxEvent(event_type="evidence.tampered", target_id=target_id, record_id=record.id,
                                recipients=[{"kind": "role", "name": "office"}], data={**data, "code": code}))
        session.commit()
    except BaseException:
        session.rollback()
        raise


def discard(rows: list[Evidence]) -> None:
    """Remove the stored bytes of files whose transaction was rolled back."""
    for row in rows:
        (_folder() / row.stored_as).unlink(missing_ok=True)
