"""What the hub's API returns, as small typed dataclasses (no pydantic: the CLI starts fast).

Each class mirrors a Public model of ``hub_server.schemas``; ``from_json`` accepts the API's JSON
and ignores fields it does not know, so a newer hub does not break an older client.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

__all__ = [
    "ComponentInfo",
    "Page",
    "ParentInfo",
    "TokenInfo",
    "UserInfo",
    "VersionInfo",
    "VersionSummary",
]

T = TypeVar("T")


def _time(value: Any) -> datetime | None:
    if value is None:
        return None
    return datetime.fromisoformat(str(value))


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


class _Model:
    def to_dict(self) -> dict[str, Any]:
        """The object as JSON-ready data (datetimes as ISO 8601 text)."""
        assert dataclasses.is_dataclass(self)
        data: dict[str, Any] = _jsonable(dataclasses.asdict(self))
        return data


@dataclass(frozen=True)
class ParentInfo(_Model):
    """Where a fork came from.

    Attributes:
        ref: ``namespace/name@version`` of the parent.
        digest: That version's archive digest.
    """

    ref: str
    digest: str | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> ParentInfo | None:
        """Build from API JSON (None stays None)."""
        if not data:
            return None
        return cls(ref=str(data["ref"]), digest=data.get("digest"))


@dataclass(frozen=True)
class VersionSummary(_Model):
    """One version in a component's version list.

    Attributes:
        version: The SemVer version.
        digest: ``sha256:<hex>`` of its archive.
        size: Archive size in bytes.
        prerelease: Whether it is a prerelease.
        yanked: Whether it is yanked (hidden from ranges, still downloadable exactly).
        yanked_reason: Why, when yanked.
        published_at: When it was published.
        pulls: How often its archive or spec was downloaded.
    """

    version: str
    digest: str
    size: int
    prerelease: bool
    yanked: bool
    yanked_reason: str | None
    published_at: datetime | None
    pulls: int = 0

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> VersionSummary:
        """Build from API JSON."""
        return cls(
            version=str(data["version"]),
            digest=str(data["digest"]),
            size=int(data.get("size") or 0),
            prerelease=bool(data.get("prerelease")),
            yanked=bool(data.get("yanked")),
            yanked_reason=data.get("yanked_reason"),
            published_at=_time(data.get("published_at")),
            pulls=int(data.get("pulls") or 0),
        )


@dataclass(frozen=True)
class VersionInfo(VersionSummary):
    """One version in full: manifest, hardware, interface, digest, image.

    Attributes:
        namespace: The component's namespace.
        name: The component's name.
        description: One line from the manifest.
        category: The manifest's category.
        tags: The manifest's tags.
        license: SPDX identifier.
        authors: The manifest's authors.
        manifest: The whole ``hub.yaml`` as published.
        hardware: The manifest's ``hardware`` section (``default`` and ``variants``).
        interface: Inputs and outputs as kfp read them.
        image: The container image, when the component names one.
        image_pinned: Whether ``image`` is pinned by digest.
        images: Every image the version names (main and per variant), each
            ``{"ref", "resolved", "digest", "pinned", "error"}``: what the hub resolved the
            tag to at publish time.
        publisher: Who published it.
        yanked_at: When it was yanked.
        forked_from: The version it was forked from.
        archive_url: API path of the archive.
        component_yaml_url: API path of the raw KFP spec.
    """

    namespace: str = ""
    name: str = ""
    description: str = ""
    category: str = "other"
    tags: list[str] = field(default_factory=list)
    license: str | None = None
    authors: list[str] = field(default_factory=list)
    manifest: dict[str, Any] = field(default_factory=dict)
    hardware: dict[str, Any] = field(default_factory=dict)
    interface: dict[str, Any] = field(default_factory=dict)
    image: str | None = None
    image_pinned: bool = False
    images: list[dict[str, Any]] = field(default_factory=list)
    publisher: str | None = None
    yanked_at: datetime | None = None
    forked_from: ParentInfo | None = None
    archive_url: str = ""
    component_yaml_url: str = ""

    @property
    def ref(self) -> str:
        """``namespace/name@version``."""
        return f"{self.namespace}/{self.name}@{self.version}"

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> VersionInfo:
        """Build from API JSON."""
        summary = VersionSummary.from_json(data)
        urls = data.get("urls") or {}
        return cls(
            **dataclasses.asdict(summary),
            namespace=str(data.get("namespace", "")),
            name=str(data.get("name", "")),
            description=str(data.get("description") or ""),
            category=str(data.get("category") or "other"),
            tags=list(data.get("tags") or []),
            license=data.get("license"),
            authors=list(data.get("authors") or []),
            manifest=dict(data.get("manifest") or {}),
            hardware=dict(data.get("hardware") or {}),
            interface=dict(data.get("interface") or {}),
            image=data.get("image"),
            image_pinned=bool(data.get("image_pinned")),
            images=[dict(item) for item in data.get("images") or [] if isinstance(item, dict)],
            publisher=data.get("publisher"),
            yanked_at=_time(data.get("yanked_at")),
            forked_from=ParentInfo.from_json(data.get("forked_from")),
            archive_url=str(urls.get("archive", "")),
            component_yaml_url=str(urls.get("component_yaml", "")),
        )


@dataclass(frozen=True)
class ComponentInfo(_Model):
    """A component as listed or shown.

    Attributes:
        namespace: Its namespace.
        name: Its name.
        description: From its latest version.
        category: From its latest version.
        tags: From its latest version.
        latest_version: The highest non-yanked, non-prerelease version.
        versions_count: How many versions it has.
        hardware_variants: The variant names of its latest version.
        has_gpu: Whether a variant has an accelerator.
        has_cpu_only: Whether a variant needs no accelerator.
        forks_count: How many forks it has.
        pulls: How often any of its versions was downloaded.
        parent: What it was forked from.
        created_at: When it was created.
        updated_at: When it last changed.
        latest: The latest version in full (only from ``get_component``).
    """

    namespace: str
    name: str
    description: str
    category: str
    tags: list[str]
    latest_version: str | None
    versions_count: int
    hardware_variants: list[str]
    has_gpu: bool
    forks_count: int
    parent: ParentInfo | None
    created_at: datetime | None
    updated_at: datetime | None
    latest: VersionInfo | None = None
    has_cpu_only: bool = True
    pulls: int = 0

    @property
    def id(self) -> str:
        """``namespace/name``."""
        return f"{self.namespace}/{self.name}"

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ComponentInfo:
        """Build from API JSON."""
        latest = data.get("latest")
        return cls(
            namespace=str(data["namespace"]),
            name=str(data["name"]),
            description=str(data.get("description") or ""),
            category=str(data.get("category") or "other"),
            tags=list(data.get("tags") or []),
            latest_version=data.get("latest_version"),
            versions_count=int(data.get("versions_count") or 0),
            hardware_variants=list(data.get("hardware_variants") or []),
            has_gpu=bool(data.get("has_gpu")),
            forks_count=int(data.get("forks_count") or 0),
            parent=ParentInfo.from_json(data.get("parent")),
            created_at=_time(data.get("created_at")),
            updated_at=_time(data.get("updated_at")),
            latest=VersionInfo.from_json(latest) if latest else None,
            has_cpu_only=bool(data.get("has_cpu_only", True)),
            pulls=int(data.get("pulls") or 0),
        )


@dataclass(frozen=True)
class Page(_Model, Generic[T]):
    """One page of a listing.

    Attributes:
        items: This page's items.
        total: How many match in all; with ``total_is_lower_bound``, at least that many.
        page: This page's number (from 1).
        per_page: The page size.
        total_is_lower_bound: True when the hub did not count every match (over 1,000).
    """

    items: list[T]
    total: int
    page: int
    per_page: int
    total_is_lower_bound: bool = False


@dataclass(frozen=True)
class UserInfo(_Model):
    """Who a token belongs to.

    Attributes:
        name: The user name (also the user's own namespace).
        is_admin: Whether the user administers the hub.
        namespaces: The namespaces the user may publish into.
    """

    name: str
    is_admin: bool
    namespaces: list[str]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> UserInfo:
        """Build from API JSON."""
        return cls(
            name=str(data["name"]),
            is_admin=bool(data.get("is_admin")),
            namespaces=list(data.get("namespaces") or []),
        )


@dataclass(frozen=True)
class TokenInfo(_Model):
    """A newly created token (the only time its secret is shown).

    Attributes:
        user: Whose token it is.
        name: The token's name.
        token: The secret.
    """

    user: str
    name: str
    token: str = field(repr=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TokenInfo:
        """Build from API JSON."""
        return cls(user=str(data["user"]), name=str(data["name"]), token=str(data["token"]))
