"""A chain per organisation: where records go, what `audit verify --org` reads, checkpoints that tie
the chains together, and the bundle of one organisation's chain."""
from __future__ import annotations

import json
import zipfile
from datetime import date, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, select

from engine.audit import bundle, chain, checkpoints, offline_verifier, replay
from engine.plans import staffing
from engine.schedule import holidays
from engine.store.db import make_engine
from engine.store.models import ChainHead, Organisation, Plan, TransitionRecord
from engine.workflow import targets
from tests import factories as f
from tests.engine.audit import trail
from tests.engine.lifecycle import drive, step


def _plan_of(session, organisation) -> Plan:
    plan = Plan(org_id=organisation.id, org=organisation.name, year=2024, title="2024年度绩效目标考评表")
    session.add(plan)
    session.flush()
    return plan


def _target(session, plan: Plan) -> int:
    t = targets.create(session=session, plan_id=plan.id, code=f"{plan.org_id}-1", text="按年度计划组织实施学位扩容工程",
                       weight=2, sections=["规划科"], leaders=["林长华"], persons=["洪玮玮"], deadline_phrase="12月底前")
    session.commit()
    return t.id


@pytest.fixture
def orgs(session, frozen, monkeypatch, tmp_path):
    """泉州 (a target scored), 晋江 below it (a target in progress), 厦门 beside them (a target signed),
    a user added in 厦门 and a holiday (the deployment's)."""
    trail.use_files(monkeypatch, tmp_path)
    quanzhou = f.target(session)
    jinjiang = staffing.add_organisation(session=session, by=f.ADMIN, name="晋江市教育局", parent="泉州市教育局")
    xiamen = staffing.add_organisation(session=session, by=f.ADMIN, name="厦门市教育局")
    in_jinjiang = _target(session, _plan_of(session, jinjiang))
    in_xiamen = _target(session, _plan_of(session, xiamen))
    drive(session, quanzhou.id, "scored", staff=f.STAFF, leaders=[f.LEADER], office=f.OFFICE)
    step(session, in_jinjiang, "start", f.STAFF)
    drive(session, in_xiamen, "leader_signed", staff=f.STAFF, leaders=[f.LEADER], office=f.OFFICE)
    staffing.register(session=session, by=f.ADMIN, name="厦门办", roles=["office"], org="厦门市教育局")
    holidays.set_day(session=session, day=date(2024, 6, 10), kind="holiday", name="端午节", actor=f.ADMIN)
    session.commit()
    return {"泉州": quanzhou.org_id, "晋江": jinjiang.id, "厦门": xiamen.id,
            "targets": {"泉州": quanzhou.id, "晋江": in_jinjiang, "厦门": in_xiamen}}


def _chain(session, org_id: int) -> list[TransitionRecord]:
    return list(session.exec(select(TransitionRecord).where(TransitionRecord.org_id == org_id)
                             .order_by(TransitionRecord.seq)))


def test_each_organisation_numbers_its_own_chain(session, orgs):
    for name in ("泉州", "晋江", "厦门"):
        records = _chain(session, orgs[name])
        assert [r.seq for r in records] == list(range(1, len(records) + 1))
        assert {r.target_id for r in records if r.target_id} == {orgs["targets"][name]}
        head = session.get(ChainHead, orgs[name])
        assert (head.count, head.last_id, head.last_hash) == (len(records), records[-1].id, records[-1].hash)
    ids = session.exec(select(TransitionRecord.id)).all()
    assert len(ids) == len(set(ids))  # keys unique across the chains
    # The plan's milestones go with the plan, a new organisation's record into its own chain.
    assert any(r.kind == "plan" for r in _chain(session, orgs["泉州"]))
    assert any(r.trigger == "add_organisation" for r in _chain(session, orgs["厦门"]))
    assert any(r.kind == "user" and r.payload["user"] == "厦门办" for r in _chain(session, orgs["厦门"]))
    assert [r.kind for r in _chain(session, chain.DEPLOYMENT)] == ["calendar"]  # what belongs to no organisation
    check = chain.verify(session)
    assert check.ok and check.count == len(session.exec(select(TransitionRecord.id)).all()), check


def test_verify_of_one_organisation_reads_its_chain_and_its_descendants_only(session, orgs):
    # Break 厦门's chain: the whole deployment fails, 泉州 (with 晋江 below it) still verifies.
    xiamen = _chain(session, orgs["厦门"])
    trail.sql(session, "UPDATE transitionrecord SET comment = '改过' WHERE id = :i", i=xiamen[1].id)
    everything = replay.verify(session=session)
    assert not everything.ok and everything.first_bad_id == xiamen[1].id, everything.lines
    quanzhou = replay.verify(session=session, org_id=orgs["泉州"])
    assert quanzhou.ok, quanzhou.lines
    assert quanzhou.count == len(_chain(session, orgs["泉州"])) + len(_chain(session, orgs["晋江"]))
    assert not replay.verify(session=session, org_id=orgs["厦门"]).ok
    # 晋江's own state is checked under 泉州: a target set directly is found there.
    trail.sql(session, "UPDATE target SET state = 'scored' WHERE id = :t", t=orgs["targets"]["晋江"])
    found = replay.verify(session=session, org_id=orgs["泉州"])
    assert not found.ok and any("状态" in d for d in found.differences), found.lines
    assert replay.verify(session=session, org_id=orgs["晋江"]).differences == found.differences


def test_a_head_removed_or_lowered_is_found(session, orgs):
    jinjiang = orgs["晋江"]
    trail.sql(session, "UPDATE chainhead SET count = count - 1 WHERE id = :o", o=jinjiang)
    assert not chain.verify(session, org_ids=[jinjiang]).ok
    trail.sql(session, "DELETE FROM chainhead WHERE id = :o", o=jinjiang)
    check = chain.verify(session)
    assert not check.ok and "链头记载 0 条" in check.reason
    assert not replay.verify(session=session, org_id=jinjiang).ok


def test_every_chain_is_checkpointed_and_the_checkpoints_form_a_chain(session, orgs, frozen):
    frozen.move(timedelta(hours=1))
    taken = checkpoints.take_all(session=session, reason="测试")
    assert [c["org"] for c in taken][:3] == sorted([orgs["泉州"], orgs["晋江"], orgs["厦门"]])
    for found in taken:
        assert found["length"] == len(_chain(session, found["org"]))
    assert [c["prev"] for c in taken[1:]] == [offline_verifier.link_of(c) for c in taken[:-1]]
    assert checkpoints.read_file(checkpoints.settings().checkpoint_file) == taken
    check = replay.verify(session=session, public_pem=checkpoints.public_pem())
    assert check.ok, check.lines
    # One organisation's checkpoint cut out of the deployment's: the next one names it.
    trail.sql(session, "DELETE FROM auditcheckpoint WHERE id = (SELECT min(id) FROM auditcheckpoint)")
    check = replay.verify(session=session, public_pem=checkpoints.public_pem())
    assert not check.ok and "前一个检查点不符" in check.problem
    # A chain rewritten after its checkpoint is found by that chain's checkpoint (kept by the auditor).
    kept = checkpoints.read_file(checkpoints.settings().checkpoint_file)
    xiamen = _chain(session, orgs["厦门"])
    trail.sql(session, "DELETE FROM transitionrecord WHERE id = :i", i=xiamen[-1].id)
    trail.sql(session, "UPDATE chainhead SET count = :n, last_id = :l, last_hash = :h WHERE id = :o",
              n=len(xiamen) - 1, l=xiamen[-2].id, h=xiamen[-2].hash, o=orgs["厦门"])
    check = replay.verify(session=session, checkpoints=kept, public_pem=checkpoints.public_pem(), org_id=orgs["厦门"])
    assert not check.ok and "末尾记录被删除" in check.problem, check.lines


def test_the_bundle_carries_its_organisations_chain_only(session, orgs, frozen, tmp_path):
    frozen.move(timedelta(hours=1))
    checkpoints.take_all(session=session, reason="测试")
    plan = session.exec(select(Plan).where(Plan.org_id == orgs["晋江"])).one()
    done = bundle.export(session=session, plan_id=plan.id, path=tmp_path / "b.zip", org_id=orgs["泉州"])
    with zipfile.ZipFile(done.path) as zipped:
        records = [json.loads(line) for line in zipped.read("records.jsonl").decode().splitlines()]
        kept = [json.loads(line) for line in zipped.read("checkpoints.jsonl").decode().splitlines()]
    assert {r["org_id"] for r in records} == {orgs["晋江"]} and len(records) == len(_chain(session, orgs["晋江"]))
    assert [c["chain"] for c in kept] == [orgs["晋江"]]
    ok, lines = offline_verifier.verify_bundle(str(done.path))
    assert ok, lines
    with pytest.raises(Exception, match="没有计划"):
        bundle.export(session=session, plan_id=plan.id, path=tmp_path / "c.zip", org_id=orgs["厦门"])


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)  # row locks: PostgreSQL only, never skipped
def test_writers_of_different_organisations_do_not_wait_for_each_other(orgs, db_url):
    """On PostgreSQL: while a transaction holds 泉州's head, a transition in 厦门 commits (and one in
    泉州 would wait: it gives up at the lock timeout)."""
    assert db_url.startswith("postgresql")
    impatient = make_engine(db_url, connect_args={"options": "-c lock_timeout=5000"})
    try:
        with impatient.connect() as holder:
            holder.begin()
            holder.execute(text("SELECT * FROM chainhead WHERE id = :o FOR UPDATE"), {"o": orgs["泉州"]})
            with Session(impatient) as other:
                step(other, orgs["targets"]["厦门"], "verify", f.OFFICE)
                with pytest.raises(OperationalError, match="lock timeout"):
                    step(other, orgs["targets"]["泉州"], "reopen", f.OFFICE)
            holder.rollback()
        with Session(impatient) as s:
            assert s.get(ChainHead, orgs["厦门"]).count == len(_chain(s, orgs["厦门"]))
    finally:
        impatient.dispose()


@pytest.mark.parametrize("odd", [2 ** 70, "\u2028行分隔符", {"B": 1, "a": [1.5, None, True]}])
def test_the_fast_hash_agrees_with_the_canonical_one_or_defers_to_it(odd):
    """orjson writes the canonical bytes, and where it cannot (an integer beyond 64 bits) the
    canonical writer decides: an honest record always verifies, a changed one never."""
    row = (1, 1, None, "system", "管理员", "admin", "note", None, None, "2024-06-03T01:00:00.123456+00:00", "",
           {"value": odd}, chain.GENESIS, "")
    honest = row[:13] + (offline_verifier.row_digest(row),)
    assert chain.row_digest(honest) == honest[13]
    changed = honest[:11] + ({"value": "改过"},) + honest[12:]
    assert chain.row_digest(changed) != honest[13]


def test_the_report_gives_each_chain_its_latest_checkpoint_and_the_records_after_it(session, orgs, frozen, tmp_path):
    frozen.move(timedelta(hours=1))
    checkpoints.take_all(session=session, reason="测试")
    frozen.move(timedelta(hours=1))
    for percent in (20, 40, 60):  # three records in 晋江's chain after its checkpoint; none elsewhere
        step(session, orgs["targets"]["晋江"], "report_progress", f.STAFF, payload={"note": "推进中", "percent": percent})
    check = replay.verify(session=session, public_pem=checkpoints.public_pem())
    assert check.ok, check.lines
    assert check.lines[1] == "签名检查点 4 个，4 条链："
    lines = {line.strip().split("：")[0]: line for line in check.lines[2:]}
    for name in ("泉州", "晋江", "厦门"):
        org = session.get(Organisation, orgs[name])
        length = len(_chain(session, org.id))
        unsigned = 3 if name == "晋江" else 0
        line = lines[f"{org.name}（单位 {org.id}）的链"]
        assert f"最近的检查点 {length - unsigned} 条" in line and f"其后 {unsigned} 条记录尚未签名" in line, check.lines
    assert check.lines[-1].strip().startswith("部署链：最近的检查点 1 条") and "其后 0 条" in check.lines[-1]
    # The bundle of 晋江's plan says the same of its chain.
    plan = session.exec(select(Plan).where(Plan.org_id == orgs["晋江"])).one()
    done = bundle.export(session=session, plan_id=plan.id, path=tmp_path / "b.zip")
    ok, found = offline_verifier.verify_bundle(str(done.path))
    assert ok and found[1].startswith("签名检查点 1 个；晋江市教育局（单位") and "其后 3 条记录尚未签名" in found[1], found


def _moved(session, record_id: int, org_id: int) -> None:
    """Move a record into ``org_id``'s chain, after its last place: its hash does not cover ``org_id``."""
    last = session.execute(text("SELECT max(seq) FROM transitionrecord WHERE org_id = :o"), {"o": org_id}).scalar()
    trail.sql(session, "UPDATE transitionrecord SET org_id = :o, seq = :s WHERE id = :i", o=org_id, s=last + 1,
              i=record_id)


def test_a_record_moved_to_another_organisation_is_found(session, orgs, frozen, tmp_path):
    """The last record of 晋江's chain moved into 厦门's view, 晋江's head and target set back to match:
    厦门's chain does not continue into it, and 晋江's checkpoint misses it."""
    jinjiang, xiamen, target = orgs["晋江"], orgs["厦门"], orgs["targets"]["晋江"]
    step(session, target, "report_progress", f.STAFF, payload={"note": "推进中", "percent": 30})
    frozen.move(timedelta(hours=1))
    checkpoints.take_all(session=session, reason="测试")
    kept = checkpoints.read_file(checkpoints.settings().checkpoint_file)
    frozen.move(timedelta(hours=1))
    moved, before = _chain(session, jinjiang)[-1], _chain(session, jinjiang)[-2]
    _moved(session, moved.id, xiamen)
    trail.sql(session, "UPDATE chainhead SET count = :n, last_id = :l, last_hash = :h WHERE id = :o",
              n=before.seq, l=before.id, h=before.hash, o=jinjiang)
    trail.sql(session, "UPDATE target SET version = version - 1 WHERE id = :t", t=target)
    reads = session.exec(select(TransitionRecord.id).where(TransitionRecord.org_id == xiamen)).all()
    assert moved.id in reads  # what 厦门's readers are shown
    pem = checkpoints.public_pem()
    for check in (chain.verify(session), chain.verify(session, org_ids=[xiamen])):
        assert not check.ok and check.first_bad_id == moved.id and "不接续本链" in check.reason, check
    found = replay.verify(session=session, public_pem=pem, org_id=xiamen)
    assert not found.ok and found.first_bad_id == moved.id and "另一单位" in found.problem, found.lines
    assert not replay.verify(session=session, public_pem=pem).ok
    # 晋江's chain, cut and its head set back, is found by the checkpoint the auditor kept.
    cut = replay.verify(session=session, checkpoints=kept, public_pem=pem, org_id=jinjiang)
    assert not cut.ok and "末尾记录被删除" in cut.problem, cut.lines
    # The bundles: 厦门's carries the record it is shown, and its chain breaks there; 晋江's is found short.
    for org, extra, why in ((xiamen, [], "前一条记录的哈希不符"), (jinjiang, kept, "末尾记录被删除")):
        plan = session.exec(select(Plan).where(Plan.org_id == org)).one()
        done = bundle.export(session=session, plan_id=plan.id, path=tmp_path / f"{org}.zip")
        ok, lines = offline_verifier.verify_bundle(str(done.path), extra)
        assert not ok and why in lines[0], lines


def test_a_record_moved_out_of_the_middle_of_a_chain_is_found(session, orgs, tmp_path):
    jinjiang, xiamen = orgs["晋江"], orgs["厦门"]
    moved = _chain(session, jinjiang)[1]
    _moved(session, moved.id, xiamen)
    check = chain.verify(session)
    assert not check.ok and "记录编号不连续" in check.reason, check
    plan = session.exec(select(Plan).where(Plan.org_id == jinjiang)).one()
    done = bundle.export(session=session, plan_id=plan.id, path=tmp_path / "b.zip")
    ok, lines = offline_verifier.verify_bundle(str(done.path))
    assert not ok and "记录编号不连续" in lines[0], lines


def test_a_record_moved_in_the_bundle_itself_is_found(session, orgs, tmp_path):
    plan = session.exec(select(Plan).where(Plan.org_id == orgs["晋江"])).one()
    done = bundle.export(session=session, plan_id=plan.id, path=tmp_path / "b.zip")
    with zipfile.ZipFile(done.path) as zipped:
        parts = {name: zipped.read(name) for name in zipped.namelist()}
    records = [json.loads(line) for line in parts["records.jsonl"].decode().splitlines()]
    records[1]["org_id"] = orgs["厦门"]
    parts["records.jsonl"] = "".join(offline_verifier.dumps(r) + "\n" for r in records).encode()
    with zipfile.ZipFile(tmp_path / "edited.zip", "w") as zipped:
        for name, data in parts.items():
            zipped.writestr(name, data)
    ok, lines = offline_verifier.verify_bundle(str(tmp_path / "edited.zip"))
    assert not ok and "记录被移到另一单位" in lines[0] and str(records[1]["id"]) in lines[0], lines
