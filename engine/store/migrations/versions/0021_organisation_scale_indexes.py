"""indexes for a province's deployment: the organisations below one, and the ranking's counts

An organisation's descendants are the rows whose ``path`` starts with its own
(``path LIKE '1/5/%'``): every scope of a parent's office and auditor, the ranking and the
hand-down offer read them. PostgreSQL uses a b-tree for such a prefix only under the C
collation, or with the ``varchar_pattern_ops`` operator class; a database created under
another collation (C.UTF-8, en_US.UTF-8 …) would read the whole table. The first index makes
the prefix one index range under any collation (SQLite keeps its plain index on ``path``).

The ranking counts, for every organisation below the reader, its targets by score, due date
and state. ``ix_target_org_tally`` holds every column it reads after the organisation, so a
city's 99 counties are 99 index-only ranges (about 19,000 entries) instead of a scan of the
whole target table.

Revision ID: 0021
Revises: 0020
"""
from __future__ import annotations

from alembic import op

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None

TALLY = ["org_id", "workflow", "plan_id", "state", "due_date", "state_due", "score", "weight"]


def upgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("CREATE INDEX IF NOT EXISTS ix_organisation_path_prefix ON organisation (path varchar_pattern_ops)")
    op.create_index("ix_target_org_tally", "target", TALLY)


def downgrade() -> None:
    op.drop_index("ix_target_org_tally", "target")
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("DROP INDEX IF EXISTS ix_organisation_path_prefix")
