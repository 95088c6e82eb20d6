"""The query plans of the organisation-scoped lists on PostgreSQL (EXPLAIN): the target list, the office's
home queues and the audit list, for a county office (its own organisation) and a city office (reading
its descendants). Builds a database of 101 organisations, 40,000 targets and 80,000 records first.

    KAOPING_BENCH_PG_URL=postgresql+psycopg://postgres@127.0.0.1:5432/kaoping_scope_plans python -P bench/scope_plans.py
"""
from __future__ import annotations

import os
from datetime import date, datetime

from sqlalchemy import insert, text
from sqlalchemy.engine import make_url
from sqlmodel import Session, select

from engine.audit import chain
from engine.calendar import clock
from engine.people import organisations, scope
from engine.people.actors import Actor
from engine.store import schema
from engine.store.db import make_engine
from engine.store.models import Organisation, Plan, Target, TransitionRecord
from engine.workflow import targets

URL = os.environ.get("KAOPING_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/kaoping_scope_plans")
COUNTIES, PER_ORG = 100, 400


def build() -> None:
    name = make_url(URL).database
    admin = make_engine(make_url(URL).set(database="postgres").render_as_string(hide_password=False),
                        isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    schema.upgrade(URL)
    bind = make_engine(URL)
    with Session(bind) as session:
        city = organisations.add(session=session, name="泉州市教育局")
        orgs = [city] + [organisations.add(session=session, name=f"县区{i}", parent=city.name, kind="county")
                         for i in range(COUNTIES)]
        now = clock.to_db(clock.now())
        target_rows, record_rows, next_id = [], [], 1
        for o in orgs:
            plan = Plan(org_id=o.id, org=o.name, year=2024, title="2024")
            session.add(plan)
            session.flush()
            for n in range(PER_ORG):
                target_rows.append(dict(plan_id=plan.id, org_id=o.id, code=f"{n}", text="目标", weight=1,
                                        state=("assigned", "in_progress", "leader_signed", "verified")[n % 4],
                                        state_due=date(2024, 1 + n % 12, 1), workflow="target", version=1,
                                        category="", indicator="", basis="", deadline_phrase="", entry=1,
                                        escalation_level=0, supervised=n % 50 == 0, progress=0, extra_columns={},
                                        checkpoints=[], rollup="", state_entered_at=now, created_at=now,
                                        updated_at=now))
        session.execute(insert(Target), target_rows)
        ids = session.execute(select(Target.id, Target.org_id)).all()
        for target_id, org_id in ids:
            for _ in range(2):
                record_rows.append(dict(id=next_id, target_id=target_id, org_id=org_id, kind="transition",
                                        actor="x", role="staff", trigger="start", at=now, comment="", payload={},
                                        prev_hash="0", hash=f"{next_id:064d}"))
                next_id += 1
        session.execute(insert(TransitionRecord), record_rows)
        session.commit()
    with bind.connect() as conn:
        conn.execute(text("ANALYZE"))
        conn.commit()
    bind.dispose()


def explain(session: Session, title: str, query) -> None:
    compiled = query.compile(session.get_bind(), compile_kwargs={"literal_binds": True})
    plan = session.execute(text(f"EXPLAIN (ANALYZE, BUFFERS OFF, TIMING OFF) {compiled}")).scalars().all()
    print(f"--- {title}")
    print("\n".join(plan))


def main() -> None:
    build()
    bind = make_engine(URL)
    with Session(bind) as session:
        city = session.exec(select(Organisation).where(Organisation.parent_id.is_(None))).one()
        county = session.exec(select(Organisation).where(Organisation.parent_id == city.id)).first()
        for who, org in (("county office", county), ("city office (reads 100 descendants)", city)):
            actor = Actor("绩效办", frozenset({"office"}), org_id=org.id)
            found = scope.of(session, actor)
            base = select(Target).where(scope.targets(found))
            explain(session, f"{who}: target list, state filter, first page",
                    base.where(Target.state == "verified").order_by(Target.state_due, Target.id).limit(50))
            explain(session, f"{who}: home queue 待核验 (own organisation)",
                    select(Target).where(scope.acting(found, Target.org_id), Target.workflow == "target",
                                         Target.state == "leader_signed")
                    .order_by(Target.state_due, Target.id).limit(100))
            explain(session, f"{who}: audit list, keyset page",
                    chain._filtered(chain.AuditFilter(within=scope.records(found)))
                    .where(TransitionRecord.id > 1000).order_by(TransitionRecord.id).limit(50))
    bind.dispose()


if __name__ == "__main__":
    with clock.frozen(datetime(2024, 6, 3, 9, 0)):
        main()
