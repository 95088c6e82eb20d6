"""The calendar page: the office enters the official notice's days, audited, and sees while a year is not covered."""
from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from engine.audit import chain
from engine.calendar import clock, workdays
from engine.store.models import CalendarDay, TransitionRecord
from tests.api.test_pages import _csrf, login, web, web_2024  # noqa: F401  (the fixtures)


def _days(engine_db):
    with Session(engine_db) as session:
        return {d.day.isoformat(): (d.kind, d.name) for d in session.exec(select(CalendarDay))}


def test_the_office_enters_the_notice_and_the_warning_goes(web_2024, engine_db, monkeypatch):
    client, _ = web_2024
    monkeypatch.setattr(workdays, "library_covers", lambda year: year < 2025)  # as if the package stopped at 2024
    with clock.frozen(datetime(2024, 12, 2, 9, 0)):  # the 2024 plan's December: its evaluation January matters
        login(client, "绩效办")
        home = client.get("/").text
        assert 'data-testid="warning"' in home and "2025 年 1 月" in home
        page = client.get("/admin/calendar")
        assert page.status_code == 200 and 'data-testid="calendar-warning"' in page.text
        token = _csrf(page.text)

        done = client.post("/admin/calendar", data={"csrf": token, "what": "set", "day": "2025-01-01",
                                                    "kind": "holiday", "name": "元旦"})
        assert done.status_code == 303 and "已将 2025-01-01 设为放假" in client.get(done.headers["location"]).text
        assert _days(engine_db) == {"2025-01-01": ("holiday", "元旦")}
        assert 'data-testid="calendar-warning"' not in client.get("/admin/calendar").text  # 2025 is entered now

        bad = client.post("/admin/calendar", data={"csrf": token, "what": "import",
                                                   "notice": "2025-10-01 holiday 国庆节\n十月一日 放假"})
        assert bad.status_code == 422 and "第 2 行" in bad.text and "十月一日 放假" in bad.text  # the text is kept
        assert "2025-10-01" not in _days(engine_db)  # all or nothing
        good = client.post("/admin/calendar", data={"csrf": token, "what": "import", "notice":
                                                    "# 国务院办公厅通知\n2025-10-01..2025-10-03 holiday 国庆节\n"
                                                    "2025-09-28 workday 国庆节调休"})
        assert "已导入 4 天" in client.get(good.headers["location"]).text
        assert _days(engine_db)["2025-09-28"] == ("workday", "国庆节调休")

        cleared = client.post("/admin/calendar", data={"csrf": token, "what": "clear", "day": "2025-10-03"})
        assert "已清除 2025-10-03" in client.get(cleared.headers["location"]).text
        assert "2025-10-03" not in _days(engine_db)
    with Session(engine_db) as session:
        records = session.exec(select(TransitionRecord).where(TransitionRecord.kind == "calendar")).all()
        assert len(records) >= 3 and {r.actor for r in records} == {"绩效办"}
        assert chain.verify(session).ok


def test_staff_may_not_change_the_calendar(web):
    client, _ = web
    login(client, "洪玮玮")
    assert client.get("/admin/calendar").status_code == 403
