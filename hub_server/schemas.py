"""Public models: what the API returns and accepts (never table models)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from hub_server.manifest import NAME_PATTERN, NAMESPACE_PATTERN

T = TypeVar("T")


class ParentPublic(BaseModel):
    """Where a fork came from: ``ns/name@version`` and that version's archive digest."""

    ref: str
    digest: str | None = None


class VersionUrls(BaseModel):
    archive: str
    component_yaml: str


class VersionSummary(BaseModel):
    version: str
    digest: str
    size: int
    prerelease: bool
    yanked: bool
    yanked_reason: str | None = None
    published_at: datetime
    pulls: int = 0
    """Downloads of this version's archive or component.yaml."""


class VersionPublic(VersionSummary):
    namespace: str
    name: str
    description: str
    category: str
    tags: list[str]
    license: str | None
    authors: list[str]
    manifest: dict[str, Any]
    hardware: dict[str, Any]
    interface: dict[str, Any]
    image: str | None
    image_pinned: bool
    images: list[dict[str, Any]] = Field(default_factory=list)
    publisher: str | None
    yanked_at: datetime | None = None
    forked_from: ParentPublic | None = None
    urls: VersionUrls


class ComponentPublic(BaseModel):
    namespace: str
    name: str
    description: str
    category: str
    tags: list[str]
    latest_version: str | None
    versions_count: int
    hardware_variants: list[str]
    has_gpu: bool
    has_cpu_only: bool = True
    """Has a variant that needs no accelerator."""
    forks_count: int
    pulls: int = 0
    """Downloads of any of its versions' archives or component.yamls."""
    parent: ParentPublic | None = None
    created_at: datetime
    updated_at: datetime


class ComponentDetail(ComponentPublic):
    latest: VersionPublic | None = None


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    """How many match in all; with ``total_is_lower_bound``, at least that many."""
    total_is_lower_bound: bool = False
    """True when there are too many matches to count cheaply (over 1,000): ``total`` is then a
    lower bound, as in "1,000+ components"."""
    page: int
    per_page: int


class SearchParams(BaseModel):
    """The query of ``GET /api/v1/components``: one model, validated in one call (not one a
    parameter), documented parameter by parameter all the same."""

    q: str | None = None
    namespace: str | None = None
    category: str | None = None
    tag: list[str] | None = Field(default=None, description="repeat for several (all must match)")
    hardware: str | None = Field(default=None, description="gpu or cpu")
    accelerator: str | None = Field(
        default=None, description="a variant uses this accelerator model, e.g. nvidia-tesla-t4"
    )
    max_memory: str | None = Field(
        default=None, description="a variant requests at most this memory, e.g. 16Gi"
    )
    fork_of: str | None = Field(default=None, description="only the forks of namespace/name")
    fork: bool | None = Field(default=None, description="only forks (true) or no forks (false)")
    sort: str | None = Field(
        default=None, description="relevance, updated, created, name, forks, pulls"
    )
    page: int = 1
    per_page: int = 20


class ForkRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    namespace: str = Field(pattern=NAMESPACE_PATTERN)
    name: str | None = Field(default=None, pattern=NAME_PATTERN)
    version: str | None = Field(
        default=None, description="fork only this version (default: every version)"
    )


class YankRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500)


class UserPublic(BaseModel):
    name: str
    is_admin: bool
    namespaces: list[str]


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAMESPACE_PATTERN)
    is_admin: bool = False


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="default", min_length=1, max_length=100)


class TokenPublic(BaseModel):
    """A newly created token: the only time its secret is shown."""

    user: str
    name: str
    token: str


class ErrorBody(BaseModel):
    code: str
    message: str
    detail: dict[str, Any] = Field(default_factory=dict)


class ErrorResponse(BaseModel):
    error: ErrorBody
