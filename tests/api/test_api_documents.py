"""The API's plan import with documents: a Word annex, and the three-level table with its weight rule."""
from __future__ import annotations

from tests.api.conftest import token
from tests.api.test_api import _problem
from tests.engine.plans.test_indicator_table import _budget_docx
from tests.engine.plans.test_word import _annex_docx


def test_plan_import_of_word_documents(api):
    office = token(api, "绩效办")
    annex = {"file": ("方案.docx", _annex_docx(), "application/vnd.openxmlformats-officedocument.wordprocessingml.document")}
    dry = api.post("/api/v1/plans/import", headers=office, files=annex, data={"dry_run": "true"}).json()
    assert dry["ok"] and dry["targets"] == 57
    budget = {"file": ("批复表.docx", _budget_docx(), "application/octet-stream")}
    refused = _problem(api.post("/api/v1/plans/import", headers=office, files=budget), 422, "invalid_payload")
    assert "三级指标表没有权重" in refused["detail"]
    done = api.post("/api/v1/plans/import", headers=office, files=budget,
                    data={"weights": "equal", "leader": "王局长", "section": "计财股"}).json()
    assert done["created"] == 6
    plan = api.get(f"/api/v1/plans/{done['plan_id']}", headers=office).json()
    assert plan["title"] == "潢源县教育局2024年部门整体支出绩效目标批复表" and plan["total_weight"] == 100
