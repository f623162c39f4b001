"""versions: an index that answers range resolution alone

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 02:10:00

Resolving ``^1.2`` reads the non-yanked versions of one component. With ``ix_versions_live``
(component, yanked, version; PostgreSQL INCLUDE id) that read never touches the table's large
rows (manifest, spec, README): at 1M versions it was one random page read per version.
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_versions_live",
        "versions",
        ["component_id", "yanked", "version"],
        unique=False,
        postgresql_include=["id"],
    )


def downgrade() -> None:
    op.drop_index("ix_versions_live", table_name="versions")
