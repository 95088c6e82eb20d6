"""a plan names the workflow its targets run on

Every plan already there runs the shipped ``target`` workflow, as its targets do.

Revision ID: 0020
Revises: 0019
"""
from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('plan', sa.Column('workflow', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False,
                                    server_default='target'))


def downgrade() -> None:
    with op.batch_alter_table('plan') as batch_op:
        batch_op.drop_column('workflow')
