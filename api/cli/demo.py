"""``kaoping demo``: the shipped 2024 plan and its people on an embedded SQLite database."""
from __future__ import annotations

from rich.console import Console
from rich.table import Table
from sqlmodel import Session

from engine.audit import chain
from engine.store import schema
from engine.store.config import settings
from engine.store.db import make_engine
from engine.plans.demo import DEMO_PASSWORD, STAFF_USERS, people, set_up


def run(console: Console) -> None:
    """Set up the demo database (once) and print what it holds, saying what it does meanwhile."""
    console.print("1/4 建立或升级数据库……")
    schema.upgrade()
    bind = make_engine()
    with Session(bind, expire_on_commit=False) as session:
        console.print("2/4 导入内置计划并添加演示用户（首次约需半分钟）……")
        state = set_up(session)
        console.print("3/4 整理人员名单……")
        everyone = people(session, state.plan.id)
        console.print("4/4 校验审计链……")
        check = chain.verify(session)
    bind.dispose()
    console.print(f"数据库：{settings().database_url}")
    console.print(f"计划：{state.plan.title}（{'已导入' if state.imported else '已存在'}）")
    table = Table(title=f"演示用户（密码均为 {DEMO_PASSWORD}）")
    for column in ("用户名", "角色", "科室"):
        table.add_column(column)
    for name, (role, sections) in sorted(everyone.items(), key=lambda kv: (kv[1][0], kv[0])):
        table.add_row(name, {"leader": "分管领导", "staff": "科室"}[role], "、".join(sorted(sections)))
    for name, roles in STAFF_USERS.items():
        table.add_row(name, {"office": "绩效办", "auditor": "审计", "admin": "管理员"}[roles[0]], "")
    console.print(table)
    levels = Table(title="区县教育局的演示用户（登录名；密码相同）")
    for column in ("单位", "登录名", "角色", "科室"):
        levels.add_column(column)
    for district, logins in (state.districts or {}).items():
        for login, role, section in logins:
            levels.add_row(district, login, {"office": "绩效办", "leader": "分管领导", "staff": "科室"}[role], section)
    console.print(levels)
    console.print(f"审计链：{'完整' if check.ok else '校验失败'}，共 {check.count} 条记录")
