"""target list order by index; trigram text search on PostgreSQL

The target list's default order (the due date of the current state, undated last, then id)
gets an index on exactly that expression, so a page reads only its rows. On PostgreSQL with
pg_trgm available, code, text and indicator get trigram indexes, which ILIKE '%…%' uses;
without pg_trgm the search works as before, by scanning.

Revision ID: 0014
Revises: 0013
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

TRIGRAM_COLUMNS = ("code", "text", "indicator")


def _has_trigram(bind) -> bool:
    if bind.dialect.name != "postgresql":
        return False
    available = bind.execute(sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")).first()
    return available is not None


def upgrade() -> None:
    op.create_index("ix_target_due_order", "target", [sa.text("(state_due IS NULL)"), "state_due", "id"])
    bind = op.get_bind()
    if _has_trigram(bind):
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for name in TRIGRAM_COLUMNS:
            op.execute(f'CREATE INDEX IF NOT EXISTS ix_target_{name}_trgm ON target USING gin ("{name}" gin_trgm_ops)')


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for name in TRIGRAM_COLUMNS:
            op.execute(f"DROP INDEX IF EXISTS ix_target_{name}_trgm")
    op.drop_index("ix_target_due_order", table_name="target")
