"""Queues first, bulk verify / send back / sign, and the plan-wide score sheet, through the app in process."""
from __future__ import annotations

import re

from sqlmodel import Session, select

from engine.store.models import Target, TransitionRecord
from tests.api.plan_states import bring
from tests.api.test_pages import _csrf, login, web  # noqa: F401  (the fixture)


def _to(_client, engine_db, codes, state):
    with Session(engine_db) as session:
        bring(session, codes, state)


def test_office_home_opens_with_its_queues_and_counts(web, engine_db):
    client, ids = web
    _to(client, engine_db, ["1-1-1", "1-1-2"], "leader_signed")
    login(client, "绩效办")
    html = client.get("/").text
    first_queue = html.index('data-testid="queue-verify"')
    assert first_queue < html.index("全局概况")
    assert re.search(r'data-testid="queue-verify">待核验 <b>2</b>', html)
    assert "个工作日" in html and "<progress" in html
    charts = html[html.index('data-testid="chart-states"'):html.index('data-testid="state-counts"')]
    assert charts.count("<svg") == 3 and "<script" not in charts  # drawn on the server
    assert "领导已审签 2 项" in charts and re.search(r"规划科 [1-9][0-9]?%", charts)
    narrowed = client.get("/", params={"q": "1-1-2"}).text  # the filter bar keeps its state in the URL
    assert re.search(r'data-testid="queue-verify">待核验 <b>1</b>', narrowed) and 'value="1-1-2"' in narrowed


def test_bulk_verify_is_all_or_nothing_per_target(web, engine_db):
    client, ids = web
    _to(client, engine_db, ["1-1-1", "1-1-2"], "leader_signed")
    login(client, "绩效办")
    token = _csrf(client.get("/").text)
    with Session(engine_db) as session:
        v = {c: session.get(Target, ids[c]).version for c in ("1-1-1", "1-1-2", "1-1-3")}
    page = client.post("/bulk", data={"csrf": token, "trigger": "verify", "ids": [ids["1-1-1"], ids["1-1-2"], ids["1-1-3"]],
                                      f"v{ids['1-1-1']}": v["1-1-1"], f"v{ids['1-1-2']}": v["1-1-2"] - 1,
                                      f"v{ids['1-1-3']}": v["1-1-3"]})
    assert page.status_code == 200
    assert "成功 1 项，未能办理 2 项" in page.text
    assert "请刷新后重试" in page.text and "不能执行“核验”" in page.text
    with Session(engine_db) as session:
        states = {c: session.get(Target, ids[c]).state for c in v}
    assert states == {"1-1-1": "verified", "1-1-2": "leader_signed", "1-1-3": "assigned"}


def test_bulk_send_back_shares_one_comment_and_needs_it(web, engine_db):
    client, ids = web
    _to(client, engine_db, ["1-1-1", "1-1-2"], "leader_signed")
    login(client, "绩效办")
    token = _csrf(client.get("/").text)
    both = [ids["1-1-1"], ids["1-1-2"]]
    refused = client.post("/bulk", data={"csrf": token, "trigger": "send_back", "ids": both})
    assert "未能办理 2 项" in refused.text
    done = client.post("/bulk", data={"csrf": token, "trigger": "send_back", "ids": both, "comment": "佐证材料不全"})
    assert "成功 2 项" in done.text
    with Session(engine_db) as session:
        comments = session.exec(select(TransitionRecord.comment).where(TransitionRecord.trigger == "send_back")).all()
    assert comments == ["佐证材料不全", "佐证材料不全"]
    assert client.post("/bulk", data={"csrf": token, "trigger": "verify"}).status_code == 422
    assert client.post("/bulk", data={"csrf": "forged", "trigger": "verify", "ids": both}).status_code == 403


def test_leader_signs_several_and_one_by_one_sees_what_is_left(web, engine_db):
    client, ids = web
    codes = ["1-1-1", "1-1-2", "1-1-3"]  # 林长华 signs these alone
    _to(client, engine_db, codes, "self_assessed")
    login(client, "林长华")
    home = client.get("/").text
    assert re.search(r'data-testid="queue-to-sign">待我审签 <b>3</b>', home)
    token = _csrf(home)
    one = client.post(f"/targets/{ids['1-1-1']}/fire", data={"csrf": token, "trigger": "sign", "back": "/",
                                                           "version": re.search(rf'name="v{ids["1-1-1"]}" value="(\d+)"', home).group(1)})
    assert one.status_code == 303 and one.headers["location"].startswith("/?done=")
    assert "待我审签还剩 2 项" in client.get(one.headers["location"]).text
    rest = client.post("/bulk", data={"csrf": token, "trigger": "sign", "ids": [ids["1-1-2"], ids["1-1-3"]]})
    assert "成功 2 项" in rest.text and "领导已审签" in rest.text


def test_score_sheet_scores_rows_with_a_score_or_a_deduction(web, engine_db):
    client, ids = web
    _to(client, engine_db, ["1-1-1", "1-1-2", "1-1-3"], "verified")
    login(client, "绩效办")
    with Session(engine_db) as session:
        t = {c: session.get(Target, ids[c]) for c in ("1-1-1", "1-1-2", "1-1-3")}
        plan_id = t["1-1-1"].plan_id
    page = client.get(f"/plans/{plan_id}/scores")
    assert page.status_code == 200 and "/static/scores.js" in page.text and "满分" in page.text
    token = _csrf(page.text)
    a, b, c = (t[k] for k in ("1-1-1", "1-1-2", "1-1-3"))
    saved = client.post(f"/plans/{plan_id}/scores", data={
        "csrf": token, f"s{a.id}": "1.5", f"r{a.id}": "两项任务未按期完成", f"v{a.id}": a.version,
        f"s{b.id}": "", f"p{b.id}": "0.5", f"r{b.id}": "进度滞后", f"v{b.id}": b.version,
        f"s{c.id}": "", f"p{c.id}": "0.3", f"r{c.id}": "", f"v{c.id}": c.version})
    assert "成功 2 项，未能办理 1 项" in saved.text
    assert "扣分须写明理由" in saved.text and 'value="0.3"' in saved.text  # the refused row keeps what was typed
    with Session(engine_db) as session:
        got = {k: session.get(Target, ids[k]) for k in t}
        assert (got["1-1-1"].state, got["1-1-1"].score) == ("scored", 1.5)
        assert got["1-1-2"].state == "scored" and float(got["1-1-2"].score) == float(b.weight) - 0.5
        assert got["1-1-3"].state == "verified"
        deductions = session.exec(select(TransitionRecord.payload).where(
            TransitionRecord.target_id == b.id, TransitionRecord.trigger == "score")).one()["deductions"]
    assert deductions == [{"points": 0.5, "reason": "进度滞后"}]
    with Session(engine_db) as session:
        why = session.exec(select(TransitionRecord.payload).where(
            TransitionRecord.target_id == a.id, TransitionRecord.trigger == "score")).one()["score_reason"]
    assert why == "两项任务未按期完成"  # a score other than 权重 − Σ扣分 keeps its reason in the chain
