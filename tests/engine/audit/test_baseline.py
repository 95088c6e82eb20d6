"""Upgrading a database that holds data: the baseline records make its current state the replay's start."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, Table, text
from sqlmodel import Session

from engine.audit import chain, replay
from engine.store import schema
from engine.store.db import make_engine
from engine.store.models import Milestone, Plan, Section, Signature, Target, User, UserSection
from tests.conftest import pg_url


#: The revision just before the baseline (0013): the newest schema without it.
#: Target columns added after 0013.
LATER = ("workflow_version",)
BEFORE_BASELINE = ScriptDirectory.from_config(schema.alembic_config("sqlite://")).get_revision("0013").down_revision


def _legacy(url: str) -> None:
    """A database just before 0013 with a plan, a signed target, a user in a section, and a record without ``after``."""
    command.upgrade(schema.alembic_config(url), BEFORE_BASELINE)
    bind = make_engine(url)
    with Session(bind) as session:
        plan = Plan(org="泉州市教育局", year=2024, title="2024年度")
        session.add(plan)
        session.flush()
        session.add(Milestone(plan_id=plan.id, key="evaluation", label="评估", due_date=date(2025, 1, 10)))
        target = Target(plan_id=plan.id, code="1-1", text="目标", weight=Decimal(2), state="leader_signed",
                        version=4, self_score=Decimal("1.5"))
        # The table as this revision has it: without the columns later revisions add.
        legacy = Table("target", MetaData(), *[c._copy() for c in Target.__table__.columns if c.name not in LATER])
        values = {c.name: getattr(target, c.name) for c in legacy.columns if c.name != "id"}
        target.id = session.execute(legacy.insert().values(values)).inserted_primary_key[0]
        section = Section(name="规划科")
        user = User(name="洪玮玮", roles=["staff"])
        session.add_all([section, user])
        session.flush()
        session.add(UserSection(user_id=user.id, section_id=section.id))
        record = chain.append(session, target_id=target.id, kind="transition", actor="林长华", role="leader",
                              trigger="sign", from_state="self_assessed", to_state="leader_signed",
                              at=target.created_at, comment="", payload={})
        session.add(Signature(target_id=target.id, signer="林长华", record_id=record.id))
        session.commit()
    bind.dispose()


def _check(url: str) -> None:
    _legacy(url)
    schema.upgrade(url)
    bind = make_engine(url)
    with Session(bind) as session:
        check = replay.verify(session=session)
        assert check.ok, check.lines
        assert check.count == 4  # the old record, then the target, the user and the plan as they were
        session.execute(text("UPDATE target SET state = 'verified'"))
        session.commit()
        assert "状态 记录为 'leader_signed'" in replay.verify(session=session).differences[0]
    bind.dispose()


def test_upgrading_sqlite_with_data(tmp_path):
    _check(f"sqlite:///{tmp_path / 'legacy.db'}")


def test_upgrading_postgres_with_data(_pg_database):
    url = pg_url("kaoping_test_auditor_legacy")
    admin = make_engine(pg_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("DROP DATABASE IF EXISTS kaoping_test_auditor_legacy WITH (FORCE)"))
        conn.execute(text("CREATE DATABASE kaoping_test_auditor_legacy"))
    try:
        _check(url)
    finally:
        with admin.connect() as conn:
            conn.execute(text("DROP DATABASE IF EXISTS kaoping_test_auditor_legacy WITH (FORCE)"))
        admin.dispose()
