"""The office's holidays and make-up days: entered, audited, used by every working-day count, warned about."""
from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import Session, select

from engine.people import organisations
from engine.audit import chain
from engine.calendar import workdays
from engine.schedule import holidays
from engine.store import calendardays
from engine.store.errors import Forbidden, InvalidPayload
from engine.store.models import CalendarDay, Plan, TransitionRecord
from engine.workflow.duedates import state_due
from tests import factories as f
from tests.cli_runner import kaoping as run_kaoping
from tests.engine.workflow.test_duedates import THREE_DAYS

NOTICE = """\ufeff# 国务院办公厅关于2027年部分节假日安排的通知（示例）
2027-01-01 holiday 元旦
2027-10-01..2027-10-07 放假 国庆节
2027-09-26 workday 国庆节调休   # 星期日上班
2027-10-09 上班 国庆节调休
"""


@pytest.fixture(autouse=True)
def no_overrides_left():
    """What one test installs in this process must not reach the next."""
    workdays.use_overrides({})
    yield
    workdays.use_overrides({})


def test_a_set_day_is_audited_and_counted(session):
    row = holidays.set_day(session=session, day=date(2027, 10, 1), kind="holiday", name="国庆节", actor=f.OFFICE)
    session.commit()
    assert (row.kind, row.name, row.set_by) == ("holiday", "国庆节", f.OFFICE.name)
    record = session.exec(select(TransitionRecord)).one()
    assert (record.kind, record.trigger, record.actor, record.role, record.target_id) == (
        "calendar", "set_calendar_day", "绩效办", "office", None)
    assert record.payload == {"date": "2027-10-01", "kind": "holiday", "name": "国庆节", "before": None}
    assert not workdays.is_workday(date(2027, 10, 1))
    holidays.set_day(session=session, day=date(2027, 10, 1), kind="workday", actor=f.OFFICE)
    session.commit()
    assert workdays.is_workday(date(2027, 10, 1))
    assert session.exec(select(TransitionRecord).order_by(TransitionRecord.id.desc())).first().payload["before"] == "holiday"
    assert holidays.clear_day(session=session, day=date(2027, 10, 1), actor=f.ADMIN)
    session.commit()
    assert not holidays.clear_day(session=session, day=date(2027, 10, 1), actor=f.ADMIN)
    assert chain.verify(session) == chain.ChainCheck(count=3, ok=True)


def test_only_the_office_or_an_admin_sets_days(session):
    with pytest.raises(Forbidden):
        holidays.set_day(session=session, day=date(2027, 10, 1), kind="holiday", actor=f.STAFF)
    with pytest.raises(InvalidPayload, match="holiday"):
        holidays.set_day(session=session, day=date(2027, 10, 1), kind="节日", actor=f.OFFICE)


def test_a_notice_is_imported_whole_as_one_record(session):
    entries = holidays.import_notice(session=session, text=NOTICE, actor=f.OFFICE)
    session.commit()
    assert len(entries) == 10 and [e.day for e in entries if e.kind == "workday"] == [date(2027, 9, 26), date(2027, 10, 9)]
    assert len(holidays.entered(session=session, year=2027)) == 10 and holidays.entered(session=session, year=2026) == []
    record = session.exec(select(TransitionRecord)).one()
    assert record.trigger == "import_calendar" and len(record.payload["days"]) == 10
    assert calendardays.load(session)[date(2027, 10, 5)] is False


@pytest.mark.parametrize("text, reason", [
    ("2027-10-01 holiday 国庆节\n2027/10/02 holiday 国庆节\n", "第 2 行"),
    ("2027-10-01 放假\n2027-10-07..2027-10-01 放假\n", "由早到晚"),
    ("2027-10-01 holiday\n2027-10-01 workday\n", "前面已定为放假"),
    ("# 只有注释\n\n", "没有日期"),
    ("2027-10-01 节日 国庆节\n", "类型应为"),
])
def test_a_bad_notice_writes_nothing(session, text, reason):
    with pytest.raises(InvalidPayload, match=reason):
        holidays.import_notice(session=session, text=text, actor=f.OFFICE)
    session.rollback()
    assert session.exec(select(CalendarDay)).all() == [] and session.exec(select(TransitionRecord)).all() == []


def test_due_dates_use_days_another_process_entered(session):
    t = f.target(session)
    holidays.import_notice(session=session, text=NOTICE, actor=f.OFFICE)
    session.commit()
    workdays.use_overrides({})  # as in a process that has not heard of them
    # Entered Thursday 30 September 2027: 1–7 October off, Friday 8, Saturday 9 (调休), Monday 11.
    assert state_due(session, t, THREE_DAYS, "self_assessed", date(2027, 9, 30)) == date(2027, 10, 11)


def test_years_without_a_calendar_are_warned_about(session):
    assert holidays.gaps(session=session, today=date(2024, 6, 3)) == []  # 2024 and 2025: the package knows them
    assert [(g.year, g.january_only) for g in holidays.gaps(session=session, today=date(2026, 12, 2))] == [(2027, True)]
    session.add(Plan(org_id=organisations.for_plan(session, "泉州市教育局")[0].id, org="泉州市教育局", year=2027,
                     title="2027年度绩效目标考评表"))
    session.commit()
    gaps = holidays.gaps(session=session, today=date(2026, 12, 2))
    assert [(g.year, g.january_only) for g in gaps] == [(2027, False), (2028, True)]
    assert "2027 年的法定节假日" in gaps[0].message and "kaoping calendar import" in gaps[0].message
    holidays.import_notice(session=session, text=NOTICE, actor=f.OFFICE)
    session.commit()
    assert holidays.warnings(session=session, today=date(2026, 12, 2)) == [holidays.Gap(2028, True).message]


def test_jobs_run_shows_the_warning_and_the_cli_enters_days(db_url, tmp_path):
    notice = tmp_path / "2027.txt"
    notice.write_text(NOTICE, encoding="utf-8")
    def kaoping(*args):
        return run_kaoping(*args, env={"KAOPING_DATABASE_URL": db_url})

    warned = kaoping("jobs", "run", "--at", "2026-12-02T09:00")
    assert warned.returncode == 0, warned.stderr
    assert "警告：2027 年 1 月的法定节假日和调休未知" in warned.stdout
    assert kaoping("calendar", "set", "2027-01-01", "holiday", "元旦").returncode == 0
    imported = kaoping("calendar", "import", str(notice))
    assert imported.returncode == 0 and "已导入 10 天：放假 8 天，调休上班 2 天" in imported.stdout
    quiet = kaoping("jobs", "run", "--at", "2026-12-02T09:00")
    assert quiet.returncode == 0 and "警告" not in quiet.stdout
    bad = kaoping("calendar", "set", "2027-10-01", "节日")
    assert bad.returncode == 1 and "类型应为" in bad.stderr
    assert "共 2 条记录" in kaoping("audit", "verify").stdout
