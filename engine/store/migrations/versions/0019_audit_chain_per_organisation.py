"""an audit chain per organisation, and a deployment chain for what belongs to no organisation

Each chain has its head row (``chainhead.id`` is the organisation's id, 0 for the deployment
chain) and numbers its records itself (``transitionrecord.seq``); a record's ``id`` is now only
its key, unique in the deployment, given by the database. Every record already there becomes
the first organisation's chain unchanged: its place was its id, so ``seq = id`` and every hash
still verifies (the hash covers the place in the chain, which is the same number). Checkpoints
already signed belong to that chain too.

Revision ID: 0019
Revises: 0018
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def _first_organisation(bind) -> int | None:
    return bind.execute(sa.text("SELECT min(id) FROM organisation")).scalar()


def upgrade() -> None:
    bind = op.get_bind()
    first = _first_organisation(bind)
    legacy = 0 if first is None else first  # records of a database without organisations are the deployment's
    op.add_column('transitionrecord', sa.Column('org_id', sa.Integer(), nullable=False, server_default='0'))
    op.add_column('transitionrecord', sa.Column('seq', sa.Integer(), nullable=False, server_default='0'))
    op.execute(sa.text("UPDATE transitionrecord SET org_id = :org, seq = id").bindparams(org=legacy))
    op.create_index('ix_transitionrecord_chain', 'transitionrecord', ['org_id', 'seq'], unique=True)
    if bind.dialect.name == 'postgresql':  # SQLite numbers an INTEGER PRIMARY KEY itself
        op.execute("CREATE SEQUENCE transitionrecord_id_seq OWNED BY transitionrecord.id")
        op.execute("SELECT setval('transitionrecord_id_seq', coalesce((SELECT max(id) FROM transitionrecord), 0) + 1, false)")
        op.execute("ALTER TABLE transitionrecord ALTER COLUMN id SET DEFAULT nextval('transitionrecord_id_seq')")

    head = bind.execute(sa.text("SELECT count FROM chainhead WHERE id = 1")).first()
    if head is not None and head.count == 0 and first is None:
        op.execute("DELETE FROM chainhead WHERE id = 1")  # heads are made when a chain gets its first record
    elif head is not None and legacy != 1:
        op.execute(sa.text("UPDATE chainhead SET id = :org WHERE id = 1").bindparams(org=legacy))

    op.add_column('auditcheckpoint', sa.Column('org_id', sa.Integer(), nullable=False, server_default='0'))
    op.add_column('auditcheckpoint', sa.Column('prev', sa.String(length=64), nullable=True))
    op.execute(sa.text("UPDATE auditcheckpoint SET org_id = :org").bindparams(org=legacy))


def downgrade() -> None:
    bind = op.get_bind()
    chains = bind.execute(sa.text("SELECT count(DISTINCT org_id) FROM transitionrecord")).scalar()
    if chains and chains > 1:
        raise RuntimeError("several organisations have audit chains of their own: they cannot become one chain again")
    op.drop_column('auditcheckpoint', 'prev')
    op.drop_column('auditcheckpoint', 'org_id')
    op.execute("UPDATE chainhead SET id = 1")
    if bind.dialect.name == 'postgresql':
        op.execute("ALTER TABLE transitionrecord ALTER COLUMN id DROP DEFAULT")
        op.execute("DROP SEQUENCE transitionrecord_id_seq")
    op.drop_index('ix_transitionrecord_chain', 'transitionrecord')
    with op.batch_alter_table('transitionrecord') as batch_op:
        batch_op.drop_column('seq')
        batch_op.drop_column('org_id')
