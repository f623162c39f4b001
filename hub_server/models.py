"""Metadata tables (SQLModel). Table models never leave the service layer; routes return the
Public models of :mod:`hub_server.schemas`.

Schema changes go through Alembic (``hub_server/migrations``); a test checks the migrations
produce exactly these tables.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


def _ts(**kwargs: Any) -> Any:
    return Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True), **kwargs)


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=39, unique=True)
    is_admin: bool = False
    created_at: datetime = _ts()


class ApiToken(SQLModel, table=True):
    """A bearer token; only its sha256 is stored (tokens are 256-bit random, so a fast hash is
    enough: there is nothing to brute-force)."""

    __tablename__ = "api_tokens"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    name: str = Field(default="default", max_length=100)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = _ts()


class Namespace(SQLModel, table=True):
    __tablename__ = "namespaces"

    name: str = Field(primary_key=True, max_length=39)
    created_at: datetime = _ts()


class NamespaceOwner(SQLModel, table=True):
    __tablename__ = "namespace_owners"

    namespace: str = Field(foreign_key="namespaces.name", primary_key=True, max_length=39)
    user_id: int = Field(foreign_key="users.id", primary_key=True, index=True)


class Component(SQLModel, table=True):
    """``namespace/name``. Display fields (description, category, tags, hardware flags) follow
    the component's latest version, so listing and search never read versions."""

    __tablename__ = "components"
    __table_args__ = (
        sa.UniqueConstraint("namespace", "name", name="uq_components_namespace_name"),
        sa.Index("ix_components_category_updated", "category", "updated_at"),
        sa.Index("ix_components_updated", "updated_at"),
        # Listing orders (see ComponentService.list_components) and search's popularity walk
        # (hub_server.services.search): each is read in index order and stops at the page.
        sa.Index("ix_components_popularity", "pulls", "updated_at", "id"),
        sa.Index("ix_components_gpu_popularity", "has_gpu", "pulls", "updated_at", "id"),
        sa.Index("ix_components_name", "name", "namespace"),
        sa.Index("ix_components_created", "created_at"),
        sa.Index("ix_components_forks", "forks_count"),
    )

    id: int | None = Field(default=None, primary_key=True)
    namespace: str = Field(foreign_key="namespaces.name", max_length=39)
    name: str = Field(max_length=64)
    description: str = Field(default="", max_length=500)
    category: str = Field(default="other", max_length=32)
    tags: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    search_text: str = Field(default="", sa_type=sa.Text)
    latest_version: str | None = Field(default=None, max_length=128)
    versions_count: int = 0
    hardware_variants: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    has_gpu: bool = False
    has_cpu_only: bool = Field(default=True, index=True)
    forks_count: int = 0
    pulls: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    """Archive and component.yaml downloads of all its versions (a counter, see record_pull)."""
    revision: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    """Bumped (``revision + 1``, in the writing transaction) by every change a reader of the
    component's versions can see: publish, yank, un-yank, fork into it. The read cache
    (:mod:`hub_server.api.cache`) revalidates its answers against it."""
    parent_id: int | None = Field(default=None, foreign_key="components.id", index=True)
    parent_ref: str | None = Field(default=None, max_length=300)
    parent_digest: str | None = Field(default=None, max_length=71)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class ComponentTag(SQLModel, table=True):
    __tablename__ = "component_tags"

    component_id: int = Field(foreign_key="components.id", primary_key=True)
    tag: str = Field(primary_key=True, max_length=50, index=True)


class Version(SQLModel, table=True):
    """One immutable published version. Only the ``yanked*`` columns and the ``pulls`` counter
    ever change."""

    __tablename__ = "versions"
    __table_args__ = (
        # Precedence, not text: 1.0.0+a and 1.0.0+b are the same version (as npm says).
        sa.UniqueConstraint(
            "component_id", "major", "minor", "patch", "prerelease", name="uq_versions_precedence"
        ),
        sa.Index("ix_versions_component_version", "component_id", "version", unique=True),
        # Resolving a range reads the live versions of one component: this index answers it
        # alone (SQLite: the rowid is in every index; PostgreSQL: INCLUDE id), so the large
        # rows are never read for it.
        sa.Index(
            "ix_versions_live", "component_id", "yanked", "version", postgresql_include=["id"]
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    component_id: int = Field(foreign_key="components.id")
    version: str = Field(max_length=128)
    major: int
    minor: int
    patch: int
    prerelease: str = Field(default="", max_length=128)
    digest: str = Field(max_length=71, index=True)
    size: int
    manifest: dict[str, Any] = Field(sa_type=sa.JSON)
    interface: dict[str, Any] = Field(sa_type=sa.JSON)
    spec_yaml: str = Field(sa_type=sa.Text)
    readme: str = Field(default="", sa_type=sa.Text)
    image: str | None = Field(default=None, max_length=500)
    image_pinned: bool = False
    images: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON)
    """Every image the version names (main and per variant), resolved to digests at publish."""
    publisher_id: int | None = Field(default=None, foreign_key="users.id")
    published_at: datetime = _ts()
    yanked: bool = False
    yanked_reason: str | None = Field(default=None, max_length=500)
    yanked_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    forked_from: str | None = Field(default=None, max_length=300)
    forked_from_digest: str | None = Field(default=None, max_length=71)
    pulls: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


class SearchTerm(SQLModel, table=True):
    """The search index: each word of a component's latest version (name, namespace, tags,
    description, README) with the weight of the most important field it occurs in. Kept by
    :func:`hub_server.services.search.reindex`."""

    __tablename__ = "search_terms"
    __table_args__ = (
        # Keyed by component first: "does component X have a term starting with P, at what
        # weight" is a range of a few entries (search checks candidates this way; reindex reads
        # a component's terms this way). The weight rides along (PostgreSQL: INCLUDE; SQLite: a
        # WITHOUT ROWID table is its primary key), so neither reads the table itself.
        sa.PrimaryKeyConstraint("component_id", "term", postgresql_include=["weight"]),
        # Weight first: a word's postings at one weight are one range, so a search reads the
        # best tier first and only as much of it as the page needs. (SQLite adds the primary
        # key's columns to the index itself.)
        sa.Index("ix_search_terms_weight_term", "weight", "term", "component_id"),
        # The same postings of the components with a GPU variant only (a fifth of them in the
        # bench's data): a ``hardware=gpu`` search reads a word's postings among those, where
        # the whole index would make it walk every GPU component for a word they rarely have.
        # ``has_gpu`` is in it too: SQLite (3.40) checks a partial index's condition on every
        # entry it reads, and without the column there that is a read of the table's row (a
        # count of 10,000 postings took 13 ms instead of 1).
        sa.Index(
            "ix_search_terms_gpu",
            "weight",
            "term",
            "component_id",
            "has_gpu",
            sqlite_where=sa.text("has_gpu = 1"),
            postgresql_where=sa.text("has_gpu"),
        ),
        {"sqlite_with_rowid": False},
    )

    term: str = Field(primary_key=True, max_length=64)
    component_id: int = Field(foreign_key="components.id", primary_key=True)
    weight: int
    has_gpu: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    """The component's ``has_gpu``, copied to each of its terms (kept by :func:`hub_server.
    services.search.reindex`) for ``ix_search_terms_gpu``."""


class ComponentVariant(SQLModel, table=True):
    """Hardware facts of one variant of a component's latest version, for the hardware
    filters (accelerator model, memory). Kept by :func:`hub_server.services.search.reindex`."""

    __tablename__ = "component_variants"

    component_id: int = Field(foreign_key="components.id", primary_key=True)
    variant: str = Field(primary_key=True, max_length=32)
    accelerator_type: str | None = Field(default=None, max_length=100)
    accelerator_model: str | None = Field(default=None, max_length=100, index=True)
    accelerator_count: int = 0
    memory_bytes: int = Field(default=0, sa_type=sa.BigInteger)
    """The memory request (else the limit, which Kubernetes then requests), else 0."""


class HubState(SQLModel, table=True):
    """Hub-wide counters, in one row (``id`` 1)."""

    __tablename__ = "hub_state"

    id: int = Field(default=1, primary_key=True)
    catalog_revision: int = Field(default=0, sa_type=sa.BigInteger)
    """Bumped (``+ 1``, last in the writing transaction) by every change that can move a
    listing or a search result other than a download count: publish, yank, un-yank, fork.
    The read cache (:mod:`hub_server.api.cache`) revalidates listing and search answers
    against it."""


# The row exists from the start: migration 0006 inserts it, and so does this for the tables
# tests create with ``create_all``.
sa.event.listen(
    HubState.__table__,  # type: ignore[attr-defined]
    "after_create",
    sa.DDL("INSERT INTO hub_state (id, catalog_revision) VALUES (1, 0)"),  # type: ignore[no-untyped-call]
)
