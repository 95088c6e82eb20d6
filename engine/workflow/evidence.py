"""Evidence files (佐证材料): checked, stored safely, listed and fetched for people who may see the target."""
from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path, PurePath

from sqlmodel import Session, select

from engine.store.config import settings
from engine.store.errors import InvalidPayload, NotFound
from engine.store.models import Evidence, Target

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
        _write_private(_folder() / stored_as, upload.data)
        row = Evidence(target_id=target_id, filename=name[:200], content_type=ALLOWED[PurePath(name).suffix.lower()],
                       size=len(upload.data), sha256=hashlib.sha256(upload.data).hexdigest(), stored_as=stored_as,
                       uploaded_by=uploader)
        session.add(row)
        kept.append(row)
    session.flush()
    return kept


def of_target(session: Session, target_id: int) -> list[Evidence]:
    return list(session.exec(select(Evidence).where(Evidence.target_id == target_id).order_by(Evidence.id)))


def fetch(*, session: Session, evidence_id: int) -> tuple[Evidence, Path]:
    """A file's record and where its bytes are; :class:`NotFound` when either is missing."""
    row = session.get(Evidence, evidence_id)
    path = _folder() / row.stored_as if row else None
    if row is None or session.get(Target, row.target_id) is None or not path.is_file():
        raise NotFound(f"文件 {evidence_id} 不存在", evidence_id=evidence_id)
    return row, path


def discard(rows: list[Evidence]) -> None:
    """Remove the stored bytes of files whose transaction was rolled back."""
    for row in rows:
        (_folder() / row.stored_as).unlink(missing_ok=True)
