"""the organisation of each transition record, so that audit lists are scoped by one index

Revision ID: 0020
Revises: 0015

A target's records belong to the target's organisation; with a single organisation (a database
upgraded from before organisations) every other record belongs to it too. Records of no
organisation are read by the roots of the tree.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0020'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('transitionrecord') as batch_op:
        batch_op.add_column(sa.Column('org_id', sa.Integer(), nullable=True))
    op.execute("UPDATE transitionrecord SET org_id = (SELECT target.org_id FROM target "
               "WHERE target.id = transitionrecord.target_id) WHERE target_id IS NOT NULL")
    op.execute("UPDATE transitionrecord SET org_id = (SELECT min(id) FROM organisation) "
               "WHERE org_id IS NULL AND (SELECT count(*) FROM organisation) = 1")
    op.create_index('ix_transitionrecord_org_id', 'transitionrecord', ['org_id', 'id'])


def downgrade() -> None:
    op.drop_index('ix_transitionrecord_org_id', 'transitionrecord')
    with op.batch_alter_table('transitionrecord') as batch_op:
        batch_op.drop_column('org_id')
