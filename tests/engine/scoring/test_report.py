"""The report says only what holds: a provisional grade, "all targets" only when true, overdue at month ends."""
from __future__ import annotations

from datetime import date, datetime, timedelta

from engine.calendar import clock
from engine.scoring import report
from tests import factories as f
from tests.engine.lifecycle import step
from tests.engine.scoring.test_sheet import _import, _score


def test_a_grade_is_provisional_until_every_target_is_scored(session):
    from api import report_render

    plan_id = _import(session)
    _score(session, "1-2", 30)  # 30 of the plan's 100 points scored, in full
    built = report.build(session=session, plan_id=plan_id)
    assert not built.final and built.grade_label == "优秀（暂定）"
    assert "暂定等级为“优秀”" in built.summary and "占全部权重的 30%" in built.summary and "等级为“优秀”。" not in built.summary
    assert "全部" not in built.met_statement and "尚有 3 项未评分" in built.met_statement
    page = report_render.html(built)
    assert "优秀（暂定）" in page and "全部目标均已达成" not in page and "占全部权重 100 分的 30%" in page
    assert "等级 优秀（暂定）" in str(_footer(report.xlsx(session=session, plan_id=plan_id)))
    for code in ("1-1", "2-1", "2-2"):
        _score(session, code, {"1-1": 30, "2-1": 25, "2-2": 15}[code])
    built = report.build(session=session, plan_id=plan_id)
    assert built.final and built.grade_label == "优秀" and built.met_statement == "全部目标均已达成。"
    page = report_render.html(built)
    assert "全部目标均已达成" in page and "暂定" not in page


def test_nothing_scored_says_so(session):
    plan_id = _import(session)
    built = report.build(session=session, plan_id=plan_id)
    assert built.grade_label == "未评定" and built.met_statement.startswith("尚无已评分的目标")


def _footer(data: bytes):
    import io

    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(data)).active
    return [cell.value for cell in sheet[sheet.max_row]]


def test_the_monthly_chart_counts_what_was_overdue_at_each_months_end(session):
    with clock.frozen(datetime(2024, 1, 10, 9, 0)) as moving:
        march = f.target(session, due_date=date(2024, 3, 31))  # self-assessed on 10 May
        june = f.target(session, due_date=date(2024, 6, 30))  # never started
        f.target(session, due_date=None, deadline_phrase="长期")  # never overdue
        moving.move(datetime(2024, 5, 10, 9, 0, tzinfo=clock.ZONE) - clock.now())
        step(session, march.id, "start", f.STAFF)
        step(session, march.id, "self_assess", f.STAFF)
        moving.move(timedelta(days=97))  # 15 August
        built = report.build(session=session, plan_id=march.plan_id)
    counts = {label: overdue for label, overdue, _ in built.months}
    assert [counts[f"{m}月"] for m in range(1, 8)] == [0, 0, 1, 1, 0, 1, 1]
    assert counts["8月"] is None and counts["12月"] is None and counts["次年1月"] is None  # not yet ended
    assert built.overdue_now == 1 and "当前逾期目标 1 项" in built.summary
    assert june.id != march.id


def test_the_chart_and_the_page_show_the_current_count(session):
    from api import report_render

    with clock.frozen(datetime(2025, 2, 3, 9, 0)):
        target = f.target(session, due_date=date(2024, 11, 30))
        built = report.build(session=session, plan_id=target.plan_id)
        page = report_render.html(built)
    # Created "now" (2025), so at no month's end of 2024 did it exist; it is overdue today.
    assert [overdue for _, overdue, _ in built.months] == [0] * 13
    assert built.overdue_now == 1 and "当前逾期 1 项" in page and 'data-testid="overdue-now">1<' in page
