"""Supervision on the pages: warnings on every role's home, issuing and printing a 督办单, the simulation page."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import update
from sqlmodel import Session, select

from engine.calendar import clock
from engine.store.models import Target
from tests.api.test_pages import _csrf, login, web, web_2024  # noqa: F401  (the fixtures)


def test_warnings_show_on_every_home_and_a_notice_is_issued_and_printed(web, engine_db):  # noqa: F811
    client, ids = web
    with Session(engine_db) as session:
        session.exec(update(Target).where(Target.id == ids["1-2-1"])
                     .values(risk_level=3, risk_reason="已过 70% 时间，进度 20%，连续 2 个月未报送"))
        session.commit()
    for name in ("黄洺鋆", "李自坚", "绩效办"):
        login(client, name)
        home = client.get("/").text
        assert 'data-testid="warning-1-2-1"' in home and "红色预警" in home and "连续 2 个月未报送" in home, name
        client.post("/logout", data={"csrf": _csrf(home)})

    login(client, "绩效办")
    page = client.get(f"/targets/{ids['1-2-1']}").text
    assert 'data-testid="issue-notice"' in page and 'data-testid="risk"' in page
    with clock.frozen(datetime(2024, 6, 3, 9)):
        bad = client.post(f"/targets/{ids['1-2-1']}/notices",
                          data={"csrf": _csrf(page), "requirement": "请说明", "reply_due": "2024-05-01"})
        assert bad.status_code == 422 and "回复期限不能早于今天" in bad.text
        done = client.post(f"/targets/{ids['1-2-1']}/notices",
                           data={"csrf": _csrf(page), "requirement": "请说明滞后原因", "reply_due": "2024-06-10"})
    assert done.status_code == 303
    notice_id = int(done.headers["location"].split("/")[2].split("?")[0])
    with Session(engine_db) as session:
        notice = session.get(Target, notice_id)
        assert (notice.workflow, notice.subject_id, notice.due_date) == ("supervision", ids["1-2-1"], date(2024, 6, 10))
    notice_page = client.get(f"/targets/{notice_id}").text
    assert 'data-testid="subject"' in notice_page and "待回复" in notice_page
    assert "下发督办单" in client.get(f"/targets/{ids['1-2-1']}").text  # in the target's history
    with clock.frozen(datetime(2024, 6, 3, 9)):
        added = client.post(f"/targets/{ids['1-2-1']}/checkpoints",
                            data={"csrf": _csrf(page), "date": "2024-09-25", "what": "中期评估"})
    assert added.status_code == 303
    assert "2024-09-25（中期评估）" in client.get(f"/targets/{ids['1-2-1']}").text
    pdf = client.get(f"/targets/{notice_id}/notice.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")

    client.post("/logout", data={"csrf": _csrf(notice_page)})
    login(client, "洪玮玮")  # staff of another section
    assert client.get(f"/targets/{notice_id}/notice.pdf").status_code == 403
    assert client.get("/plans/1/simulate").status_code == 403


def test_the_office_simulates_a_year_from_its_page(web_2024, engine_db, db_url):  # noqa: F811
    client, _ = web_2024  # the plan's own 2024 dates, which the simulated days fall in
    from engine.store.config import settings

    login(client, "绩效办")
    settings_url = settings().database_url
    try:
        settings().database_url = db_url
        page = client.get("/plans/1/simulate?run=1&start=2024-12-20&until=2024-12-31&assume=steady")
    finally:
        settings().database_url = settings_url
    assert page.status_code == 200 and 'data-testid="simulation"' in page.text and "到期提醒" in page.text
    bad = client.get("/plans/1/simulate?run=1&assume=stall")
    assert "无法理解的假设" in bad.text


def test_the_office_drafts_reviews_and_publishes_a_circular(web, engine_db):  # noqa: F811
    client, ids = web
    with Session(engine_db) as session:
        session.exec(update(Target).where(Target.id == ids["1-2-1"]).values(risk_level=2, risk_reason="连续 2 个月未报送"))
        session.commit()
    login(client, "绩效办")
    home = client.get("/").text
    listing = client.get("/plans/1/circulars")
    assert listing.status_code == 200 and "尚无通报" in listing.text
    with clock.frozen(datetime(2024, 6, 28, 9)):
        made = client.post("/plans/1/circulars", data={"csrf": _csrf(home)})
    assert made.status_code == 303
    url = made.headers["location"]
    page = client.get(url).text
    assert 'data-testid="circular-status">草稿' in page and "黄洺鋆" in page  # names in the office's version
    done = client.post(f"{url}/publish", data={"csrf": _csrf(page), "comment": "内部：约谈办公室"})
    assert done.status_code == 303
    page = client.get(url).text
    assert "已发布" in page and 'data-testid="publish-circular"' not in page
    again = client.post(f"{url}/publish", data={"csrf": _csrf(page)})
    assert again.status_code == 409
    public = client.get(f"{url}/public.html")
    assert public.status_code == 200 and "公开版" in public.text
    assert "黄洺鋆" not in public.text and "约谈" not in public.text and "<script" not in public.text
    assert client.get(f"{url}/circular.pdf").content.startswith(b"%PDF")
    assert client.get(f"{url}/circular.xlsx").content.startswith(b"PK")
    client.post("/logout", data={"csrf": _csrf(page)})
    login(client, "黄洺鋆")  # a section's staff reads the published circular
    assert client.get(url).status_code == 200
    assert client.get("/plans/1/circulars").status_code == 403
