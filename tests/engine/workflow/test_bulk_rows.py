"""Targets written in bulk (Core rows) are the same rows, with the same creation records, as targets made one by one."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import select

from engine.audit import chain, ledger, replay
from engine.people.actors import Parties
from engine.store.models import Assignment, Target, TransitionRecord
from engine.workflow import targets
from tests import factories as f

FIELDS = {"text": "新增学位2.5万个", "weight": Decimal("2.50"), "due_date": date(2024, 11, 30),
          "deadline_phrase": "3月25日、11月底前", "category": "重点工作目标", "indicator": "学位扩容",
          "indicator_points": Decimal("12.50"), "basis": "市政府工作报告", "extra_columns": {"备注": "含民办", "考评依据": ""},
          "checkpoints": ["2024-03-25"]}
PARTIES = Parties(("规划科", "组织科", "规划科"), ("林长华",), ("洪玮玮", ""))


def _row(session, table, **where):
    query = select(table).where(*(table.c[k] == v for k, v in where.items()))
    return dict(session.connection().execute(query).mappings().one())


def test_a_bulk_target_is_the_row_and_record_one_made_alone_would_be(session, frozen):
    plan = f.plan(session)
    alone = targets.create(session=session, plan_id=plan.id, code="A-1", sections=PARTIES.sections,
                           leaders=PARTIES.leaders, persons=PARTIES.persons, actor="管理员", role="admin",
                           comment="导入计划", **FIELDS)
    values = targets.new_rows(session, plan_id=plan.id, org_id=plan.org_id, workflow="target",
                              items=[{"code": "B-1", **FIELDS}, {"code": "B-2", **FIELDS}])
    ids = targets.insert_rows(session, values)
    assert ids == [v["id"] for v in values] and ids[0] < ids[1]
    record_ids = ledger.created_rows(session, values, actor="管理员", role="admin", comment="导入计划")
    targets.insert_assignments(session, [r for key in ids for r in targets.assignment_rows(key, PARTIES)])
    session.commit()

    table = Target.__table__
    one, bulk = _row(session, table, id=alone.id), _row(session, table, id=ids[0])
    different = {k for k in one if one[k] != bulk[k]}
    assert different == {"id", "code"}, {k: (one[k], bulk[k]) for k in different}
    assert bulk["extra_columns"] == {"备注": "含民办", "考评依据": ""} and bulk["weight"] == Decimal("2.50")
    assert bulk["state"] == "assigned" and bulk["state_due"] == date(2024, 11, 30)

    records = TransitionRecord.__table__
    first = _row(session, records, target_id=alone.id)
    made = [_row(session, records, id=key) for key in record_ids]
    assert [r["target_id"] for r in made] == ids
    assert [r["seq"] for r in made] == [first["seq"] + 1, first["seq"] + 2]
    assert made[0]["prev_hash"] == first["hash"] and made[1]["prev_hash"] == made[0]["hash"]
    same = ("org_id", "kind", "actor", "role", "trigger", "from_state", "to_state", "at", "comment")
    assert [first[k] for k in same] == [made[0][k] for k in same]
    assert made[0]["payload"] == {**first["payload"], "after": {**first["payload"]["after"], "code": "B-1"}}

    def parties(key):
        return session.exec(select(Assignment.kind, Assignment.name, Assignment.position)
                            .where(Assignment.target_id == key).order_by(Assignment.kind, Assignment.position)).all()
    assert parties(ids[0]) == parties(alone.id) == [("leader", "林长华", 0), ("person", "洪玮玮", 0),
                                                     ("section", "规划科", 0), ("section", "组织科", 1)]
    assert chain.verify(session).ok and replay.verify(session=session).ok


def test_nothing_to_write_writes_nothing(session):
    plan = f.plan(session)
    before = chain.heads(session.connection(), [plan.org_id])
    assert targets.insert_rows(session, []) == [] and chain.extend_rows(session, []) == []
    targets.insert_assignments(session, [])
    assert chain.heads(session.connection(), [plan.org_id]) == before


def test_a_new_target_takes_the_columns_of_a_new_row(session, frozen):
    plan = f.plan(session)
    alone = targets.new(session=session, plan_id=plan.id, code="C-1", workflow="target", **FIELDS)
    (row,) = targets.new_rows(session, plan_id=plan.id, org_id=plan.org_id, workflow="target",
                              items=[{"code": "C-1", **FIELDS}])
    assert {c.name: getattr(alone, c.name) for c in Target.__table__.columns if c.name != "id"} == row
    assert alone.org_id == plan.org_id and alone.state_due == date(2024, 11, 30) and alone.id is None
