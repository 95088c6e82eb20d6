"""workflow deployments; targets run on a version of their workflow

Every deployed definition is kept with its version, its source and who deployed it; a target
names the version it runs on (existing targets: version 1, the shipped definitions).

Revision ID: 0017
Revises: 0016
"""
from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deployment",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("workflow", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("format", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("definition", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("checksum", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("deployed_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("deployed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.UniqueConstraint("workflow", "version", name="uq_deployment_workflow_version"),
    )
    with op.batch_alter_table("target") as batch:
        batch.add_column(sa.Column("workflow_version", sa.Integer(), nullable=False, server_default="1"))


def downgrade() -> None:
    with op.batch_alter_table("target") as batch:
        batch.drop_column("workflow_version")
    op.drop_table("deployment")
