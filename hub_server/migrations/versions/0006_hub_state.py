"""hub_state: a catalogue-wide change counter for caching listings and searches

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 04:30:00

Every publish, yank, un-yank and fork bumps ``hub_state.catalog_revision`` (one row); each
worker's read cache (``hub_server/api/cache.py``) revalidates a cached listing or search
answer with one primary-key read of it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    hub_state = op.create_table(
        "hub_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("catalog_revision", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.bulk_insert(hub_state, [{"id": 1, "catalog_revision": 0}])


def downgrade() -> None:
    op.drop_table("hub_state")
