"""The inbox page: filters that stay in the URL, and 全部已读."""
from __future__ import annotations

from sqlmodel import Session, select

from engine.people.actors import Actor
from engine.store.models import Target
from engine.workflow.commands import fire

from engine.store.config import Settings
from notifications import dispatch
from tests.api.plan_states import bring
from tests.api.test_pages import _csrf, login, web  # noqa: F401  (the fixture)


def test_filters_and_mark_all_read(web, engine_db):
    client, _ = web
    with Session(engine_db) as session:
        bring(session, ["1-1-1", "1-1-2"], "self_assessed")  # 林长华 is told twice
    dispatch.dispatch(engine_db, Settings(smtp_host="", webhook_url=""))
    login(client, "林长华")
    page = client.get("/inbox")
    assert "未读 2 条" in page.text and 'data-testid="read-all"' in page.text
    narrowed = client.get("/inbox", params={"q": "1-1-2", "unread_only": "true"})
    assert "共 1 条" in narrowed.text and 'value="1-1-2"' in narrowed.text
    done = client.post("/inbox/read-all", data={"csrf": _csrf(page.text)})
    assert done.status_code == 303
    after = client.get(done.headers["location"])
    assert "已将 2 条消息标为已读" in after.text and "未读 0 条" in after.text
    assert "共 0 条" in client.get("/inbox", params={"unread_only": "true"}).text
    assert client.post("/inbox/read-all", data={"csrf": "forged"}).status_code == 403


def test_messages_about_finished_work_are_marked_done_and_can_be_left_out(web, engine_db):
    client, _ = web
    with Session(engine_db) as session:
        bring(session, ["1-1-1", "1-1-2"], "self_assessed")
    dispatch.dispatch(engine_db, Settings(smtp_host="", webhook_url=""))
    with Session(engine_db) as session:  # 林长华 signs 1-1-1: that message is done
        target = session.exec(select(Target).where(Target.code == "1-1-1", Target.parent_id.is_(None))).one()
        fire(session=session, target_id=target.id, trigger="sign", actor=Actor("林长华", frozenset({"leader"})))
    login(client, "林长华")
    page = client.get("/inbox").text
    assert page.count('data-testid="done"') == 1 and "已办结" in page
    left = client.get("/inbox", params={"open_only": "true"}).text
    assert "共 1 条" in left and "1-1-2" in left and 'data-testid="done"' not in left
    assert 'name="open_only" value="true" checked' in left  # the filter stays in the form and the URL


def test_a_user_chooses_the_daily_digest_on_the_inbox_page(web, engine_db):
    from engine.people import inbox
    from engine.store.models import User

    client, _ = web
    login(client, "林长华")
    page = client.get("/inbox").text
    assert 'name="daily" value="false" checked' in page and "每日汇总一封（08:30 发送）" in page
    done = client.post("/inbox/digest", data={"csrf": _csrf(page), "daily": "true"})
    assert done.status_code == 303
    assert "今后每天汇总一封邮件" in client.get(done.headers["location"]).text
    with Session(engine_db) as session:
        user = session.exec(select(User).where(User.login == "林长华")).one()
        assert inbox.takes_digest(session=session, user_id=user.id)
    assert 'name="daily" value="true" checked' in client.get("/inbox").text
    assert client.post("/inbox/digest", data={"csrf": "forged", "daily": "false"}).status_code == 403
