"""Admin pages and the own password change, through the app in process: audited, errors beside the field."""
from __future__ import annotations

from sqlmodel import Session, select

from engine.audit import chain
from engine.people import users
from engine.store.models import Section, TransitionRecord, User
from tests.api.test_pages import _csrf, login, web  # noqa: F401  (the fixture)


def _records(engine_db, trigger):
    with Session(engine_db) as session:
        return session.exec(select(TransitionRecord).where(TransitionRecord.trigger == trigger)).all()


def test_admin_adds_a_section_and_a_user_who_logs_in(web, engine_db):
    client, _ = web
    login(client, "管理员")
    assert client.get("/").headers["location"] == "/admin/users"
    page = client.get("/admin/users")
    assert page.status_code == 200 and "新增用户" in page.text
    token = _csrf(page.text)
    added = client.post("/admin/sections", data={"csrf": token, "name": "信息安全科"})
    assert added.status_code == 303
    assert "信息安全科" in client.get("/admin/sections").text
    again = client.post("/admin/sections", data={"csrf": token, "name": "信息安全科"})
    assert again.status_code == 409 and "已存在" in again.text and 'value="信息安全科"' in again.text
    short = client.post("/admin/users", data={"csrf": token, "name": "王新", "roles": ["staff"], "sections": ["信息安全科"],
                                              "password": "short"})
    assert short.status_code == 422 and "至少 8 位" in short.text and 'value="王新"' in short.text
    made = client.post("/admin/users", data={"csrf": token, "name": "王新", "roles": ["staff"], "sections": ["信息安全科"],
                                             "password": "xin-2024-pass"})
    assert made.status_code == 303 and "已新增用户" in client.get(made.headers["location"]).text
    with Session(engine_db) as session:
        user = session.exec(select(User).where(User.login == "王新")).one()
        assert users.sections_of(session, [user.id])[user.id] == ["信息安全科"]
        assert chain.verify(session).ok
    [record] = [r for r in _records(engine_db, "user_add") if r.payload["user"] == "王新"]
    assert record.actor == "管理员" and record.payload["sections"] == ["信息安全科"] and "xin-2024" not in str(record.payload)
    [added] = _records(engine_db, "section_add")
    assert added.payload["section"] == "信息安全科" and added.org_id == added.payload["org_id"] is not None
    client.cookies.clear()
    assert login(client, "王新", "xin-2024-pass").headers["location"] == "/"


def test_admin_edits_roles_resets_a_password_and_disables(web, engine_db):
    client, _ = web
    login(client, "管理员")
    with Session(engine_db) as session:
        uid = session.exec(select(User).where(User.login == "洪玮玮")).one().id
    page = client.get(f"/admin/users/{uid}")
    token = _csrf(page.text)
    assert client.post(f"/admin/users/{uid}", data={"csrf": token, "what": "edit", "roles": [], "sections": []}).status_code == 422
    saved = client.post(f"/admin/users/{uid}", data={"csrf": token, "what": "edit", "roles": ["staff", "leader"],
                                                     "sections": ["规划科"], "new_sections": "信息安全科"})
    assert saved.status_code == 303
    [update] = _records(engine_db, "user_update")
    assert update.payload["roles"] == {"from": ["staff"], "to": ["staff", "leader"]}
    assert update.payload["sections"]["to"] == ["信息安全科", "规划科"]
    assert client.post(f"/admin/users/{uid}", data={"csrf": token, "what": "password", "password": "new-pass-2024"}).status_code == 303
    assert client.post(f"/admin/users/{uid}", data={"csrf": token, "what": "disable"}).status_code == 303
    assert [r.trigger for r in _records(engine_db, "password_reset") + _records(engine_db, "user_disable")] == \
        ["password_reset", "user_disable"]
    with Session(engine_db) as session:
        assert session.get(User, uid).active is False
        assert session.exec(select(Section).where(Section.name == "信息安全科")).first() is not None


def test_only_the_admin_sees_the_admin_pages(web):
    client, _ = web
    login(client, "洪玮玮")
    assert client.get("/admin/users").status_code == 403
    assert client.get("/admin/sections").status_code == 403


def test_a_user_changes_their_own_password(web, engine_db):
    client, _ = web
    from engine.plans.demo import DEMO_PASSWORD

    login(client, "洪玮玮")
    page = client.get("/account/password")
    token = _csrf(page.text)
    wrong = client.post("/account/password", data={"csrf": token, "current": "nope", "new": "hong-2024-x", "again": "hong-2024-x"})
    assert wrong.status_code == 422 and "当前密码不正确" in wrong.text and 'id="err-current"' in wrong.text
    mismatch = client.post("/account/password", data={"csrf": token, "current": DEMO_PASSWORD, "new": "hong-2024-x",
                                                       "again": "hong-2024-y"})
    assert mismatch.status_code == 422 and "不一致" in mismatch.text
    done = client.post("/account/password", data={"csrf": token, "current": DEMO_PASSWORD, "new": "hong-2024-x",
                                                   "again": "hong-2024-x"})
    assert done.headers["location"] == "/login?done=password"
    assert client.get("/").status_code == 303  # this session ended with the old password
    assert "请用新密码重新登录" in client.get("/login?done=password").text
    assert login(client, "洪玮玮").status_code == 401
    assert login(client, "洪玮玮", "hong-2024-x").status_code == 303
    assert _records(engine_db, "password_change")[0].actor == "洪玮玮"
