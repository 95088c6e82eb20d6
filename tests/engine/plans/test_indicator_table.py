"""The three-level indicator table of seed 002: functions as targets, indicators with all levels, weights by rule."""
from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from sqlmodel import select

from engine.plans import importer, indicator_table, service, table as planfile
from engine.store.models import Indicator, Plan, Target
from tests import factories as f
from tests.engine.plans import docmaker

FIXTURE = yaml.safe_load((Path(__file__).parent / "fixtures" / "budget-targets-2024.yaml").read_text(encoding="utf-8"))


def _budget_docx() -> bytes:
    """The table as the county issues it: merged function and level cells, 三级指标 over two columns."""
    rows = [["部门(单位)名称", FIXTURE["unit"], "主管部门", FIXTURE["supervisor"], "", ""],
            ["核心职能", "年度绩效指标", "", "", "", ""],
            ["", "一级指标", "二级指标", "三级指标", "", "指标值"]]
    merge = [(0, 1, 2)]
    for function in FIXTURE["functions"]:
        start, number, last = len(rows), 0, (None, None)
        for position, item in enumerate(function["indicators"]):
            level1, level2, name, value = item[:4]
            number = number + 1 if last == (level1, level2) else 1
            follows = position and function["indicators"][position - 1]
            rows.append(["" if position else function["name"],
                         "" if follows and follows[0] == level1 else level1,
                         "" if follows and follows[:2] == [level1, level2] else level2,
                         f"指标{number}:", name, "" if follows and len(follows) > 4 else value])
            if len(item) > 4:  # one 指标值 cell over this row and the next
                merge.append((5, len(rows) - 1, len(rows)))
            last = (level1, level2)
        body = rows[start:]
        merge += [(c, a + start, b + start) for c, a, b in docmaker.merge_runs(body, (0, 1, 2))]
    return docmaker.docx_bytes(before=[FIXTURE["title"], FIXTURE["period"]],
                               tables=[{"rows": rows, "merge": merge, "hmerge": [(1, 1, 5), (2, 3, 4)]}])


def _read(weights="equal", leader="王局长", data=None):
    table = planfile.read(data or _budget_docx(), "绩效目标批复表.docx")
    return indicator_table.complete(table, weights=weights, leader=leader)


def test_seed_002_imports_every_function_and_every_indicator_with_its_value(session):
    draft = importer.parse(_read(), "绩效目标批复表.docx")
    assert draft.errors == []
    assert (draft.org, draft.year, draft.title) == ("潢源县教育局", 2024, "潢源县教育局2024年部门整体支出绩效目标批复表")
    expected = {f"职能{n}": fn for n, fn in enumerate(FIXTURE["functions"], start=1)}
    assert [t.code for t in draft.targets] == list(expected)
    assert [t.text for t in draft.targets] == [fn["name"].split(": ", 1)[1] for fn in FIXTURE["functions"]]
    for target in draft.targets:
        wanted = [("/".join(i[:3]), i[3]) for i in expected[target.code]["indicators"]]
        assert target.indicators == wanted, target.code
        assert target.indicator == "产出指标、效益指标、满意度指标" and target.sections == ["潢源县教育局"]
    assert sum(t.weight for t in draft.targets) == 100
    assert [t.weight for t in draft.targets] == [Decimal("16.67")] * 4 + [Decimal("16.66")] * 2
    service.apply(session=session, draft=draft, actor=f.ADMIN)
    plan = session.exec(select(Plan)).one()
    first = session.exec(select(Target).where(Target.plan_id == plan.id, Target.code == "职能1")).one()
    written = session.exec(select(Indicator).where(Indicator.target_id == first.id).order_by(Indicator.position)).all()
    assert (written[0].name, written[0].raw) == ("产出指标/数量指标/创新创业课程开设数量", "≥560个")
    assert len(written) == 11
    assert sum(len(fn["indicators"]) for fn in FIXTURE["functions"]) == len(session.exec(select(Indicator)).all()) == 47
    status = service.indicator_status(session, first)
    assert status[6]["name"] == "产出指标/时效指标/年度检查任务按时完成" and status[6]["label"] == "达到100%"


def test_points_per_first_level_indicator_are_shared_by_the_functions_that_have_it():
    table = _read(weights="产出=50,效益=30,满意度=20")
    weights = [Decimal(row.cells["weight"]) for row in table.rows]
    assert weights[0] == Decimal("8.34") + Decimal("5") + Decimal("3.34") and sum(weights) == 100


@pytest.mark.parametrize(("weights", "leader", "words"), [
    (None, "王局长", "三级指标表没有权重：导入时请给出权重规则，如 --weights equal"),
    ("产出=50,效益=30,满意度=10", "王局长", "各一级指标分值合计为 90，应为 100"),
    ("产出=50,效益=50", "王局长", "没有给出一级指标“满意度指标”的分值"),
    ("产出=50,成本=30,满意度=20", "王局长", "“成本”不是表中的一级指标"),
    ("equal", None, "请用 --leader 指定"),
])
def test_weights_are_never_invented(weights, leader, words):
    with pytest.raises(planfile.PlanFileError) as caught:
        _read(weights=weights, leader=leader)
    assert words in str(caught.value)


def test_weights_for_an_assessment_table_are_refused():
    data = docmaker.docx_bytes(before=["示范局2024年度绩效目标考评表"], tables=[{"rows": [
        ["编号", "年度目标", "权重分值", "完成时限", "分管领导", "责任科室"], ["1", "推进", "100", "12月底前", "甲", "乙科"]]}])
    with pytest.raises(planfile.PlanFileError, match="只用于三级指标表"):
        indicator_table.complete(planfile.read(data, "plan.docx"), weights="equal")


def test_the_same_table_in_a_spreadsheet():
    from openpyxl import Workbook
    import io

    book = Workbook()
    sheet = book.active
    sheet.append(["2024年部门整体支出绩效目标批复表"])
    sheet.append(["部门(单位)名称", "潢源县教育局"])
    sheet.append(["核心职能", "一级指标", "二级指标", "三级指标", "指标值"])
    sheet.append(["职能1: 教育督导", "产出指标", "数量指标", "指标1: 检查频次", "≥100次"])
    sheet.append(["", "", "质量指标", "指标1: 课题抽检覆盖率", "100%"])
    sheet.append(["职能2: 统计", "满意度指标", "服务对象满意度指标", "学校满意度", "≥95%"])
    buffer = io.BytesIO()
    book.save(buffer)
    table = indicator_table.complete(planfile.read(buffer.getvalue(), "t.xlsx"), weights="equal", leader="王局长")
    draft = importer.parse(table, "t.xlsx")
    assert draft.errors == []
    assert [t.indicators for t in draft.targets] == [
        [("产出指标/数量指标/检查频次", "≥100次"), ("产出指标/质量指标/课题抽检覆盖率", "100%")],
        [("满意度指标/服务对象满意度指标/学校满意度", "≥95%")]]
