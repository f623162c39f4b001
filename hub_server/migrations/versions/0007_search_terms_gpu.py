"""search terms of GPU components: ``search_terms.has_gpu`` and ``ix_search_terms_gpu``

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 00:30:00

Each term carries its component's ``has_gpu``, and a partial index holds the postings of the
components with a GPU variant only, ``(weight, term, component_id, has_gpu) WHERE has_gpu``
(the flag in it too, for SQLite: see ``SearchTerm``). A
``hardware=gpu`` search reads a word's postings there: among GPU components, not among all
(``hub_server.services.search``).

At 100k components (11.2 M terms, 2.6 M of GPU components) this took about 4 s on SQLite.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ALTER TABLE, never a batch copy: SQLite adds a column with a constant default in
    # place, PostgreSQL (11+) without rewriting the table.
    op.add_column(
        "search_terms",
        sa.Column("has_gpu", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    search_terms = sa.table("search_terms", sa.column("component_id"), sa.column("has_gpu"))
    components = sa.table("components", sa.column("id"), sa.column("has_gpu"))
    gpu_components = sa.select(components.c.id).where(components.c.has_gpu == sa.true())
    op.execute(
        sa.update(search_terms)
        .where(search_terms.c.component_id.in_(gpu_components))
        .values(has_gpu=True)
    )
    op.create_index(
        "ix_search_terms_gpu",
        "search_terms",
        ["weight", "term", "component_id", "has_gpu"],
        unique=False,
        sqlite_where=sa.text("has_gpu = 1"),
        postgresql_where=sa.text("has_gpu"),
    )


def downgrade() -> None:
    op.drop_index("ix_search_terms_gpu", table_name="search_terms")
    if op.get_bind().dialect.name == "sqlite":
        # SQLite (3.35+) drops a column in place; a batch copy would lose WITHOUT ROWID.
        op.execute("ALTER TABLE search_terms DROP COLUMN has_gpu")
    else:
        op.drop_column("search_terms", "has_gpu")
