"""The evaluation report at its longest: every target not met, with its deduction reasons and its
quantitative indicators, long texts, a rectification item each; every row in the PDF and the xlsx."""
from __future__ import annotations

import io
import re
import subprocess
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from sqlmodel import select

from engine.calendar import clock
from engine.people.actors import Actor
from engine.scoring import rectification, report
from engine.store.models import Target
from tests.engine.lifecycle import step
from engine.workflow.commands import fire
from tests.engine.scoring.test_sheet import LEADER, OFFICE, _import, needs_pdftotext

COUNT = 30
LONG = ("统筹推进学前教育普及普惠、义务教育优质均衡、普通高中多样化特色发展，完善教师队伍建设长效机制，深化教育评价改革，"
        "健全学校安全风险防控体系，推动数字化赋能教育教学，确保各项民生实事按时保质完成，群众满意度持续提升，"
        "形成可复制可推广的经验做法并按要求报送总结材料")


def _table() -> str:
    """30 targets (weights 3 and 4, adding up to 100), each with a text of some 200 characters and two
    indicators: one of a three-level table (一级/二级/三级), one named plainly."""
    rows = []
    for n in range(1, COUNT + 1):
        first = ", 类别: 重点工作目标（100分）, 一级指标: 教育发展（100分）" if n == 1 else ""
        rows.append(f'  - {{编号: "1-{n}"{first}, 年度目标: "第{n}项：{LONG}", 权重分值: {3 if n <= 20 else 4}, '
                    f'完成时限: 12月底前, 分管领导: 林长华, 责任科室: 规划科, 科室责任人: 洪玮玮, '
                    f'量化指标: "学位保障/新增学位/第{n}项新增学位数：≥{500 + n}个\\n第{n}项满意度：≥95%"}}')
    return ("plan: {org: 泉州市教育局, year: 2024, title: 泉州市教育局2024年度绩效目标考评表}\ntargets:\n"
            + "\n".join(rows) + "\n")


@pytest.fixture
def worst(session) -> int:
    """Every target reported below its indicators, scored below its weight with a reason, given a
    rectification item; the plan's id."""
    plan_id = _import(session, _table())
    staff = Actor("洪玮玮", frozenset({"staff"}), frozenset({"规划科"}))
    for n in range(1, COUNT + 1):
        target = session.exec(select(Target).where(Target.code == f"1-{n}")).one()
        step(session, target.id, "start", staff)
        step(session, target.id, "report_progress", staff, payload={
            "note": "年底", "percent": 100,
            "indicators": {f"学位保障/新增学位/第{n}项新增学位数": f"{300 + n}个", f"第{n}项满意度": "81.5%"}})
        weight = 3 if n <= 20 else 4
        fire(session=session, target_id=target.id, trigger="self_assess", actor=staff,
             payload={"self_score": weight, "summary": "完成"})
        step(session, target.id, "sign", LEADER)
        step(session, target.id, "verify", OFFICE)
        fire(session=session, target_id=target.id, trigger="score", actor=OFFICE,
             payload={"score": weight - 1, "deductions": [{"points": 1, "reason": f"第{n}项进度滞后，佐证材料不完整"}]})
        rectification.open_item(session=session, target_id=target.id, actor=OFFICE,
                                due=clock.today() + timedelta(days=30), requirement=f"第{n}项补齐学位台账")
    return plan_id


def test_every_target_is_listed_as_not_met_with_its_reason_and_indicators(session, worst):
    r = report.build(session=session, plan_id=worst)
    assert [line.target.code for line in r.not_met] == [f"1-{n}" for n in range(1, COUNT + 1)]
    assert [line.unmet for line in r.not_met] == [[f"学位保障/新增学位/第{n}项新增学位数", f"第{n}项满意度"]
                                                  for n in range(1, COUNT + 1)]
    assert [(line.target.code, d["reason"]) for line, d in r.deductions] == [
        (f"1-{n}", f"第{n}项进度滞后，佐证材料不完整") for n in range(1, COUNT + 1)]
    assert r.leveled and [(i["code"], i["levels"], i["raw"], i["actual"], i["met"]) for i in r.indicators] == [
        row for n in range(1, COUNT + 1) for row in (
            (f"1-{n}", ("学位保障", "新增学位", f"第{n}项新增学位数"), f"≥{500 + n}个", f"{300 + n}个", False),
            (f"1-{n}", (f"第{n}项满意度",), "≥95%", "81.5%", False))]
    assert [(x.subject_code, x.state_label, x.closed) for x in r.rectifications] == [
        (f"1-{n}", "整改中", False) for n in range(1, COUNT + 1)]
    assert all(x.item.text.endswith(f"第{n}项补齐学位台账") for n, x in enumerate(r.rectifications, start=1))


@needs_pdftotext
def test_the_pdf_holds_every_not_met_target_with_its_reason_and_indicator_rows(session, worst, tmp_path):
    from api import report_render

    path = tmp_path / "report.pdf"
    path.write_bytes(report_render.pdf(report.build(session=session, plan_id=worst)))
    # In the order the pages were written, white space removed: a cell wrapped over lines reads as one.
    text = re.sub(r"\s+", "", subprocess.run(["pdftotext", "-raw", str(path), "-"], capture_output=True, text=True,
                                             check=True).stdout)
    titles = ["五、扣分与加分明细", "六、未完全达成的目标", "整改情况", "七、逐项评分", "八、量化指标", "审计链："]
    assert [text.count(title) for title in titles] == [1] * len(titles)
    part = {title: text[text.index(title):text.index(after)] for title, after in zip(titles, titles[1:])}
    for n in range(1, COUNT + 1):
        weight = 3 if n <= 20 else 4
        assert f"1-{n}1第{n}项进度滞后，佐证材料不完整" in part["五、扣分与加分明细"]
        # 年度目标 cut at 60 characters, as on the web page; the indicators not met named in full.
        assert (f"1-{n}第{n}项：{LONG}"[:len(f"1-{n}") + 59] + f"…{weight}{weight - 1}"
                f"学位保障/新增学位/第{n}项新增学位数、第{n}项满意度") in part["六、未完全达成的目标"]
        assert f"整改-1-{n}-11-{n}目标1-{n}“第{n}项：" in part["整改情况"]
        assert f"1-{n}第{n}项：" in part["七、逐项评分"]
        assert (f"1-{n}学位保障新增学位第{n}项新增学位数≥{500 + n}个{300 + n}个未达成" in part["八、量化指标"]
                and f"1-{n}第{n}项满意度≥95%81.5%未达成" in part["八、量化指标"])


def test_the_xlsx_holds_every_target_with_its_reason_and_indicators(session, worst):
    sheet = load_workbook(io.BytesIO(report.xlsx(session=session, plan_id=worst))).active
    header = [c.value for c in sheet[2]]
    rows = {row[0]: dict(zip(header, row, strict=True)) for row in sheet.iter_rows(min_row=3, values_only=True)
            if row[0] and row[0].startswith("1-")}
    assert list(rows) == [f"1-{n}" for n in range(1, COUNT + 1)]
    for n in range(1, COUNT + 1):
        row = rows[f"1-{n}"]
        assert row["年度目标"] == f"第{n}项：{LONG}"
        assert row["扣分理由"] == f"1分：第{n}项进度滞后，佐证材料不完整"
        assert row["量化指标"] == f"学位保障/新增学位/第{n}项新增学位数：≥{500 + n}个\n第{n}项满意度：≥95%"
        assert row["得分"] == (2 if n <= 20 else 3) and row["指标计分"] is not None


def test_cjk_text_wraps_into_lines_that_fit_and_lose_nothing():
    from api.report_pages import Writer

    w = Writer(1)
    text = f"第1项：{LONG}\n\nW" + "國" * 3
    for width in (1.0, 15.4, 40.0, 80.0):
        lines = w.wrap(text, width)
        assert "".join(lines) == text.replace("\n", "")
        assert all(w.width_of(line) <= width or len(line) == 1 for line in lines)


def test_an_actual_in_another_unit_counts_as_not_met_and_reads_as_not_reported(session):
    """An actual stored before units were checked (3人 against ≥25000个): no share of the weight, listed
    as not met, and the report's indicator table says 未报告."""
    from engine.scoring import sheet as scoring
    from engine.store.models import Indicator
    from tests.engine.scoring.test_sheet import reported

    plan_id = reported(session, "新增学位：≥25000个\\n满意度：≥90%", {"新增学位": "20000个", "满意度": "95%"})
    row = session.exec(select(Indicator).where(Indicator.name == "新增学位")).one()
    row.actual = "3人"
    session.add(row)
    session.commit()
    line = next(x for x in scoring.sheet(session=session, plan_id=plan_id).lines if x.target.code == "1-1")
    assert (line.indicator_score, line.unmet) == (15, ["新增学位"])  # weight 30: 满意度 met (15), 新增学位 0
    listed = report.build(session=session, plan_id=plan_id).indicators
    assert [(i["code"], i["raw"], i["actual"], i["met"]) for i in listed] == [
        ("1-1", "≥25000个", "3人", None), ("1-1", "≥90%", "95%", True)]
