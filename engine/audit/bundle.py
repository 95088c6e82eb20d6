"""The offline audit bundle: everything an inspector needs to check one plan's trail on their own machine.

A zip with the whole chain of the plan's organisation (``records.jsonl``: the hashes need every
record of it, and every record that says it belongs to it is in it; no other organisation's), its signed checkpoints, the public key, a snapshot of the plan's current state (targets, signatures,
milestones, evidence hashes; every user's rights), optionally the evidence files, and
``offline_verifier.py``, which needs Python and ``cryptography`` and nothing of kaoping.
"""
from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import orjson
from sqlmodel import Session

from engine.audit import checkpoints, offline_verifier as core, replay
from engine.calendar import clock
from engine.store.config import settings
from engine.store.errors import NotFound
from engine.store.models import Evidence, Plan

README = """审计包（考评系统）

内容：records.jsonl（全部流转记录）、checkpoints.jsonl（签名检查点）、public_key.pem（公钥）、
state.json（计划 {plan} 的当前状态与佐证文件哈希）、evidence/（佐证文件，如已附带）、offline_verifier.py（校验程序）。

校验（只需 Python 3.11+ 与 cryptography）：
    python offline_verifier.py 本文件.zip
    python offline_verifier.py 本文件.zip --checkpoints 您保存的检查点文件

公钥指纹：{fingerprint}
"""


def _line(item: dict) -> bytes:
    """A record as a line of ``records.jsonl`` (sorted keys, compact): written by orjson, or by
    :func:`core.dumps` where orjson cannot (integers beyond 64 bits). The verifier parses the line
    and hashes the record in its own canonical form, so the writer of the line does not matter."""
    try:
        return orjson.dumps(item, option=orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE)
    except TypeError:
        return (core.dumps(item) + "\n").encode("utf-8")


@dataclass(frozen=True)
class Exported:
    path: Path
    records: int
    checkpoints: int
    files: int


def export(*, session: Session, plan_id: int, path: str | Path, with_files: bool = False,
           org_id: int | None = None) -> Exported:
    """Write the bundle of plan ``plan_id`` to ``path``: its organisation's chain (``org_id``, when given,
    must be that organisation or one above it); reads only."""
    plan = session.get(Plan, plan_id)
    if plan is None:
        raise NotFound(f"计划 {plan_id} 不存在", plan_id=plan_id)
    if org_id is not None and not replay.within(session, plan.org_id, org_id):
        raise NotFound(f"单位 {org_id} 没有计划 {plan_id}", plan_id=plan_id, org_id=org_id)
    path = Path(path)
    head = replay.head_of(session, plan.org_id)
    state = replay.current_state(session, plan_id=plan_id, org_ids=[plan.org_id], rehash=False)
    state.update(scope=sorted(state["targets"], key=int), plan=str(plan_id), head=head, chain=plan.org_id,
                 chain_name=replay.chain_names(session, [plan.org_id])[plan.org_id])
    kept = replay.stored_checkpoints(session, org_ids=[plan.org_id])
    pem = checkpoints.public_pem() or b""
    count = files = 0
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        with bundle.open("records.jsonl", "w") as out:
            # Every record the organisation's readers see, also those past the head read first: appended
            # since, they continue the chain; moved in from another organisation's chain, they break it.
            lines = []
            for row in replay.records(session, org_id=plan.org_id, past_head=True):
                item = dict(zip(core.ROW, row))
                item["org_id"] = plan.org_id
                lines.append(_line(item))
                if len(lines) == 2000:
                    out.write(b"".join(lines))
                    count, lines = count + len(lines), []
            out.write(b"".join(lines))
            count += len(lines)
        bundle.writestr("checkpoints.jsonl", "".join(core.dumps(c) + "\n" for c in kept))
        if pem:
            bundle.writestr("public_key.pem", pem)
        if with_files:
            folder = Path(settings().files_dir)
            for key in state["evidence"]:
                stored = folder / session.get(Evidence, int(key)).stored_as
                if stored.is_file():
                    bundle.write(stored, f"evidence/{key}")
                    files += 1
        bundle.writestr("state.json", json.dumps(state, ensure_ascii=False, indent=1, sort_keys=True))
        bundle.writestr("offline_verifier.py", Path(core.__file__).read_bytes())
        bundle.writestr("README.txt", README.format(plan=f"{plan.org}{plan.year}（{plan_id}）",
                                                    fingerprint=core.key_fingerprint(pem) if pem else "（尚无）"))
        bundle.writestr("manifest.json", json.dumps({
            "plan": plan_id, "title": plan.title, "exported_at": core.timestamp(clock.now()), "records": count,
            "checkpoints": len(kept), "evidence_files": files,
            "verifier_sha256": hashlib.sha256(Path(core.__file__).read_bytes()).hexdigest()},
            ensure_ascii=False, indent=1))
    return Exported(path, count, len(kept), files)
