"""Target codes of any form the import or a dynamic target accepts work on the sheet, the report and the export."""
from __future__ import annotations

import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook
from sqlmodel import select

from engine.plans import exporter, importer, service as plans, table
from engine.scoring import report, sheet as scoring
from engine.store.models import Target
from tests import factories as f
from tests.engine.scoring.test_sheet import _import, _score

# The codes the office writes for dynamic targets, and those the seed's table uses.
WRITTEN = ["D-1", "动态1", "D.2", "2-动态-1", "1-1-10", "1-1-2", "３-１", "动态-2.1", "A", "7"]
CODES = st.text(alphabet=st.sampled_from("ABCDdxyz动态目标甲乙0123456789-.－"), min_size=1, max_size=12).filter(
    lambda c: c.strip() == c and c.strip())


def _dynamic(session, plan_id, code):
    return plans.add_dynamic(session=session, plan_id=plan_id, actor=f.OFFICE, code=code, text=f"临时交办任务{code}",
                             weight=1, reason="局党组临时交办", deadline_phrase="12月底前", sections=["规划科"],
                             leaders=["林长华"], persons=["洪玮玮"])


def _everywhere(session, plan_id) -> set[str]:
    """Every code of the plan through the sheet, the report (html, xlsx) and the plan export; the codes seen."""
    from api import report_render

    codes = set(session.exec(select(Target.code).where(Target.plan_id == plan_id)))
    lines = scoring.sheet(session=session, plan_id=plan_id).lines
    assert {line.target.code for line in lines} == codes
    keys = [exporter.code_key(line.target.code) for line in lines]
    assert keys == sorted(keys)
    built = report.build(session=session, plan_id=plan_id)
    page = report_render.html(built)
    from markupsafe import escape

    assert all(str(escape(code)) in page for code in codes)
    scored = load_workbook(io.BytesIO(report.xlsx(session=session, plan_id=plan_id))).active
    assert {row[0] for row in scored.iter_rows(min_row=3, values_only=True) if row[0]} == codes
    exported = exporter.write_xlsx(session, plan_id)
    again = importer.parse(table.read(exported, "plan.xlsx"), "plan.xlsx")
    # The weights of these plans do not add up to 100: that is the only thing the import may say.
    assert [e for e in again.errors if e.column != "权重分值"] == [] and {d.code for d in again.targets} == codes
    return codes


def test_the_codes_offices_write(session):
    plan_id = _import(session)
    for code in WRITTEN:
        _dynamic(session, plan_id, code)
    _score(session, "D-1", 1)
    _score(session, "动态1", 0.5, deductions=[(0.5, "进度滞后")])
    assert _everywhere(session, plan_id) >= set(WRITTEN)
    order = [line.target.code for line in scoring.sheet(session=session, plan_id=plan_id).lines]
    assert order.index("1-1") < order.index("1-2") < order.index("2-1") < order.index("D-1")
    assert order.index("1-1-2") < order.index("1-1-10")


def test_the_pdf_with_such_codes(session):
    from api import report_render

    plan_id = _import(session)
    for code in WRITTEN[:4]:
        _dynamic(session, plan_id, code)
    _score(session, "D-1", 1)
    assert report_render.pdf(report.build(session=session, plan_id=plan_id)).startswith(b"%PDF")


def test_an_imported_table_with_such_codes(session):
    rows = "\n".join(f'  - {{编号: "{code}", 类别: 动态工作目标, 一级指标: 临时交办, 年度目标: 任务{code}, 权重分值: 10, '
                     f'完成时限: 12月底前, 分管领导: 林长华, 责任科室: 规划科, 科室责任人: 洪玮玮}}' for code in WRITTEN)
    plan_id = _import(session, "plan: {org: 泉州市教育局, year: 2024, title: 泉州市教育局2024年度绩效目标考评表}\ntargets:\n" + rows + "\n")
    assert _everywhere(session, plan_id) == set(WRITTEN)


def test_a_code_too_long_is_refused_clearly(session):
    from engine.store.errors import InvalidPayload

    plan_id = _import(session)
    with pytest.raises(InvalidPayload, match="编号"):
        _dynamic(session, plan_id, "D" * 121)
    assert _dynamic(session, plan_id, "  D-9 ").target.code == "D-9"


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(codes=st.lists(CODES, min_size=1, max_size=4, unique=True))
def test_any_code_works_everywhere(session, codes):
    plan_id = _import(session) if not session.exec(select(Target)).first() else session.exec(select(Target)).first().plan_id
    known = set(session.exec(select(Target.code)))
    for code in codes:
        if code not in known:
            _dynamic(session, plan_id, code)
    assert _everywhere(session, plan_id) >= set(codes)
