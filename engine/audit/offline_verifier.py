"""Checking a kaoping audit trail with Python's standard library and ``cryptography`` alone.

This file is the verifier of the offline audit bundle (``kaoping audit export``) and the core
that the server's own ``kaoping audit verify`` runs: both replay the same chain with the same
code, so an inspector's result and the server's agree. It imports nothing of kaoping.

Run on a bundle: ``python offline_verifier.py bundle.zip`` (exit status 0: the trail holds).

What is checked, record by record (streaming: memory follows the number of objects, not the
length of the chain): the place of each record, the previous hash, the record's own hash;
the replayed state of every target (state, version, scores, signatures, supervision,
escalation level), user (roles, sections, whether active), plan (milestones) and evidence file
(SHA-256); a record whose ``from`` state is not the state the history so far gives is refused.
At the end the replayed state is compared with the current state (the database's, or the
bundle's snapshot of it), and the chain with signed checkpoints (Ed25519): a checkpoint's
length and hash must be found in the chain, the chain may not be shorter than a checkpoint,
and no record placed after a checkpoint may be dated before it.
"""
from __future__ import annotations

import hashlib
import json
import sys
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, Iterable

GENESIS = "0" * 64
#: What the replay keeps of a target, with the labels a report uses.
TARGET_FIELDS = {"state": "状态", "version": "版本", "self_score": "自评分", "score": "得分", "signed": "审签人",
                 "supervised": "督办", "escalation_level": "催办级别"}
USER_FIELDS = {"roles": "角色", "sections": "科室", "active": "启用", "org_id": "所属组织"}
MAX_PROBLEMS = 20
#: How much earlier than a checkpoint a record placed after it may be dated: a transition whose
#: clock was read just before the checkpoint may commit just after it.
GRACE_SECONDS = 600


def timestamp(moment: Any) -> str:
    """A record's time as its hash covers it (UTC, microseconds); text is taken as already in that form."""
    if isinstance(moment, str):
        return moment
    if moment.tzinfo is None:  # a database without time zones gives UTC without an offset
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat(timespec="microseconds")


_ENCODER = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"))
_sha256 = hashlib.sha256
#: The fields of a record in the order :meth:`Replay.feed_row` takes them.
ROW = ("id", "seq", "target_id", "kind", "actor", "role", "trigger", "from_state", "to_state", "at", "comment",
       "payload", "prev_hash", "hash")


def dumps(value: Any) -> str:
    """JSON in the one fixed form hashes and signatures cover."""
    return _ENCODER.encode(value)


def place(record: Any) -> int:
    """A record's place in its chain (``seq``; records exported before chains had their own numbers: ``id``)."""
    seq = getattr(record, "seq", None)
    return record.id if seq is None else seq


def canonical(record: Any) -> bytes:
    """The bytes a record's hash covers: every field but the hash, in a fixed form (``id``: its place in its chain)."""
    content = {
        "id": place(record), "target_id": record.target_id, "kind": record.kind, "actor": record.actor,
        "role": record.role, "trigger": record.trigger, "from": record.from_state, "to": record.to_state,
        "at": timestamp(record.at), "comment": record.comment, "payload": record.payload, "prev": record.prev_hash,
    }
    return dumps(content).encode("utf-8")


def digest(record: Any) -> str:
    return hashlib.sha256(canonical(record)).hexdigest()


def row_digest(row: tuple) -> str:
    """:func:`digest` of a record given as a tuple in the order of :data:`ROW` (time and payload as
    :meth:`Replay.feed_row` takes them): the same bytes, built without an object per record."""
    _, seq, target_id, kind, actor, role, trigger, from_state, to_state, at, comment, payload, prev, _ = row
    return _sha256(_ENCODER.encode({
        "id": seq, "target_id": target_id, "kind": kind, "actor": actor, "role": role, "trigger": trigger,
        "from": from_state, "to": to_state, "at": at, "comment": comment, "payload": payload, "prev": prev,
    }).encode("utf-8")).hexdigest()


def points(value: Any) -> str | None:
    """Scores in one form (two decimals), whatever the database or JSON made of them."""
    if value is None:
        return None
    try:
        return format(Decimal(str(value)), ".2f")
    except InvalidOperation:
        return str(value)


def _signed(value: Any) -> list:
    return sorted(value or [])


def _same(value: Any) -> Any:
    return value


_VIEWS = {"self_score": points, "score": points, "signed": _signed, "version": int, "escalation_level": int,
          "supervised": bool}


def target_view(fields: dict[str, Any]) -> dict[str, Any]:
    """The tracked fields of a target in comparable form."""
    views = _VIEWS
    return {name: views.get(name, _same)(value) for name, value in fields.items()}


def user_view(fields: dict[str, Any]) -> dict[str, Any]:
    """A person's rights in comparable form; the organisation only where the record states it (records
    written before there were organisations do not)."""
    view = {"roles": sorted(fields.get("roles") or []), "sections": sorted(fields.get("sections") or []),
            "active": bool(fields.get("active", True))}
    if fields.get("org_id") is not None:
        view["org_id"] = fields["org_id"]
    return view


def _seconds(moment: str) -> float:
    return datetime.fromisoformat(moment).timestamp()


SIGNED = ("length", "last_hash", "at", "state_digest")


def signed_message(checkpoint: dict[str, Any]) -> bytes:
    """The bytes a checkpoint's signature covers: with its chain and the checkpoint before it in the
    deployment (``org``, ``prev``), except on checkpoints signed before chains per organisation."""
    names = SIGNED + ("org", "prev") if checkpoint.get("prev") is not None else SIGNED
    return dumps({k: checkpoint[k] for k in names}).encode("utf-8")


def link_of(checkpoint: dict[str, Any]) -> str:
    """What the next checkpoint of the deployment names as its ``prev``."""
    return hashlib.sha256(signed_message(checkpoint)).hexdigest()


def check_links(checkpoints: list[dict[str, Any]]) -> str | None:
    """Why the deployment's chain of checkpoints (in the order they were taken) is broken, or ``None``:
    each names the one before it, so none can be removed or replaced unseen."""
    prev = GENESIS
    for checkpoint in checkpoints:  # those signed before the chain of checkpoints existed name none
        if checkpoint.get("prev") is not None and checkpoint["prev"] != prev:
            return f"签名检查点（{checkpoint.get('at')}）所指的前一个检查点不符：检查点被删除或替换"
        prev = link_of(checkpoint)
    return None


def key_fingerprint(public_pem: bytes) -> str:
    """A short fingerprint of a public key, to read out and compare (SHA-256 of the PEM, 4×4 hex)."""
    hexed = hashlib.sha256(public_pem.strip()).hexdigest()[:16]
    return " ".join(hexed[i:i + 4] for i in range(0, 16, 4))


def checkpoint_fingerprint(checkpoint: dict[str, Any]) -> str:
    """A short fingerprint of a checkpoint (its signed content), printed in reports."""
    hexed = hashlib.sha256(signed_message(checkpoint)).hexdigest()[:16]
    return " ".join(hexed[i:i + 4] for i in range(0, 16, 4))


class Replay:
    """Feed the records in chain order; :attr:`problem` holds the first that fails."""

    def __init__(self, checkpoints: Iterable[dict[str, Any]] = (), *, hashing: Any = None) -> None:
        """``hashing``: what :meth:`feed_row` hashes a record with (:func:`row_digest`, or a faster
        function that gives the same result)."""
        self._digest = hashing or row_digest
        self.count, self.prev, self.last_at = 0, GENESIS, ""
        self.targets: dict[str, dict[str, Any]] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self.milestones: dict[str, dict[str, str]] = {}
        self.evidence: dict[str, dict[str, Any]] = {}
        self.problem: str | None = None
        self.first_bad_id: int | None = None
        self.checkpoints = sorted(checkpoints, key=lambda c: c["length"])
        self._pending = list(self.checkpoints)
        self._passed: dict[str, Any] | None = None  # the last checkpoint the chain went past
        self._passed_at: float | None = None  # and its time, in seconds

    def fail(self, record_id: int | None, reason: str) -> bool:
        """Hold ``reason`` as the problem, found at ``record_id`` (the first problem stays); ``False``."""
        if self.problem is None:
            self.problem, self.first_bad_id = reason, record_id
        return False

    def feed(self, record: Any) -> bool:
        """Check and apply one record; ``False`` (and :attr:`problem`) when it fails."""
        payload = record.payload
        return self.feed_row((record.id, place(record), record.target_id, record.kind, record.actor, record.role,
                              record.trigger, record.from_state, record.to_state, timestamp(record.at), record.comment,
                              json.loads(payload) if isinstance(payload, str) else payload, record.prev_hash,
                              record.hash))

    def feed_row(self, row: tuple) -> bool:
        """:meth:`feed` for a record given as a tuple in the order of :data:`ROW`, its time already
        in the form the hash covers (:func:`timestamp`) and its payload parsed: what a long chain is
        streamed as."""
        if self.problem is not None:
            return False
        record_id, seq, target_id, kind, actor, role, trigger, from_state, to_state, at, comment, payload, prev, hashed = row
        expected = self.count + 1
        if seq != expected:
            return self.fail(record_id, f"记录编号不连续：应为 {expected}，实为 {seq}（记录被删除或插入）")
        if prev != self.prev:
            return self.fail(record_id, "前一条记录的哈希不符（记录被删除、插入或重排）")
        if self._digest(row) != hashed:
            return self.fail(record_id, "记录内容与其哈希不符（记录被修改）")
        if self._passed_at is not None and self._passed_at - _seconds(at) > GRACE_SECONDS:
            return self.fail(record_id, f"记录时间 {at} 早于其前面的签名检查点（{self._passed['at']}）：记录是事后补写的")
        if not self._apply(record_id, target_id, kind, from_state, to_state, payload):
            return False
        self.count, self.prev, self.last_at = expected, hashed, at
        while self._pending and self._pending[0]["length"] == self.count:
            checkpoint = self._pending.pop(0)
            if checkpoint["last_hash"] != self.prev:
                return self.fail(record_id, f"第 {self.count} 条记录的哈希与签名检查点（{checkpoint['at']}）不符：链被改写")
            if checkpoint.get("state_digest") and checkpoint["state_digest"] != self.state_digest():
                return self.fail(record_id, f"重放到第 {self.count} 条记录时的状态与签名检查点（{checkpoint['at']}）不符")
            self._passed, self._passed_at = checkpoint, _seconds(checkpoint["at"])
        return True

    def _apply(self, record_id, target_id, kind, from_state, to_state, payload) -> bool:
        if not isinstance(payload, dict):
            payload = {}
        after = payload.get("after")
        if target_id is not None and isinstance(after, dict):
            key = str(target_id)
            known = self.targets.get(key)
            if known is None:
                if kind != "creation":
                    return self.fail(record_id, f"目标 {key} 在其创建记录之前就有记录")
                known = self.targets[key] = {}
            elif from_state is not None and from_state != known.get("state"):
                return self.fail(record_id, f"记录的原状态“{from_state}”与历史重放的状态“{known.get('state')}”不符")
            if to_state is not None and after.get("state", to_state) != to_state:
                return self.fail(record_id, "记录的新状态与其内容不符")
            known.update(after)  # as recorded: put in comparable form once, in :meth:`state`
        evidence = payload.get("evidence")
        if evidence:
            for item in evidence:
                if isinstance(item, dict) and item.get("sha256") and item.get("id") is not None:
                    self.evidence[str(item["id"])] = {"sha256": item["sha256"], "target_id": target_id}
        for item in payload.get("evidence_removed") or ():  # left out of a later submission (kept, not listed)
            if isinstance(item, dict) and str(item.get("id")) in self.evidence:
                self.evidence[str(item["id"])]["removed"] = True
        if kind == "user" or kind == "plan":
            self._apply_other(kind, payload, after)
        return True

    def _apply_other(self, kind: str, payload: dict[str, Any], after: Any) -> None:
        if kind == "user" and isinstance(after, dict) and payload.get("user"):
            # Keyed by login, unique in the deployment (two organisations may each have a 绩效办); records
            # written before logins existed name the user, whose login was then the name.
            self.users[str(payload.get("login") or payload["user"])] = user_view(after)
        if kind == "plan" and payload.get("plan_id") is not None:
            plan = self.milestones.setdefault(str(payload["plan_id"]), {})
            if isinstance(payload.get("milestones"), dict):
                plan.update(payload["milestones"])
            elif payload.get("key") and payload.get("to"):
                plan[str(payload["key"])] = payload["to"]

    def state(self) -> dict[str, Any]:
        targets = {key: target_view(fields) for key, fields in self.targets.items()}
        return {"targets": targets, "users": self.users, "milestones": self.milestones, "evidence": self.evidence}

    def state_digest(self) -> str:
        """SHA-256 of the replayed state, as a checkpoint signs it."""
        return hashlib.sha256(dumps(self.state()).encode("utf-8")).hexdigest()

    def finish(self, head: dict[str, Any] | None = None) -> None:
        """After the last record: the head (when known) and the checkpoints the chain never reached."""
        if self.problem is not None:
            return
        if head is not None and (head["count"] != self.count or (self.count and head["last_hash"] != self.prev)):
            self.fail(self.count + 1 if head["count"] > self.count else None,
                       f"链头记载 {head['count']} 条记录，实有 {self.count} 条（末尾记录被删除或链头被改动）")
        elif self._pending:
            checkpoint = self._pending[0]
            self.fail(self.count + 1, f"签名检查点（{checkpoint['at']}）记载 {checkpoint['length']} 条记录，"
                                       f"链中只有 {self.count} 条：末尾记录被删除")


def compare(replayed: dict[str, Any], current: dict[str, Any], *, scope: set[str] | None = None,
            plan: str | None = None) -> list[str]:
    """How the current state differs from the replayed one, object by object (targets, users, plans, files).

    ``scope``: the target ids to compare (a bundle of ``plan``: its targets now, and those its history created);
    ``None``: all.
    """
    problems: list[str] = []
    r_targets, c_targets = replayed["targets"], current["targets"]
    if scope is not None:
        scope = scope | {k for k, v in r_targets.items() if plan is not None and str(v.get("plan_id")) == plan}
    for key in sorted(set(r_targets) | set(c_targets), key=lambda k: int(k)):
        if scope is not None and key not in scope:
            continue
        now, then = c_targets.get(key), r_targets.get(key)
        name = f"目标 {now.get('code', key) if now else key}（id {key}）"
        if then is None:
            problems.append(f"{name}：没有创建记录（未经记录写入）")
            continue
        if now is None:
            problems.append(f"{name}：记录中存在，数据库中已不存在（被删除）")
            continue
        now_view = target_view({k: now.get(k) for k in TARGET_FIELDS if k in then or k == "signed"})
        then_view = {**{"signed": []}, **{k: v for k, v in then.items() if k in TARGET_FIELDS}}
        for field, label in TARGET_FIELDS.items():
            if field in now_view and now_view.get(field) != then_view.get(field):
                problems.append(f"{name}：{label} 记录为 {then_view.get(field)!r}，数据库为 {now_view.get(field)!r}")
    for key in sorted(set(replayed["users"]) | set(current["users"])):
        now, then = current["users"].get(key), replayed["users"].get(key)
        if then is None:
            problems.append(f"用户 {key}：没有记录（未经记录添加）")
        elif now is None:
            problems.append(f"用户 {key}：记录中存在，数据库中已不存在")
        else:
            now = user_view(now)
            problems += [f"用户 {key}：{label} 记录为 {then[f]!r}，数据库为 {now[f]!r}"
                         for f, label in USER_FIELDS.items() if f in then and now.get(f) != then[f]]
    for plan in sorted(set(replayed["milestones"]) | set(current["milestones"]), key=lambda k: int(k)):
        now, then = current["milestones"].get(plan, {}), replayed["milestones"].get(plan, {})
        if plan not in current["milestones"] and scope is not None:
            continue
        for key in sorted(set(now) | set(then)):
            if now.get(key) != then.get(key):
                problems.append(f"计划 {plan} 里程碑 {key}：记录为 {then.get(key)!r}，数据库为 {now.get(key)!r}")
    for key in sorted(set(replayed["evidence"]) | set(current["evidence"]), key=lambda k: int(k)):
        now, then = current["evidence"].get(key), replayed["evidence"].get(key)
        if scope is not None and str((now or then or {}).get("target_id")) not in scope:
            continue
        if then is None:
            problems.append(f"佐证文件 {key}：没有记录（未经记录加入）")
        elif now is None:
            problems.append(f"佐证文件 {key}：记录中存在，数据库中已不存在")
        elif now["sha256"] != then["sha256"]:
            problems.append(f"佐证文件 {key}：数据库中的校验值与记录不符")
        elif bool(now.get("removed")) != bool(then.get("removed")):
            problems.append(f"佐证文件 {key}：" + ("数据库中已移除，记录中没有移除" if now.get("removed")
                                                 else "记录中已移除，数据库中仍在列"))
        elif "file_sha256" in now and now["file_sha256"] != then["sha256"]:
            problems.append(f"佐证文件 {key}（{now.get('filename', '')}）：" + (
                "文件已不存在" if now["file_sha256"] is None else "文件内容与记录的 SHA-256 不符（文件被替换或修改）"))
    return problems


def merged(*lists: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Checkpoints from several places, each once (by its signature)."""
    found: dict[str, dict[str, Any]] = {}
    for checkpoint in (c for group in lists for c in group):
        found.setdefault(str(checkpoint.get("signature")), checkpoint)
    return list(found.values())


def check_signatures(checkpoints: list[dict[str, Any]], public_pem: bytes) -> str | None:
    """Why a checkpoint's Ed25519 signature does not hold, or ``None``."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    key = load_pem_public_key(public_pem)
    for checkpoint in checkpoints:
        try:
            key.verify(bytes.fromhex(checkpoint["signature"]), signed_message(checkpoint))
        except (InvalidSignature, ValueError, KeyError):
            return f"签名检查点（{checkpoint.get('at')}，{checkpoint.get('length')} 条）的签名无效：检查点被伪造或改动"
    return None


def chain_name(org: Any) -> str:
    """How a report names a chain: the deployment's (0), or an organisation's by its id."""
    return "部署链" if org == 0 else f"单位 {org} 的链"


def report_lines(*, count: int, problem: str | None, first_bad_id: int | None, differences: list[str],
                 checkpoints: list[dict[str, Any]],
                 chains: dict[Any, tuple[int, list[dict[str, Any]]]] | None = None,
                 names: dict[Any, str] | None = None) -> list[str]:
    """The verdict as both verifiers print it, and for each chain (``chains``: its key → the records
    replayed in it and its checkpoints; ``None``: one chain of ``count`` records signed by
    ``checkpoints``) its latest checkpoint and how many records after it are not yet signed.
    ``names``: what to call the chains (default :func:`chain_name`)."""
    lines = []
    if problem:
        lines.append(f"审计链校验失败：已校验 {count} 条；第一条不符的记录 {first_bad_id}：{problem}")
    elif differences:
        lines.append(f"审计链完整（{count} 条），但当前状态与记录不符：{differences[0]}")
        lines += [f"  {d}" for d in differences[1:MAX_PROBLEMS]]
    else:
        lines.append(f"审计链完整：共 {count} 条记录，当前状态与历史一致")
    if chains is None:
        chains = {None: (count, list(checkpoints))}
    if not checkpoints:
        return lines
    each = []
    for key in sorted(chains, key=lambda k: (k is None or k == 0, k or 0)):  # the deployment chain last
        length, signed = chains[key]
        name = (names or {}).get(key) or ("本链" if key is None else chain_name(key))
        if not signed:
            each.append(f"{name}：{length} 条记录，尚无签名检查点")
            continue
        last = max(signed, key=lambda c: c["length"])
        each.append(f"{name}：最近的检查点 {last['length']} 条，{last['at']}，指纹 {checkpoint_fingerprint(last)}；"
                    f"其后 {max(0, length - last['length'])} 条记录尚未签名")
    if len(each) == 1:
        lines.append(f"签名检查点 {len(checkpoints)} 个；{each[0]}")
    else:
        lines.append(f"签名检查点 {len(checkpoints)} 个，{len(each)} 条链：")
        lines += [f"  {line}" for line in each]
    return lines


def _row_of(item: dict[str, Any]) -> tuple:
    """A line of ``records.jsonl`` as :meth:`Replay.feed_row` takes it."""
    seq, payload = item.get("seq"), item["payload"]
    return (item["id"], item["id"] if seq is None else seq, item["target_id"], item["kind"], item["actor"], item["role"],
            item["trigger"], item["from_state"], item["to_state"], timestamp(item["at"]), item["comment"],
            json.loads(payload) if isinstance(payload, str) else payload, item["prev_hash"], item["hash"])


def verify_bundle(path: str, extra_checkpoints: list[dict[str, Any]] = ()) -> tuple[bool, list[str]]:
    """Verify an audit bundle; the verdict and the report's lines. The records are read a line at a
    time from the zip: memory follows the number of objects, not the length of the chain."""
    import zipfile

    with zipfile.ZipFile(path) as bundle:
        names = set(bundle.namelist())
        state = json.loads(bundle.read("state.json"))
        kept = [json.loads(line) for line in bundle.read("checkpoints.jsonl").decode().splitlines() if line]
        public_pem = bundle.read("public_key.pem") if "public_key.pem" in names else b""
        for key, item in state["evidence"].items():
            if f"evidence/{key}" in names:
                item["file_sha256"] = hashlib.sha256(bundle.read(f"evidence/{key}")).hexdigest()
        own, head = state.get("chain"), state.get("head")
        # An auditor's file holds the checkpoints of every chain: this bundle's chain's count here
        # (those signed before chains per organisation name none).
        extra = [c for c in extra_checkpoints if own is None or c.get("org", c.get("chain", own)) == own]
        checkpoints = merged(kept, extra)
        bad_signature = check_signatures(checkpoints, public_pem) if checkpoints else None
        replay = Replay(checkpoints)
        at_head = GENESIS if head and not head["count"] else None  # the hash at the head's place
        with bundle.open("records.jsonl") as records:
            for line in records:
                if not line.strip():
                    continue
                item = json.loads(line)
                if own is not None and item.get("org_id", own) != own:  # its organisation decides who reads it
                    replay.fail(item.get("id"), f"记录属于单位 {item.get('org_id')}，却在"
                                                f"{state.get('chain_name') or chain_name(own)}中（记录被移到另一单位）")
                    break
                try:
                    row = _row_of(item)
                except (KeyError, TypeError, ValueError, AttributeError) as error:
                    replay.fail(item.get("id") if isinstance(item, dict) else None, f"记录格式不正确：{error!r}")
                    break
                if not replay.feed_row(row):
                    break
                if head and replay.count == head["count"]:
                    at_head = replay.prev
    if head and replay.problem is None and replay.count > head["count"]:
        # Records appended while the bundle was written continue the chain past the head read first
        # (each was checked like the others); the head must still be a place of the chain.
        if at_head != (head["last_hash"] or GENESIS):
            replay.fail(None, f"链头（{head['count']} 条）的哈希与链中该处记录不符（链头被改动）")
        head = None
    replay.finish(head)
    problem = bad_signature or replay.problem
    scope = set(state["scope"]) if "scope" in state else None
    differences = [] if problem else compare(replay.state(), state, scope=scope, plan=state.get("plan"))
    lines = report_lines(count=replay.count, problem=problem, first_bad_id=None if bad_signature else replay.first_bad_id,
                         differences=differences, checkpoints=checkpoints,
                         chains={own: (replay.count, replay.checkpoints)}, names={own: state.get("chain_name")})
    return not problem and not differences, lines


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print("用法：python offline_verifier.py bundle.zip [--checkpoints 检查点文件]")
        return 2
    extra = []
    if "--checkpoints" in args:
        at = args.index("--checkpoints")
        with open(args[at + 1], encoding="utf-8") as kept:
            extra = [json.loads(line) for line in kept if line.strip()]
        del args[at:at + 2]
    ok, lines = verify_bundle(args[0], extra)
    print("\n".join(lines))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
