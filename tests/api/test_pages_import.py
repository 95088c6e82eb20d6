"""The office's import page: upload a document, review the draft table with its marks, fix it, import it."""
from __future__ import annotations

import re

from sqlmodel import Session, func, select

from engine.store.models import Plan, Target
from tests.api.test_pages import _csrf, login, web  # noqa: F401 - the fixture
from tests.engine.plans import docmaker
from tests.engine.plans.test_draft import _forty
from tests.engine.plans.test_indicator_table import _budget_docx


def _fields(html: str) -> dict[str, str]:
    """The draft form's fields as the browser would post them."""
    form = html[html.index('id="draft-form"'):]
    fields = {m[1]: m[2] for m in re.finditer(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form)}
    fields.update({m[1]: m[2] for m in re.finditer(r'<input name="([^"]+)"[^>]*value="([^"]*)"', form)})
    fields.update({m[1]: m[2] for m in re.finditer(r'<textarea name="([^"]+)"[^>]*>([^<]*)</textarea>', form)})
    import html as entities

    return {k: entities.unescape(v) for k, v in fields.items()}


def test_the_office_drafts_a_prose_document_fixes_it_and_imports_it(web, engine_db):  # noqa: F811
    client, _ = web
    login(client, "绩效办")
    page = client.get("/plans/import")
    assert page.status_code == 200 and 'action="/plans/import"' in page.text
    shown = client.post("/plans/import", data={"csrf": _csrf(page.text)},
                        files={"file": ("要点.docx", docmaker.docx_bytes(before=_forty()))})
    assert shown.status_code == 200, shown.text
    html = shown.text
    assert "40 个目标，5 个类别" in html
    assert html.count('class="cell-to-fill"') == 40 * 3 and html.count('class="cell-guessed"') == 40
    assert re.search(r"<script(?![^>]*\bsrc=)", html) is None and '<script src="/static/draft.js" defer>' in html
    fields = _fields(html)
    assert fields["r0.code"] == "1-1" and fields["r0.sections"] == "规划科\n办公室\n财务科" and fields["org"] == "示范区教育局"
    refused = client.post("/plans/import/apply", data=fields)
    assert refused.status_code == 422 and "计划未导入" in refused.text and "权重分值不是有效数字" in refused.text
    assert 'name="r39.code"' in refused.text  # the table stays, with what was typed
    for i in range(40):
        fields[f"r{i}.weight"], fields[f"r{i}.leaders"] = "2.5", "林长华"
    done = client.post("/plans/import/apply", data=fields)
    assert done.status_code == 200 and "已导入计划" in done.text and "新增 40" in done.text
    with Session(engine_db) as session:
        plan = session.exec(select(Plan).where(Plan.org == "示范区教育局")).one()
        assert plan.year == 2025
        assert session.exec(select(func.count()).select_from(Target).where(Target.plan_id == plan.id)).one() == 40


def test_a_three_level_table_needs_its_weight_rule_and_shows_its_levels(web, engine_db):  # noqa: F811
    client, _ = web
    login(client, "绩效办")
    token = _csrf(client.get("/plans/import").text)
    refused = client.post("/plans/import", data={"csrf": token}, files={"file": ("批复表.docx", _budget_docx())})
    assert refused.status_code == 422 and "三级指标表没有权重" in refused.text
    shown = client.post("/plans/import", data={"csrf": token, "weights": "equal", "leader": "王局长"},
                        files={"file": ("批复表.docx", _budget_docx())})
    assert shown.status_code == 200 and "6 个目标" in shown.text
    assert "产出指标/数量指标/创新创业课程开设数量：≥560个" in shown.text
    done = client.post("/plans/import/apply", data=_fields(shown.text))
    assert done.status_code == 200 and "新增 6" in done.text, done.text
    with Session(engine_db) as session:
        plan = session.exec(select(Plan).where(Plan.org == "潢源县教育局")).one()
        first = session.exec(select(Target).where(Target.plan_id == plan.id, Target.code == "职能1")).one()
    target = client.get(f"/targets/{first.id}").text
    assert "<th>一级指标</th><th>二级指标</th><th>三级指标</th>" in target
    assert "<td>产出指标</td><td>数量指标</td><td>创新创业课程开设数量</td>" in target
    report = client.get(f"/plans/{plan.id}/report").text
    assert "八、量化指标" in report and "<td>职能1</td><td>产出指标</td><td>数量指标</td><td>创新创业课程开设数量</td>" in report
    login(client, "黄洺鋆")  # staff: only the office and admins import
    assert client.get("/plans/import").status_code == 403
