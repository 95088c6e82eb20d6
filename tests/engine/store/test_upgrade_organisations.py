"""A single-organisation database from before organisations (revision 0014) upgrades to one organisation,
named after its plan, and its people log in and act exactly as before."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import Session, select

from engine.audit import chain
from engine.people import accounts, organisations, users
from engine.people.actors import actor_for
from engine.store import schema
from engine.store.db import make_engine
from engine.store.models import Organisation, Plan, Section, Target, TransitionRecord, User
from engine.workflow import commands, targets
from engine.scoring import dashboard

PASSWORD = "correct-horse-9"


def _fill_at_0014(url: str) -> dict[str, int]:
    """A plan of 泉州市教育局 with one target of 规划科, its staff member and leader, the office."""
    schema.upgrade(url, revision="0014")
    bind = make_engine(url)
    now = datetime(2024, 6, 3, 1, 0)
    hashed = users.hash_password(PASSWORD)
    with bind.begin() as connection:
        tables = sa.MetaData()
        tables.reflect(connection, only=["plan", "target", "assignment", "section", "user", "usersection"])

        def row(table: str, **values) -> int:
            return connection.execute(sa.insert(tables.tables[table]).values(**values)).inserted_primary_key[0]

        plan_id = row("plan", org="泉州市教育局", year=2024, title="2024年度", timezone="Asia/Shanghai", categories={},
                      scoring={}, created_at=now)
        target_id = row("target", plan_id=plan_id, workflow="target", code="1-1", text="学位扩容", weight=Decimal(100),
                        state="assigned", version=1, category="", indicator="", basis="", deadline_phrase="12月底前",
                        due_date=date(2024, 12, 31), state_due=date(2024, 12, 31), state_entered_at=now, entry=1,
                        escalation_level=0, supervised=False, progress=0, created_at=now, updated_at=now,
                        extra_columns={}, checkpoints=[])
        for kind, name in (("section", "规划科"), ("leader", "林长华"), ("person", "洪玮玮")):
            row("assignment", target_id=target_id, kind=kind, name=name, position=0)
        section_id = row("section", name="规划科")
        people = {}
        for name, roles in (("洪玮玮", ["staff"]), ("林长华", ["leader"]), ("绩效办", ["office"])):
            people[name] = row("user", name=name, roles=roles, active=True, failed_logins=0, created_at=now,
                               password_hash=hashed)
        row("usersection", user_id=people["洪玮玮"], section_id=section_id)
    bind.dispose()
    return {"plan": plan_id, "target": target_id, **people}


def test_a_single_organisation_database_upgrades_and_its_people_work_as_before(blank_url):
    ids = _fill_at_0014(blank_url)
    schema.upgrade(blank_url)
    bind = make_engine(blank_url)
    try:
        with Session(bind, expire_on_commit=False) as session:
            only = organisations.listing(session)
            assert [(o.name, o.parent_id) for o in only] == [("泉州市教育局", None)]
            org_id = only[0].id
            assert {u.login for u in session.exec(select(User))} == {"洪玮玮", "林长华", "绩效办"}
            assert {u.org_id for u in session.exec(select(User))} == {org_id}
            assert session.get(Plan, ids["plan"]).org_id == org_id
            assert session.get(Target, ids["target"]).org_id == org_id
            assert [s.org_id for s in session.exec(select(Section))] == [org_id]

            # They log in with the names they had.
            attempt = accounts.admit(session=session, name="洪玮玮", client="127.0.0.1")
            assert accounts.verify(attempt, PASSWORD) and attempt.user_id == ids["洪玮玮"]

            staff, leader, office = (actor_for(session, n) for n in ("洪玮玮", "林长华", "绩效办"))
            assert staff.org_id == org_id and staff.sections == frozenset({"规划科"})
            # They see what they saw: the staff member's home, the office's list.
            home = dashboard.staff_home(session, staff)
            assert [i.target.code for q in home["queues"] for i in q.items] == ["1-1"]
            listed, count = targets.search(session=session, filters=targets.TargetFilter(), limit=50, offset=0,
                                           actor=office)
            assert count == 1 and listed[0].code == "1-1"
            assert targets.get(session=session, target_id=ids["target"], actor=leader).code == "1-1"
            # And they act as before, through the one door, and the records belong to their organisation.
            fired = commands.fire(session=session, target_id=ids["target"], trigger="start", actor=staff)
            assert fired.target.state == "in_progress"
            record = session.exec(select(TransitionRecord).order_by(TransitionRecord.id.desc())).first()
            assert (record.trigger, record.org_id) == ("start", org_id)
            assert chain.verify(session).ok
            # A second organisation added later sees none of it.
            second = organisations.add(session=session, name="厦门市教育局")
            session.commit()
            assert session.exec(select(Organisation).where(Organisation.id == second.id)).one().path == f"{second.id}/"
    finally:
        bind.dispose()
