"""Work-point documents in prose → a draft assessment table, each cell read or guessed, then imported."""
from __future__ import annotations

import io
from pathlib import Path

import pytest
import yaml
from openpyxl import load_workbook

from engine.plans import draft as drafts, importer, table as planfile
from tests.engine.plans import docmaker

FIXTURE = yaml.safe_load((Path(__file__).parent / "fixtures" / "work-points-2017.yaml").read_text(encoding="utf-8"))
CN = "一二三四五六七八九十"


@pytest.mark.parametrize("kind", ["docx", "txt"])
def test_seed_004_drafts_every_numbered_task_with_its_group(kind):
    paragraphs = FIXTURE["paragraphs"]
    data = docmaker.docx_bytes(before=paragraphs) if kind == "docx" else "\n".join(paragraphs).encode("gb18030")
    draft = drafts.from_document(data, f"要点.{kind}")
    assert (draft.title, draft.org, draft.year) == ("泉港区2017年教育工作要点", "泉港区教育局", 2017)
    expected = [(f"{g}-{n}", group["heading"].split("）", 1)[1])
                for g, group in enumerate(FIXTURE["groups"], start=1) for n in group["tasks"]]
    assert len(expected) == 32
    assert [(row.cells["code"], row.cells["category"]) for row in draft.rows] == expected
    rows = {row.cells["code"]: row for row in draft.rows}
    assert rows["1-1"].cells["indicator"] == "做有教育情怀的教育人"
    assert rows["1-1"].cells["text"].startswith("持续倡导全区教育工作者树立教育理想")
    assert rows["4-19"].cells["indicator"] == "加强体卫艺教育"  # numbered "19加强…" without a dot
    assert ("招聘师范类研究生学历新教师：3名") in rows["1-6"].cells["indicators"].splitlines()
    assert rows["3-13"].cells["indicators"].splitlines() == ["全区普惠性学位：65%以上", "创建市级示范园：1所", "区级示范园：4所"]
    assert "投资：2.39亿元" in rows["5-22"].cells["indicators"]
    assert rows["1-1"].how["deadline"] == drafts.GUESSED and rows["1-1"].cells["deadline"] == "12月底前"
    assert rows["1-1"].how["weight"] == drafts.TO_FILL and rows["1-1"].how["sections"] == drafts.TO_FILL
    assert rows["1-6"].how["indicators"] == drafts.GUESSED and rows["1-6"].how["code"] == drafts.READ
    assert rows["1-1"].cells["basis"] == "泉港区2017年教育工作要点"


def _forty() -> list[str]:
    lines = ["示范区教育局", "示范区2025年教育工作要点", "一、指导思想", "坚持立德树人。", "二、重点任务"]
    for g in range(5):
        lines.append(f"（{CN[g]}）第{g + 1}组工作")
        for n in range(1, 9):
            when = f"{n + 2}月底前" if n % 2 else "年内"
            lines.append(f"{n}．推进第{g + 1}组第{n}项工作。{when}完成建设任务，新增学位{n}00个，"
                         f"覆盖率达到100%。（牵头单位：规划科；配合单位：办公室、财务科）")
    lines += ["三、保障措施", "1.加强组织领导。各单位要高度重视。"]
    return lines


def test_forty_items_in_five_groups_draft_forty_targets_in_five_categories():
    draft = drafts.from_document(docmaker.docx_bytes(before=_forty()), "要点.docx")
    assert len(draft.rows) == 40 and draft.groups() == [f"第{g}组工作" for g in range(1, 6)]
    assert [row.cells["code"] for row in draft.rows[:9]] == [f"1-{n}" for n in range(1, 9)] + ["2-1"]
    first, second = draft.rows[0], draft.rows[1]
    assert first.cells["sections"] == "规划科\n办公室\n财务科" and first.how["sections"] == drafts.READ
    assert "牵头单位" not in first.cells["text"] and first.cells["text"] == "3月底前完成建设任务，新增学位100个，覆盖率达到100%。"
    assert (first.cells["deadline"], first.how["deadline"]) == ("3月底前", drafts.READ)
    assert second.cells["deadline"] == "年内" and second.how["deadline"] == drafts.READ
    assert first.cells["indicators"].splitlines() == ["新增学位：100个", "覆盖率：100%"]
    assert first.how["leaders"] == drafts.TO_FILL


def test_the_draft_xlsx_marks_its_cells_and_imports_once_completed():
    draft = drafts.from_document(docmaker.docx_bytes(before=_forty()), "要点.docx")
    data = drafts.write_xlsx(draft)
    sheet = load_workbook(io.BytesIO(data)).worksheets[0]
    header = [c.value for c in sheet[2]]
    assert header[-1] == drafts.NOTE_HEADER and header[:6] == ["编号", "类别", "一级指标", "依据", "年度目标", "权重分值"]
    assert sheet.cell(row=3, column=6).fill.fgColor.rgb.endswith(drafts.FILLS[drafts.TO_FILL])
    assert sheet.cell(row=3, column=11).fill.fgColor.rgb.endswith(drafts.FILLS[drafts.GUESSED])
    assert sheet.cell(row=3, column=12).value.startswith("读取：编号、类别、一级指标、依据、年度目标、完成时限、责任科室")
    refused = importer.parse(planfile.read(data, "草稿.xlsx"), "草稿.xlsx", org="示范区教育局")
    assert any(e.column == "权重分值" for e in refused.errors) and any(e.column == "分管领导" for e in refused.errors)
    for row in range(3, sheet.max_row + 1):  # the office completes the draft
        sheet.cell(row=row, column=6).value = "2.5"
        sheet.cell(row=row, column=8).value = "林长华"
    buffer = io.BytesIO()
    sheet.parent.save(buffer)
    done = importer.parse(planfile.read(buffer.getvalue(), "草稿.xlsx"), "草稿.xlsx", org="示范区教育局")
    assert done.errors == [] and len(done.targets) == 40 and len(done.categories) == 5 and done.year == 2025
    assert done.targets[0].indicators == [("新增学位", "100个"), ("覆盖率", "100%")]


def test_a_document_without_numbered_tasks_is_refused_with_what_was_looked_for():
    with pytest.raises(planfile.PlanFileError, match="没有找到编号的工作任务（查找的是“（一）…”分组下以“1.”“2.”开头的段落）"):
        drafts.from_document("示范区2025年教育工作要点\n全年推进各项工作。".encode(), "要点.txt")
    with pytest.raises(planfile.PlanFileError, match="应为 .docx 或 .txt"):
        drafts.from_document(b"x", "要点.pdf")
