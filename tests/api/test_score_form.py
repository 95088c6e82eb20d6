"""The score form: 得分 = 权重 − Σ扣分 shown and pre-filled; a refused deduction line is kept in its box."""
from __future__ import annotations

import re
from decimal import Decimal

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from api.app import create_app
from engine.people.actors import Actor
from engine.store.models import Target
from engine.workflow.targets import parties_of
from tests import factories as f
from tests.api.test_pages import _csrf, login
from tests.engine.lifecycle import PATHS, step


def test_the_score_form_shows_the_arithmetic_and_keeps_what_was_typed(engine_db, demo):
    demo.put(engine_db)
    with Session(engine_db) as session:
        target = session.exec(select(Target).where(Target.workflow == "target").order_by(Target.id)).first()
        parties = parties_of(session, target.id)
        staff = Actor(parties.persons[0], frozenset({"staff"}), frozenset(parties.sections))
        for trigger in PATHS["verified"]:
            if trigger == "sign":
                for leader in parties.leaders:
                    step(session, target.id, "sign", Actor(leader, frozenset({"leader"})))
            else:
                step(session, target.id, trigger, staff if trigger in ("start", "self_assess") else f.OFFICE,
                     **({"payload": {"self_score": 0, "summary": "完成"}} if trigger == "self_assess" else {}))
        target_id, weight = target.id, target.weight
    with TestClient(create_app(engine_db), follow_redirects=False) as client:
        login(client, "绩效办")
        page = client.get(f"/targets/{target_id}").text
        shown = f"{Decimal(str(weight)).normalize():f}"
        assert f"得分 = 权重 {shown} − Σ扣分" in page and re.search(rf'name="score"[^>]*value="{re.escape(shown)}"', page)
        version = re.search(r'name="version" value="(\d+)"', page).group(1)
        form = {"csrf": _csrf(page), "trigger": "score", "version": version, "score": shown,
                "score_default": shown, "deductions_text": "扣99分，签到表不全"}
        refused = client.post(f"/targets/{target_id}/fire", data=form)
        assert refused.status_code == 422 and "扣99分，签到表不全" in refused.text and "超过权重分值" in refused.text
        page = client.get(f"/targets/{target_id}").text
        version = re.search(r'name="version" value="(\d+)"', page).group(1)
        done = client.post(f"/targets/{target_id}/fire", data=form | {"csrf": _csrf(page), "version": version,
                                                                      "deductions_text": "扣0.25分，签到表不全"})
        assert done.status_code == 303
    with Session(engine_db) as session:
        assert session.get(Target, target_id).score == Decimal(str(weight)) - Decimal("0.25")
