"""audit checkpoints; a baseline record of every object a database already holds

Revision ID: 0013
Revises: 0012

From this revision on ``audit verify`` replays the chain against the tables. A database that
already holds targets, users and plans gets one ``baseline`` record per object, stating its
state at the upgrade, so that the replay starts from what was there.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from types import SimpleNamespace

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('auditcheckpoint',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('length', sa.Integer(), nullable=False),
    sa.Column('last_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('at', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('state_digest', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('signature', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('key_fingerprint', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    _baseline(op.get_bind())


def _baseline(bind) -> None:
    from engine.audit import offline_verifier as core

    meta = sa.MetaData()
    names = ("target", "signature", "user", "usersection", "section", "milestone", "evidence", "transitionrecord",
             "chainhead")
    tables = {name: sa.Table(name, meta, autoload_with=bind) for name in names}
    head = bind.execute(sa.select(tables["chainhead"])).first()
    if head is None:
        return
    t, place, prev = tables, head.last_id, head.last_hash or core.GENESIS
    at = datetime.now(timezone.utc)
    rows = []

    def add(**fields) -> None:
        nonlocal place, prev
        place += 1
        item = {"id": place, "prev_hash": prev, "at": at, "actor": "系统", "role": "system", "trigger": "baseline",
                "comment": "升级时的现有状态", "from_state": None, "to_state": None, "target_id": None, **fields}
        item["hash"] = core.digest(SimpleNamespace(**item))
        prev = item["hash"]
        rows.append(item)

    signed: dict[int, list[str]] = {}
    for target_id, signer in bind.execute(sa.select(t["signature"].c.target_id, t["signature"].c.signer)):
        signed.setdefault(target_id, []).append(signer)
    files: dict[int, list[dict]] = {}
    for row in bind.execute(sa.select(t["evidence"].c.id, t["evidence"].c.target_id, t["evidence"].c.filename,
                                      t["evidence"].c.sha256)):
        files.setdefault(row.target_id, []).append({"id": row.id, "name": row.filename, "sha256": row.sha256})
    for row in bind.execute(sa.select(t["target"]).order_by(t["target"].c.id)):
        after = {"state": row.state, "version": row.version, "self_score": core.points(row.self_score),
                 "score": core.points(row.score), "supervised": bool(row.supervised),
                 "escalation_level": row.escalation_level, "plan_id": row.plan_id, "code": row.code,
                 "signed": signed.get(row.id, [])}
        add(target_id=row.id, kind="creation", to_state=row.state,
            payload={"after": after, "evidence": files.get(row.id, [])})
    sections: dict[int, list[str]] = {}
    for user_id, name in bind.execute(sa.select(t["usersection"].c.user_id, t["section"].c.name)
                                      .join(t["section"], t["section"].c.id == t["usersection"].c.section_id)):
        sections.setdefault(user_id, []).append(name)
    for row in bind.execute(sa.select(t["user"]).order_by(t["user"].c.id)):
        roles = row.roles if isinstance(row.roles, list) else json.loads(row.roles)
        add(kind="user", payload={"user": row.name, "changes": [], "after": {
            "roles": sorted(roles), "sections": sorted(sections.get(row.id, [])), "active": bool(row.active)}})
    plans: dict[int, dict[str, str]] = {}
    for row in bind.execute(sa.select(t["milestone"])):
        due = row.due_date if not isinstance(row.due_date, str) else datetime.fromisoformat(row.due_date).date()
        plans.setdefault(row.plan_id, {})[row.key] = due.isoformat()
    for plan_id, milestones in sorted(plans.items()):
        add(kind="plan", payload={"plan_id": plan_id, "milestones": milestones})
    if rows:
        bind.execute(sa.insert(t["transitionrecord"]), rows)
        bind.execute(sa.update(t["chainhead"]).values(count=head.count + len(rows), last_id=place, last_hash=prev))


def downgrade() -> None:
    op.drop_table('auditcheckpoint')
