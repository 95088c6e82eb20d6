"""Upgrading a database that holds data: the baseline records make its current state the replay's start."""
from __future__ import annotations

from datetime import date
from types import SimpleNamespace
from decimal import Decimal
from types import SimpleNamespace

import pytest
from alembic import command
from alembic.script import ScriptDirectory
import sqlalchemy as sa
from sqlalchemy import text
from sqlmodel import Session

from engine.audit import chain, replay
from engine.store import schema
from engine.store.db import make_engine
from engine.calendar import clock
from engine.store.models import Milestone, Signature
from tests.conftest import blank_database


#: The revision just before the baseline (0013): the newest schema without it.
BEFORE_BASELINE = ScriptDirectory.from_config(schema.alembic_config("sqlite://")).get_revision("0013").down_revision


def _legacy(url: str) -> None:
    """A database just before 0013 with a plan, a signed target, a user in a section, and a record without ``after``."""
    command.upgrade(schema.alembic_config(url), BEFORE_BASELINE)
    bind = make_engine(url)
    with Session(bind) as session:
        # That schema is older than the models: its rows go in through the tables as they were then.
        tables = sa.MetaData()
        tables.reflect(session.connection(), only=["plan", "target", "section", "user", "usersection",
                                                   "transitionrecord"])
        now = clock.to_db(clock.now())

        def row(table: str, **values) -> int:
            return session.execute(sa.insert(tables.tables[table]).values(**values)).inserted_primary_key[0]

        plan_id = row("plan", org="泉州市教育局", year=2024, title="2024年度", timezone="Asia/Shanghai", categories={},
                      scoring={}, created_at=now)
        session.add(Milestone(plan_id=plan_id, key="evaluation", label="评估", due_date=date(2025, 1, 10)))
        target_id = row("target", plan_id=plan_id, workflow="target", code="1-1", text="目标", weight=Decimal(2),
                        state="leader_signed", version=4, self_score=Decimal("1.5"), category="", indicator="",
                        basis="", deadline_phrase="", state_entered_at=now, entry=1, escalation_level=0,
                        supervised=False, progress=0, created_at=now, updated_at=now)
        section_id = row("section", name="规划科")
        user_id = row("user", name="洪玮玮", roles=["staff"], active=True, failed_logins=0, created_at=now)
        row("usersection", user_id=user_id, section_id=section_id)
        # The one chain of that schema, whose places were the records' ids.
        record = {"id": 1, "target_id": target_id, "kind": "transition", "actor": "林长华", "role": "leader",
                  "trigger": "sign", "from_state": "self_assessed", "to_state": "leader_signed", "at": now,
                  "comment": "", "payload": {}, "prev_hash": chain.GENESIS}
        record["hash"] = chain.digest(SimpleNamespace(**record))
        row("transitionrecord", **record)
        session.execute(text("UPDATE chainhead SET count = 1, last_id = 1, last_hash = :h WHERE id = 1"),
                        {"h": record["hash"]})
        session.add(Signature(target_id=target_id, signer="林长华", record_id=1))
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


@pytest.mark.postgres
def test_upgrading_postgres_with_data(tmp_path):
    _check(blank_database("postgres", tmp_path, "legacy"))
