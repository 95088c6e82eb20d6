"""Importing assessment tables: validation, formats, re-import, --force, dynamic targets, milestones."""
from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from openpyxl import Workbook
from sqlmodel import func, select

from engine.audit import chain
from engine.plans import importer, table as planfile, service
from engine.store.errors import Duplicate, Forbidden, InvalidPayload
from engine.store.models import Plan, Target, TransitionRecord
from engine.plans.exporter import write_xlsx
from tests import factories as f
from tests.cli_runner import kaoping
from tests.engine.lifecycle import step

HEADER = ["编号", "类别", "一级指标", "依据", "年度目标", "权重分值", "完成时限", "分管领导", "责任科室", "科室责任人"]
GOOD = [
    ["1-1", "重点工作目标（60分）", "学位扩容（60分）", "市政府工作报告", "新增学位2.5万个", "60", "12月底前", "林长华", "规划科", "洪玮玮"],
    ["2-1", "行政能力目标（40分）", "从严治党", "", "开展党建示范创建", "30", "10月底前", "庄映峰\n李自坚", "组织科、办公室", "王毅樟 黄洺鋆"],
    ["2-2", "", "", "", "推进依法履职", "10", "长期", "各分管领导", "各科室", "各科长"],
]


def _csv(rows, header=HEADER, encoding="utf-8") -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode(encoding)


def _draft(data: bytes, name="plan-2024.csv", **kw):
    return importer.parse(planfile.read(data, name), name, org="泉州市教育局", **kw)


def test_a_good_table_with_carried_cells_and_name_lists():
    draft = _draft(_csv(GOOD))
    assert draft.errors == []
    a, b, c = draft.targets
    assert (b.category, b.indicator, c.category, c.indicator) == ("行政能力目标", "从严治党", "行政能力目标", "从严治党")
    assert (a.indicator_points, b.indicator_points) == (60, None)
    assert b.leaders == ["庄映峰", "李自坚"] and b.sections == ["组织科", "办公室"] and b.persons == ["王毅樟", "黄洺鋆"]
    assert c.leaders == ["林长华", "庄映峰", "李自坚"] and c.sections == ["规划科", "组织科", "办公室"]
    assert c.due_date is None and a.due_date == date(2024, 12, 31)
    assert draft.categories == {"重点工作目标": 60, "行政能力目标": 40}


@pytest.mark.parametrize(("change", "row", "column", "words"), [
    (lambda rows: rows[0].__setitem__(6, "年中前后"), 2, "完成时限", "年中前后"),
    (lambda rows: rows[1].__setitem__(5, "三十"), 3, "权重分值", "三十"),
    (lambda rows: rows[0].__setitem__(4, ""), 2, "年度目标", "年度目标为空"),
    (lambda rows: rows[2].__setitem__(0, "2-1"), 4, "编号", "与第 3 行重复"),
    (lambda rows: rows[1].__setitem__(1, "行政能力目标（50分）"), 3, "权重分值", "与其分值 50 不符"),
    (lambda rows: rows[0].__setitem__(2, "学位扩容（55分）"), 2, "权重分值", "与其分值 55 不符"),
    (lambda rows: (rows[2].__setitem__(5, "9"), rows[1].__setitem__(1, "行政能力目标（39分）")), 0, "权重分值", "计划权重合计为 99"),
])
def test_every_bad_row_is_reported_and_nothing_is_written(session, change, row, column, words):
    rows = [list(r) for r in GOOD]
    change(rows)
    draft = _draft(_csv(rows))
    assert any(e.row == row and e.column == column and words in e.reason for e in draft.errors), draft.errors
    with pytest.raises(importer.ImportRefused):
        service.apply(session=session, draft=draft, actor=f.ADMIN)
    assert session.exec(select(func.count()).select_from(Plan)).one() == 0


def test_all_errors_at_once():
    rows = [list(r) for r in GOOD]
    rows[0][6], rows[1][5], rows[2][4] = "某月", "x", ""
    reasons = [(e.row, e.column) for e in _draft(_csv(rows)).errors]
    assert (2, "完成时限") in reasons and (3, "权重分值") in reasons and (4, "年度目标") in reasons


def test_encodings_gb18030_and_bom():
    for data in (_csv(GOOD, encoding="gb18030"), b"\xef\xbb\xbf" + _csv(GOOD)):
        draft = _draft(data)
        assert draft.errors == [] and draft.targets[1].sections == ["组织科", "办公室"]


def test_columns_in_any_order_english_aliases_and_a_title_row():
    order = [9, 0, 4, 5, 6, 1, 2, 3, 7, 8]
    english = ["persons", "code", "target", "weight", "deadline", "category", "indicator", "basis", "leaders", "sections"]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["泉州市教育局2024年度绩效目标考评表"])
    writer.writerow(english)
    writer.writerows([[r[i] for i in order] for r in GOOD])
    draft = importer.parse(planfile.read(buffer.getvalue().encode(), "x.csv"), "x.csv")
    assert draft.errors == [] and (draft.org, draft.year) == ("泉州市教育局", 2024)
    assert [d.code for d in draft.targets] == ["1-1", "2-1", "2-2"]


def test_xlsx_with_merged_cells():
    book = Workbook()
    sheet = book.active
    sheet.append(["泉州市教育局2024年度绩效目标考评表"])
    sheet.append(HEADER)
    for r in GOOD:
        sheet.append([r[0], r[1] or None, r[2] or None, r[3] or None, r[4], float(r[5]), *r[6:]])
    sheet.merge_cells("B4:B5")  # 行政能力目标 over two rows, as the real table does
    sheet.merge_cells("C4:C5")
    buffer = io.BytesIO()
    book.save(buffer)
    draft = importer.parse(planfile.read(buffer.getvalue(), "t.xlsx"), "t.xlsx")
    assert draft.errors == []
    assert [(d.category, d.indicator, d.weight) for d in draft.targets][1:] == [
        ("行政能力目标", "从严治党", 30), ("行政能力目标", "从严治党", 10)]


def test_unreadable_files():
    with pytest.raises(planfile.PlanFileError, match="不支持的文件类型"):
        planfile.read(b"", "plan.pdf")
    with pytest.raises(planfile.PlanFileError, match="找不到表头"):
        planfile.read("甲,乙\n1,2\n".encode(), "plan.csv")
    with pytest.raises(planfile.PlanFileError, match="缺少列：权重分值"):
        planfile.read("编号,年度目标,完成时限\n1,做事,12月底前\n".encode(), "plan.csv")
    with pytest.raises(planfile.PlanFileError, match="xlsx"):
        planfile.read(b"not a zip", "plan.xlsx")


def test_yaml_plan_with_milestones_and_indicators():
    text = """
plan: {org: 泉州市教育局, year: 2024, title: 2024年度绩效目标考评表}
milestones: {self_assessment_signed: 12月28日前}
targets:
  - {编号: "1", 类别: 重点工作目标（100分）, 年度目标: 新增学位, 权重分值: 100, 完成时限: 12月底前,
     分管领导: [林长华], 责任科室: [规划科], 科室责任人: [洪玮玮],
     量化指标: [{name: 新增学位, value: "≥25000个"}, {name: 完成时间, value: 11月底前}]}
"""
    draft = importer.parse(planfile.read(text.encode(), "p.yaml"), "p.yaml")
    assert draft.errors == []
    assert draft.targets[0].indicators == [("新增学位", "≥25000个"), ("完成时间", "11月底前")]
    assert dict((k, d) for k, _, _, d in draft.milestones)["self_assessment_signed"] == date(2024, 12, 28)
    bad = text.replace("≥25000个", "很多")
    assert [e.column for e in importer.parse(planfile.read(bad.encode(), "p.yaml"), "p.yaml").errors] == ["量化指标"]


def test_reimport_updates_by_code_refuses_started_targets_unless_forced(session):
    service.apply(session=session, draft=_draft(_csv(GOOD)), actor=f.ADMIN)
    first = session.exec(select(Target).where(Target.code == "1-1")).one()
    staff = f.Actor("洪玮玮", frozenset({"staff"}), frozenset({"规划科"}))
    step(session, first.id, "start", staff)
    changed = [list(r) for r in GOOD]
    changed[0][4] = "新增学位3万个"     # 1-1 has started
    changed[1][6] = "11月底前"          # 2-1 is still assigned
    with pytest.raises(importer.ImportRefused) as refused:
        service.apply(session=session, draft=_draft(_csv(changed)), actor=f.ADMIN)
    assert [(e.row, "--force" in e.reason) for e in refused.value.errors] == [(2, True)]
    session.expire_all()
    assert session.exec(select(Target.deadline_phrase).where(Target.code == "2-1")).one() == "10月底前"  # nothing written
    result = service.apply(session=session, draft=_draft(_csv(changed)), actor=f.ADMIN, force=True)
    assert (result.created, result.updated, result.unchanged) == (0, 2, 1)
    amendments = session.exec(select(TransitionRecord).where(TransitionRecord.kind == "amendment")
                              .order_by(TransitionRecord.id)).all()
    assert [(a.payload["forced"], sorted(a.payload["changes"])) for a in amendments] == [
        (True, ["text"]), (True, ["deadline_phrase", "due_date"])]
    assert amendments[0].payload["changes"]["text"] == ["新增学位2.5万个", "新增学位3万个"]
    assert "强制" in amendments[0].comment
    assert session.exec(select(Target.state_due).where(Target.code == "2-1")).one() == date(2024, 11, 30)
    assert chain.verify(session).ok


def test_dynamic_target(session):
    service.apply(session=session, draft=_draft(_csv(GOOD)), actor=f.ADMIN)
    plan_id = session.exec(select(Plan.id)).one()
    fields = dict(session=session, plan_id=plan_id, text="做好防汛防台应急处置工作", weight=2, reason="市委新部署",
                  deadline_phrase="9月底前", sections=["校安科"], leaders=["林长华"], persons=["胡志强"])
    added = service.add_dynamic(actor=f.OFFICE, code="3-1", **fields)
    assert added.warnings == ["加入后计划权重合计为 102，超过 100"]
    target = added.target
    assert (target.state, target.due_date, target.category) == ("assigned", date(2024, 9, 30), "动态工作目标")
    record = session.exec(select(TransitionRecord).where(TransitionRecord.target_id == target.id)).one()
    assert (record.kind, record.trigger, record.comment, record.to_state) == ("creation", "create", "市委新部署", "assigned")
    with pytest.raises(Duplicate):
        service.add_dynamic(actor=f.OFFICE, code="3-1", **fields)
    near = service.add_dynamic(actor=f.OFFICE, code="3-2", **fields | {"text": "做好防汛防台应急处置工作。"})
    assert any("3-1" in w and "相似" in w for w in near.warnings)
    with pytest.raises(Forbidden):
        service.add_dynamic(actor=f.STAFF, code="3-3", **fields)
    with pytest.raises(InvalidPayload):
        service.add_dynamic(actor=f.OFFICE, code="3-4", **fields | {"reason": " "})
    staff = f.Actor("胡志强", frozenset({"staff"}), frozenset({"校安科"}))
    assert step(session, target.id, "start", staff).target.state == "in_progress"  # it joins the workflow
    assert chain.verify(session).ok


def test_milestone_edit_moves_the_due_dates_it_drives(session):
    t = f.target(session)
    for trigger in ("start", "self_assess"):
        step(session, t.id, trigger, f.STAFF)
    session.refresh(t)
    assert t.state_due == date(2024, 12, 30)
    service.set_milestone(session=session, plan_id=t.plan_id, key="self_assessment_signed", phrase="12月27日前", actor=f.OFFICE)
    session.refresh(t)
    assert t.state_due == date(2024, 12, 27)
    with pytest.raises(InvalidPayload):
        service.set_milestone(session=session, plan_id=t.plan_id, key="evaluation", phrase="长期", actor=f.OFFICE)
    assert chain.verify(session).ok


def test_indicators_met_and_not_met(session):
    text = """
plan: {org: 泉州市教育局, year: 2024}
targets:
  - {编号: "1", 类别: 重点工作目标（100分）, 年度目标: 新增学位, 权重分值: 100, 完成时限: 12月底前,
     分管领导: 林长华, 责任科室: 规划科, 科室责任人: 洪玮玮,
     量化指标: "新增学位：≥25000个\\n安全事故：≤5次"}
"""
    draft = importer.parse(planfile.read(text.encode(), "p.yaml"), "p.yaml")
    service.apply(session=session, draft=draft, actor=f.ADMIN)
    t = session.exec(select(Target)).one()
    step(session, t.id, "start", f.STAFF)
    step(session, t.id, "report_progress", f.STAFF,
         payload={"note": "过半", "percent": 60, "indicators": {"新增学位": "26000个", "安全事故": 7}})
    status = {i["name"]: i["met"] for i in service.indicator_status(session, t)}
    assert status == {"新增学位": True, "安全事故": False}
    from engine.store.errors import GuardFailed
    with pytest.raises(GuardFailed, match="没有指标"):
        step(session, t.id, "report_progress", f.STAFF, payload={"note": "x", "percent": 70, "indicators": {"学位": 1}})


def test_export_reimports_as_the_same_plan(session):
    service.apply(session=session, draft=_draft(_csv(GOOD)), actor=f.ADMIN)
    data = write_xlsx(session, session.exec(select(Plan.id)).one())
    again = importer.parse(planfile.read(data, "export.xlsx"), "export.xlsx")
    original = _draft(_csv(GOOD))
    assert again.errors == [] and (again.org, again.year) == ("泉州市教育局", 2024)
    assert [vars(d) | {"row": 0} for d in again.targets] == [vars(d) | {"row": 0} for d in original.targets]


def test_cli_import_plan(tmp_path):
    plan = tmp_path / "plan-2024.csv"
    plan.write_bytes(_csv(GOOD))
    env = {"KAOPING_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    run = lambda *args: kaoping(*args, env=env)  # noqa: E731
    assert run("init").returncode == 0
    dry = run("import-plan", str(plan), "--org", "泉州市教育局", "--dry-run")
    assert dry.returncode == 0 and "校验通过（未写入）" in dry.stdout and "合计" in dry.stdout
    done = run("import-plan", str(plan), "--org", "泉州市教育局")
    assert done.returncode == 0 and "新增 3" in done.stdout
    bad = tmp_path / "bad-2024.csv"
    bad.write_bytes(_csv([GOOD[0][:6] + ["某个时候"] + GOOD[0][7:]] + GOOD[1:]))
    refused = run("import-plan", str(bad), "--org", "泉州市教育局")
    assert refused.returncode == 1 and "第 2 行［完成时限］" in refused.stdout and "某个时候" in refused.stdout


def test_a_large_import_is_written_in_bulk_with_a_chained_record_per_target(session):
    """Many targets at once: every one with its parties, indicators and creation record, the records in
    one unbroken chain after what was there, the head at the last of them; replay matches the tables."""
    from engine.audit import replay
    from engine.store.models import Assignment, ChainHead, Indicator

    service.apply(session=session, draft=_draft(_csv(GOOD)), actor=f.ADMIN)
    rows = [[f"3-{n}", "动态目标（0分）" if n == 1 else "", "", "", f"第{n}项目标", "0", "11月底前",
             "林长华", "规划科\n组织科" if n % 2 else "规划科", "洪玮玮", f"新增学位：≥{n}个"] for n in range(1, 121)]
    good = [row + [""] for row in GOOD]
    result = service.apply(session=session, draft=_draft(_csv(good + rows, header=HEADER + ["量化指标"])), actor=f.ADMIN)
    assert (result.created, result.unchanged) == (120, 3)
    session.expire_all()
    made = session.exec(select(Target).where(Target.code.like("3-%")).order_by(Target.id)).all()
    assert [t.code for t in made] == [f"3-{n}" for n in range(1, 121)]
    assert {(t.state, t.state_due, t.workflow_version, t.version) for t in made} == {("assigned", date(2024, 11, 30), 1, 1)}
    records = session.exec(select(TransitionRecord).where(TransitionRecord.target_id.in_([t.id for t in made]))
                           .order_by(TransitionRecord.seq)).all()
    assert [r.target_id for r in records] == [t.id for t in made]
    assert {(r.kind, r.trigger, r.comment) for r in records} == {("creation", "create", "导入计划")}
    assert records[0].payload["after"] == {"state": "assigned", "version": 1, "self_score": None, "score": None,
                                           "supervised": False, "escalation_level": 0, "plan_id": made[0].plan_id,
                                           "code": "3-1", "signed": []}
    every = session.exec(select(TransitionRecord).where(TransitionRecord.org_id == made[0].org_id)
                         .order_by(TransitionRecord.seq)).all()
    assert [r.seq for r in every] == list(range(1, len(every) + 1)) and every[-1].id == records[-1].id
    assert all(b.prev_hash == a.hash for a, b in zip(every, every[1:]))
    head = session.get(ChainHead, made[0].org_id)
    assert (head.count, head.last_id, head.last_hash) == (len(every), every[-1].id, every[-1].hash)
    sections = session.exec(select(Assignment.name).where(Assignment.target_id == made[0].id, Assignment.kind == "section")
                            .order_by(Assignment.position)).all()
    assert sections == ["规划科", "组织科"]
    assert session.exec(select(func.count()).select_from(Assignment)
                        .where(Assignment.target_id.in_([t.id for t in made]))).one() == 120 * 3 + 60
    assert session.exec(select(Indicator.name, Indicator.raw, Indicator.position)
                        .where(Indicator.target_id == made[4].id)).all() == [("新增学位", "≥5个", 0)]
    assert chain.verify(session).ok
    assert replay.verify(session=session).ok
    staff = f.Actor("洪玮玮", frozenset({"staff"}), frozenset({"规划科"}))
    step(session, made[0].id, "start", staff)  # the door goes on from the head the import left
    assert chain.verify(session).ok and replay.verify(session=session).ok
