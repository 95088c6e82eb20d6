"""Assessment tables as bureaus issue them: Word tables (merged and multi-line cells) and old Excel."""
from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import asdict
from decimal import Decimal
from pathlib import Path

import pytest
from sqlmodel import func, select

from engine.plans import importer, service, table as planfile
from engine.store.models import Plan, Target
from tests import factories as f
from tests.engine.plans import docmaker

ROOT = Path(__file__).resolve().parents[3]
SHIPPED = ROOT / "workflows" / "plans" / "quanzhou-edu-2024.csv"
#: The Word annex's column order (seed 000): 类别 and 一级指标 come before 编号.
WORD_ORDER = ["类别", "一级指标", "编号", "依据", "年度目标", "权重分值", "完成时限", "分管领导", "责任科室", "科室责任人"]
VERTICAL = {"重点工作目标（68分）": "重\n点\n工\n作\n目\n标\n︵\n68分\n︶",
            "行政能力目标（20分）": "行\n政\n能\n力\n目\n标\n︵\n20分\n︶"}


def _drafts(draft: importer.PlanDraft) -> list[dict]:
    return [{k: v for k, v in asdict(t).items() if k != "row"} for t in draft.targets]


def _shipped_rows() -> list[list[str]]:
    with SHIPPED.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return [[row[column] for column in WORD_ORDER] for row in rows]


def _annex_docx() -> bytes:
    """Seed 000 as issued: the plan's prose, then the annex table in two parts, merged down, written vertically."""
    rows = _shipped_rows()
    for row in rows:
        row[0] = VERTICAL.get(row[0], row[0])
    split = next(i for i, row in enumerate(rows) if row[2] == "4-1")
    first, second = rows[:split], rows[split:]
    # The second part repeats the header (a new page), ends with the subtotal and the total rows.
    at = next(i for i, row in enumerate(second) if row[2] == "7")
    second.insert(at, ["", "合  计", "", "", "", "20", "", "", "", ""])
    second.append(["绩效目标考评得分", "", "", "", "", "100", "", "", "", ""])
    tables = []
    for part in (first, second):
        body = [WORD_ORDER] + part
        merge = [(c, a + 1, b + 1) for c, a, b in docmaker.merge_runs(body[1:], (0, 1, 3))]
        tables.append({"rows": body, "merge": merge, "paragraph_columns": {7}})
    tables[0]["caption"] = "附件：泉州市教育局2024年度绩效目标考评表"
    return docmaker.docx_bytes(before=["泉州市教育局2024年度绩效工作方案",
                                       "为全面科学规范机关绩效目标管理工作，有序推进落实各项工作任务，制定本工作方案。",
                                       "一、指导思想", "二、考评对象", "泉州市教育局。"], tables=tables)


def test_the_annex_of_seed_000_as_a_word_table_imports_like_the_shipped_table(session):
    table = planfile.read(_annex_docx(), "方案.docx")
    draft = importer.parse(table, "方案.docx")
    assert draft.errors == []
    assert (draft.title, draft.org, draft.year) == ("泉州市教育局2024年度绩效工作方案", "泉州市教育局", 2024)
    assert len(draft.targets) == 57 and sum(t.weight for t in draft.targets) == 100
    assert draft.categories == {"重点工作目标": 68, "行政能力目标": 20, "精神文明建设成效": 6, "平安建设成效": 6}
    shipped = importer.parse(planfile.read(SHIPPED.read_bytes(), SHIPPED.name), SHIPPED.name, org="泉州市教育局",
                             plan_year=2024)
    assert _drafts(draft) == _drafts(shipped)
    by_code = {t.code: t for t in draft.targets}
    assert by_code["1-2-1"].leaders == ["李自坚", "庄映峰"] and by_code["1-2-1"].sections == ["办公室", "组织科"]
    assert by_code["1-1-2"].indicator_points == 5 and by_code["1-1-2"].basis.startswith("市《政府工作报告》")
    assert by_code["4-7"].indicator == "从严治党" and by_code["8"].weight == 6
    result = service.apply(session=session, draft=draft, actor=f.ADMIN)
    assert result.created == 57
    assert session.exec(select(func.count()).select_from(Target)).one() == 57
    assert session.exec(select(Plan.title)).one() == "泉州市教育局2024年度绩效工作方案"


def _twenty() -> tuple[list[list[str]], list[tuple[int, int, int]]]:
    """A 类别 merged over 20 rows, indicators over groups of 5, cells with line breaks."""
    header = ["编号", "类别", "一级指标", "依据", "年度目标", "权重分值", "完成时限", "分管领导", "责任科室", "科室责任人"]
    rows = [header]
    for n in range(20):
        rows.append([f"1-{n // 5 + 1}-{n % 5 + 1}", "重点工作目标（60分）" if n == 0 else "",
                     f"第{n // 5 + 1}项指标（15分）" if n % 5 == 0 else "", "市委工作要点" if n % 5 == 0 else "",
                     f"第{n + 1}项任务：完成年度目标。\n并按月报送进展。", "3", "12月底前" if n % 2 else "11月底前",
                     "林长华\n李自坚" if n % 3 == 0 else "林长华", "规划科\n办公室" if n % 4 == 0 else "规划科",
                     "洪玮玮\n黄洺鋆" if n % 4 == 0 else "洪玮玮"])
    rows.append(["2-1", "行政能力目标（40分）", "从严治党", "", "落实从严治党主体责任。", "40", "12月底前", "庄映峰", "组织科",
                 "王毅樟"])
    merge = [(c, a + 1, b + 1) for c, a, b in docmaker.merge_runs(rows[1:], (1, 2, 3))]
    return rows, merge


def test_a_merged_category_over_twenty_rows_imports_identically_from_docx_xlsx_and_xls():
    rows, merge = _twenty()
    assert (1, 1, 20) in merge
    title = "示范局2024年度绩效目标考评表"
    word = docmaker.docx_bytes(before=[title], tables=[{"rows": rows, "merge": merge, "paragraph_columns": {7, 9}}])
    import docx
    from engine.plans.word import table_matrix

    matrix = table_matrix(docx.Document(io.BytesIO(word)).tables[0])
    assert [row[1] for row in matrix[1:21]] == ["重点工作目标（60分）"] * 20  # one merged cell, read in every row
    assert b"vMerge" in zipfile.ZipFile(io.BytesIO(word)).read("word/document.xml")
    drafts = {}
    for name, data in (("plan.docx", word), ("plan.xlsx", docmaker.xlsx_bytes(title, rows, merge)),
                       ("plan.xls", docmaker.xls_bytes(title, rows, merge))):
        draft = importer.parse(planfile.read(data, name), name)
        assert draft.errors == [], (name, draft.errors)
        drafts[name] = draft
    assert _drafts(drafts["plan.docx"]) == _drafts(drafts["plan.xlsx"]) == _drafts(drafts["plan.xls"])
    word_draft = drafts["plan.docx"]
    assert {t.category for t in word_draft.targets[:20]} == {"重点工作目标"}
    assert word_draft.targets[0].text == "第1项任务：完成年度目标。\n并按月报送进展。"
    assert word_draft.targets[0].leaders == ["林长华", "李自坚"] and word_draft.targets[4].persons == ["洪玮玮", "黄洺鋆"]
    assert (word_draft.org, word_draft.year, word_draft.title) == ("示范局", 2024, title)
    assert word_draft.categories == {"重点工作目标": Decimal(60), "行政能力目标": Decimal(40)}


HEADERS = "编号、年度目标、权重分值、完成时限"


@pytest.mark.parametrize(("data", "words"), [
    (b"PK\x03\x04 not really a zip", "不是可读取的 Word 文档"),
    (docmaker.docx_bytes(before=["示范局2024年度绩效工作方案", "正文没有表格。"]), f"文档中没有表格（查找的是表头含{HEADERS}的考评表）"),
    (docmaker.docx_bytes(tables=[{"rows": [["", ""], ["", ""]]}]), f"文档中的表格都是空的（查找的是表头含{HEADERS}"),
    (docmaker.docx_bytes(tables=[{"rows": [["编号", "年度目标", "完成时限"], ["1", "推进工作", "12月底前"]]}]),
     "表头缺少列：权重分值"),
    (docmaker.docx_bytes(tables=[{"rows": [["姓名", "电话"], ["张三", "123"]]}]), f"没有找到考评表（表头应含{HEADERS}）"),
])
def test_a_broken_word_document_is_refused_with_what_was_looked_for(data, words):
    with pytest.raises(planfile.PlanFileError) as caught:
        planfile.read(data, "plan.docx")
    assert words in str(caught.value)


def test_a_broken_xls_is_refused():
    with pytest.raises(planfile.PlanFileError, match="不是可读取的 .xls 文件"):
        planfile.read(b"\xd0\xcf\x11\xe0 broken", "plan.xls")


def test_a_second_table_that_continues_the_first_is_read_after_it():
    rows, merge = _twenty()
    first, second = rows[:11], [rows[0]] + rows[11:]
    data = docmaker.docx_bytes(before=["示范局2024年度绩效目标考评表"], tables=[
        {"rows": first, "merge": [(c, a, b) for c, a, b in merge if b <= 10]},
        {"rows": second, "merge": [(c, a - 10, b - 10) for c, a, b in merge if a > 10]}])
    draft = importer.parse(planfile.read(data, "plan.docx"), "plan.docx")
    assert [t.code for t in draft.targets][9:12] == ["1-2-5", "1-3-1", "1-3-2"] and len(draft.targets) == 21
