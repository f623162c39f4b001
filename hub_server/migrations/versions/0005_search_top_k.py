"""search top-k: postings by weight, terms by component, listing indexes

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 02:00:00

Search reads only as much of the index as a page needs (``hub_server.services.search``):

- ``search_terms`` is keyed ``(component_id, term)`` (was ``(term, component_id)``): checking a
  candidate, and diffing a component's terms on reindex, are a few entries of the key;
- ``ix_search_terms_weight_term (weight, term, component_id)`` replaces
  ``ix_search_terms_component_id``: a word's postings at one weight are one range, best first;
- ``components`` gets an index per listing order: popularity ``(pulls, updated_at, id)``
  (replaces ``ix_components_pulls``), the same for GPU components ``(has_gpu, pulls,
  updated_at, id)`` (replaces ``ix_components_has_gpu``), ``(name, namespace)``,
  ``created_at``, ``forks_count``.

The rows do not change. SQLite cannot change a ``WITHOUT ROWID`` table's key, so the table is
copied (about a minute for 10 M terms); PostgreSQL swaps the constraint in place.
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_COMPONENT_INDEXES = {
    "ix_components_popularity": ["pulls", "updated_at", "id"],
    "ix_components_gpu_popularity": ["has_gpu", "pulls", "updated_at", "id"],
    "ix_components_name": ["name", "namespace"],
    "ix_components_created": ["created_at"],
    "ix_components_forks": ["forks_count"],
}


def _rekey_search_terms(key: list[str]) -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute(
            "ALTER TABLE search_terms DROP CONSTRAINT search_terms_pkey, "
            f"ADD CONSTRAINT search_terms_pkey PRIMARY KEY ({', '.join(key)}) INCLUDE (weight)"
        )
        return
    op.create_table(
        "search_terms_rekeyed",
        sa.Column("term", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("component_id", sa.Integer(), nullable=False),
        sa.Column("weight", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["component_id"], ["components.id"]),
        sa.PrimaryKeyConstraint(*key),
        sqlite_with_rowid=False,
    )
    old = sa.table(
        "search_terms", sa.column("term"), sa.column("component_id"), sa.column("weight")
    )
    new = sa.table(
        "search_terms_rekeyed", sa.column("term"), sa.column("component_id"), sa.column("weight")
    )
    # Copied in the new key's order: the new table's B-tree is written sequentially.
    ordered = sa.select(old.c.term, old.c.component_id, old.c.weight).order_by(
        *(old.c[name] for name in key)
    )
    op.execute(sa.insert(new).from_select(["term", "component_id", "weight"], ordered))
    op.drop_table("search_terms")
    op.rename_table("search_terms_rekeyed", "search_terms")


def upgrade() -> None:
    op.drop_index("ix_search_terms_component_id", table_name="search_terms")
    _rekey_search_terms(["component_id", "term"])
    op.create_index(
        "ix_search_terms_weight_term",
        "search_terms",
        ["weight", "term", "component_id"],
        unique=False,
    )
    # Plain CREATE/DROP INDEX, never a batch copy of "components" (versions reference it).
    op.drop_index("ix_components_pulls", table_name="components")
    op.drop_index("ix_components_has_gpu", table_name="components")
    for name, columns in _COMPONENT_INDEXES.items():
        op.create_index(name, "components", columns, unique=False)


def downgrade() -> None:
    for name in _COMPONENT_INDEXES:
        op.drop_index(name, table_name="components")
    op.create_index("ix_components_pulls", "components", ["pulls"], unique=False)
    op.create_index("ix_components_has_gpu", "components", ["has_gpu"], unique=False)
    op.drop_index("ix_search_terms_weight_term", table_name="search_terms")
    _rekey_search_terms(["term", "component_id"])
    op.create_index("ix_search_terms_component_id", "search_terms", ["component_id"], unique=False)
