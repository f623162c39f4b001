"""catalogue: pull counters, search index, hardware facts

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 09:00:00

Adds ``pulls`` to components and versions, the ``search_terms`` inverted index and the
``component_variants`` hardware facts, and fills both from every component's latest version.
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("components", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pulls", sa.Integer(), nullable=False, server_default="0"))
        batch_op.create_index(batch_op.f("ix_components_pulls"), ["pulls"], unique=False)
    with op.batch_alter_table("versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pulls", sa.Integer(), nullable=False, server_default="0"))

    op.create_table(
        "search_terms",
        sa.Column("term", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("component_id", sa.Integer(), nullable=False),
        sa.Column("weight", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["component_id"], ["components.id"]),
        # Search reads only this key: term range → component and weight.
        sa.PrimaryKeyConstraint("term", "component_id", postgresql_include=["weight"]),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_search_terms_component_id", "search_terms", ["component_id"], unique=False)
    op.create_table(
        "component_variants",
        sa.Column("component_id", sa.Integer(), nullable=False),
        sa.Column("variant", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("accelerator_type", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("accelerator_model", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("accelerator_count", sa.Integer(), nullable=False),
        sa.Column("memory_bytes", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["component_id"], ["components.id"]),
        sa.PrimaryKeyConstraint("component_id", "variant"),
    )
    op.create_index(
        op.f("ix_component_variants_accelerator_model"),
        "component_variants",
        ["accelerator_model"],
        unique=False,
    )
    _backfill()


def _backfill() -> None:
    """Index every component that has a latest version, as ``reindex`` does on publish.

    Uses the service's pure helpers so the index matches what a publish writes; a later change
    of the tokenizer ships with a migration that re-runs this.
    """
    from hub_server.services.search import document_terms, variant_facts

    bind = op.get_bind()
    components = sa.table(
        "components",
        sa.column("id", sa.Integer),
        sa.column("namespace", sa.String),
        sa.column("name", sa.String),
        sa.column("latest_version", sa.String),
    )
    versions = sa.table(
        "versions",
        sa.column("component_id", sa.Integer),
        sa.column("version", sa.String),
        sa.column("manifest", sa.JSON),
        sa.column("readme", sa.Text),
    )
    terms_table = sa.table(
        "search_terms",
        sa.column("component_id", sa.Integer),
        sa.column("term", sa.String),
        sa.column("weight", sa.Integer),
    )
    variants_table = sa.table(
        "component_variants",
        sa.column("component_id", sa.Integer),
        sa.column("variant", sa.String),
        sa.column("accelerator_type", sa.String),
        sa.column("accelerator_model", sa.String),
        sa.column("accelerator_count", sa.Integer),
        sa.column("memory_bytes", sa.BigInteger),
    )
    rows = bind.execute(
        sa.select(
            components.c.id,
            components.c.namespace,
            components.c.name,
            versions.c.manifest,
            versions.c.readme,
        ).join(
            versions,
            sa.and_(
                versions.c.component_id == components.c.id,
                versions.c.version == components.c.latest_version,
            ),
        )
    ).all()
    for component_id, namespace, name, manifest, readme in rows:
        terms = document_terms(
            namespace=namespace,
            name=name,
            description=str(manifest.get("description") or ""),
            tags=list(manifest.get("tags") or []),
            readme=readme or "",
        )
        if terms:
            bind.execute(
                sa.insert(terms_table),
                [{"component_id": component_id, "term": t, "weight": w} for t, w in terms.items()],
            )
        facts = variant_facts(manifest.get("hardware") or {})
        if facts:
            bind.execute(
                sa.insert(variants_table), [{"component_id": component_id, **f} for f in facts]
            )


def downgrade() -> None:
    op.drop_index(op.f("ix_component_variants_accelerator_model"), table_name="component_variants")
    op.drop_table("component_variants")
    op.drop_index("ix_search_terms_component_id", table_name="search_terms")
    op.drop_table("search_terms")
    # Plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+), not a batch table copy: copying
    # "components" would drop a table that versions reference while foreign keys are on.
    op.drop_column("versions", "pulls")
    op.drop_index(op.f("ix_components_pulls"), table_name="components")
    op.drop_column("components", "pulls")
