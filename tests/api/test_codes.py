"""Dynamic targets coded D-1, 动态1, D.2, 2-动态-1 through the score sheet and report endpoints (no 500)."""
from __future__ import annotations

from sqlmodel import Session

from tests.api.conftest import token
from tests.engine.scoring.test_codes import WRITTEN, _dynamic
from tests.engine.scoring.test_sheet import _import, _score


def test_the_sheet_and_every_report_format_answer(api, engine_db):
    with Session(engine_db) as session:
        plan_id = _import(session)
        for code in WRITTEN[:4]:
            _dynamic(session, plan_id, code)
        _score(session, "D-1", 1)
    staff = token(api, "洪玮玮")
    scores = api.get(f"/api/v1/plans/{plan_id}/scores", headers=staff)
    assert scores.status_code == 200
    assert [line["code"] for line in scores.json()["lines"]][-4:] == ["2-动态-1", "D-1", "D.2", "动态1"]
    assert scores.json()["total"]["provisional"] is True  # 1 of 8 targets scored
    for fmt, start in (("html", b"<!doctype html>"), ("pdf", b"%PDF"), ("xlsx", b"PK")):
        answer = api.get(f"/api/v1/plans/{plan_id}/report?format={fmt}", headers=staff)
        assert answer.status_code == 200 and answer.content.startswith(start), fmt
