"""components.revision: a change counter for the read cache

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 02:00:00

Every publish, yank, un-yank and fork bumps a component's ``revision``; each worker's read
cache (``hub_server/api/cache.py``) revalidates a cached answer with one indexed read of it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "components", sa.Column("revision", sa.Integer(), nullable=False, server_default="0")
    )


def downgrade() -> None:
    # Plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+), not a batch table copy: copying
    # "components" would drop a table that versions reference while foreign keys are on.
    op.drop_column("components", "revision")
