"""Feedback after an action names who is to act next."""
from __future__ import annotations

import re

from sqlmodel import Session

from tests.api.plan_states import bring
from tests.api.test_pages import _csrf, login, web  # noqa: F401  (the fixture)


def test_after_the_self_assessment_the_page_names_the_leaders_who_sign(web, engine_db):
    client, ids = web
    with Session(engine_db) as session:
        bring(session, ["1-2-1"], "in_progress")  # 李自坚 and 庄映峰 countersign
    login(client, "黄洺鋆")
    page = client.get(f"/targets/{ids['1-2-1']}").text
    version = re.search(r'name="version" value="(\d+)"', page).group(1)
    done = client.post(f"/targets/{ids['1-2-1']}/fire", data={"csrf": _csrf(page), "trigger": "self_assess",
                                                            "version": version, "self_score": "2", "summary": "已完成"})
    assert done.status_code == 303
    assert "已提交自评，等待李自坚、庄映峰审签" in client.get(done.headers["location"]).text
