"""Components and versions: publish, read, resolve, yank, fork.

Every rule about what may be stored lives here; routes only parse and call. Published versions
are immutable: after the insert only the ``yanked*`` columns of a version row ever change.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import re
from collections import Counter
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from hub_server import archive, semver
from hub_server.db import insert_ignore, write_transaction
from hub_server.errors import BadRequest, Conflict, InvalidPackage, NotFound
from hub_server.manifest import NAME_RE, NAMESPACE_RE, Category
from hub_server.models import (
    Component,
    ComponentTag,
    ComponentVariant,
    HubState,
    Namespace,
    NamespaceOwner,
    User,
    Version,
    utcnow,
)
from hub_server.oci import ImageNotFound, ImageResolution, ImageResolver
from hub_server.packages import ValidatedPackage, validate_package
from hub_server.schemas import (
    ComponentDetail,
    ComponentPublic,
    ForkRequest,
    Page,
    ParentPublic,
    VersionPublic,
    VersionSummary,
    VersionUrls,
)
from hub_server.services import search
from hub_server.services.auth import AuthService, Principal
from hub_server.services.pulls import add_pulls
from hub_server.storage import BlobStorage
from hub_server.validator import PackageChecker

log = logging.getLogger("hub.components")

API_PREFIX = "/api/v1"
DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
SORTS = tuple(search.ORDERS)
HARDWARE_FILTERS = ("gpu", "cpu")
MAX_PER_PAGE = 100
MAX_PAGE = 10_000
"""The deepest page a listing serves: an offset past the database's integers was a 500, and a
page deeper than any catalogue has is read (and skipped) row by row."""
MAX_RANGE_LENGTH = 256
_PAGE_COLUMNS: list[Any] = [
    col(c)
    for c in (
        Component.id, Component.namespace, Component.name, Component.description,
        Component.category, Component.tags, Component.latest_version, Component.versions_count,
        Component.hardware_variants, Component.has_gpu, Component.has_cpu_only,
        Component.forks_count, Component.pulls, Component.parent_ref, Component.parent_digest,
        Component.created_at, Component.updated_at,
    )
]  # fmt: skip
"""What a listing shows of a component (not ``search_text``)."""
_BY_IDS = sa.select(*_PAGE_COLUMNS).where(
    col(Component.id).in_(sa.bindparam("ids", expanding=True))
)

# The statements of every publish, built once, not at each call (with the token lookup in
# services/auth.py: publish on PostgreSQL, one worker, 32 connections, 104/108 -> 114/122
# versions/s in alternated runs).
_COMPONENT = select(Component).where(
    col(Component.namespace) == sa.bindparam("namespace"),
    col(Component.name) == sa.bindparam("name"),
)
_COMPONENT_FOR_UPDATE = _COMPONENT.with_for_update().execution_options(populate_existing=True)
_SAME_PRECEDENCE = select(col(Version.id)).where(
    col(Version.component_id) == sa.bindparam("component_id"),
    col(Version.major) == sa.bindparam("major"),
    col(Version.minor) == sa.bindparam("minor"),
    col(Version.patch) == sa.bindparam("patch"),
    col(Version.prerelease) == sa.bindparam("prerelease"),
)
_BUMP_CATALOG = (
    sa.update(HubState)
    .where(col(HubState.id) == 1)
    .values(catalog_revision=col(HubState.catalog_revision) + 1)
)


@dataclass(frozen=True)
class PendingPublish:
    """A checked publish between its steps (:meth:`ComponentService.check_publish`)."""

    principal: Principal
    namespace: str
    name: str
    namespace_exists: bool
    package: ValidatedPackage
    manifest: dict[str, Any]
    terms: dict[str, int]
    """The version's index terms (:func:`search.version_terms`)."""


class _Unset:
    """Marks an argument the caller did not give (None is a meaningful value)."""


_UNSET = _Unset()


@dataclass(frozen=True)
class Blob:
    digest: str
    data: bytes


@dataclass(frozen=True)
class Facets:
    """What the catalogue can be filtered by, with counts."""

    total: int
    namespaces: int
    """Namespaces that hold at least one component."""
    categories: dict[str, int]
    """Components per category, every category listed (in the manifest's order)."""
    accelerators: list[tuple[str, int]]
    """Accelerator models and how many components have a variant with each, most first."""


@dataclass(frozen=True)
class NamespaceInfo:
    name: str
    created_at: datetime
    owners: list[str]


def _is_pinned(image: str | None) -> bool:
    return bool(image and re.search(r"@sha256:[0-9a-f]{64}$", image))


def _hardware_flags(hardware: dict[str, Any]) -> tuple[list[str], bool, bool]:
    variants: dict[str, Any] = hardware.get("variants") or {}
    has_gpu = any((v or {}).get("accelerator") for v in variants.values())
    has_cpu_only = any(not (v or {}).get("accelerator") for v in variants.values())
    return sorted(variants), has_gpu, has_cpu_only


def _concurrent_write(ref: str) -> Conflict:
    return Conflict(
        f"another write to {ref} happened at the same moment; try again",
        code="concurrent_write",
        component=ref,
    )


# Published version strings never change meaning: parse each once per process.
_parse_version = functools.lru_cache(maxsize=200_000)(semver.Version.parse)


def _sort_key(row: Version) -> semver.Version:
    return _parse_version(row.version)


class ComponentService:
    """Everything the API does with components and versions."""

    def __init__(
        self,
        session: Session,
        storage: BlobStorage,
        limits: archive.ArchiveLimits,
        *,
        images: ImageResolver | None = None,
        search_gate: AbstractContextManager[Any] | None = None,
        publish_gate: AbstractContextManager[Any] | None = None,
        checker: PackageChecker | None = None,
    ) -> None:
        self.session = session
        self.storage = storage
        self.limits = limits
        self.images = images
        self.search_gate = search_gate or contextlib.nullcontext()
        """Held while a listing or search reads the index (see ``AppState.search_gate``)."""
        self.publish_gate = publish_gate or contextlib.nullcontext()
        """Held while a publish validates its package and while it writes (see
        ``AppState.publish_gate``)."""
        self.checker = checker
        """Validates packages in the worker's helper process (:mod:`hub_server.validator`);
        None: in this thread."""
        self.auth = AuthService(session)

    # ----------------------------------------------------------------------------- reading

    def _component(self, namespace: str, name: str) -> Component:
        component = self.session.exec(
            select(Component).where(Component.namespace == namespace, Component.name == name)
        ).first()
        if component is None:
            raise NotFound(
                f"no component {namespace}/{name}",
                code="component_not_found",
                component=f"{namespace}/{name}",
            )
        return component

    def _versions(self, component: Component) -> list[Version]:
        rows = self.session.exec(select(Version).where(Version.component_id == component.id))
        return sorted(rows, key=_sort_key, reverse=True)

    def _version(self, component: Component, version: str) -> Version:
        row = self.session.exec(
            select(Version).where(Version.component_id == component.id, Version.version == version)
        ).first()
        if row is None:
            raise NotFound(
                f"{component.namespace}/{component.name} has no version {version}",
                code="version_not_found",
                component=f"{component.namespace}/{component.name}",
                version=version,
            )
        return row

    def get_component(self, namespace: str, name: str) -> ComponentDetail:
        """The component, its latest version, forks count and parent.

        Raises:
            NotFound: ``component_not_found``.
        """
        component = self._component(namespace, name)
        latest = None
        if component.latest_version is not None:
            latest = self._version_public(
                component, self._version(component, component.latest_version)
            )
        return ComponentDetail(**self._component_public(component).model_dump(), latest=latest)

    def list_versions(self, namespace: str, name: str) -> list[VersionSummary]:
        """All versions, newest (by SemVer precedence) first, yanked ones flagged.

        Raises:
            NotFound: ``component_not_found``.
        """
        component = self._component(namespace, name)
        return [self._version_summary(row) for row in self._versions(component)]

    def get_version(self, namespace: str, name: str, version: str) -> VersionPublic:
        """One version with manifest, hardware, interface, digest and image.

        Raises:
            NotFound: ``component_not_found`` or ``version_not_found``.
        """
        component = self._component(namespace, name)
        return self._version_public(component, self._version(component, version))

    def resolve(self, namespace: str, name: str, spec: str | None) -> VersionPublic:
        """The version a reference selects, with npm's ``maxSatisfying`` semantics.

        Args:
            namespace: component namespace.
            name: component name.
            spec: an exact version, an npm range, ``sha256:<hex>``, or empty/None for the
                highest non-yanked, non-prerelease version.

        Raises:
            BadRequest: ``invalid_range``.
            NotFound: ``component_not_found``, ``no_matching_version``.
        """
        spec = (spec or "").strip()
        ref = f"{namespace}/{name}"
        if not DIGEST_RE.match(spec) and not semver.is_exact(spec):
            return self._resolve_range(namespace, name, spec)
        component = self._component(namespace, name)
        if DIGEST_RE.match(spec):
            row = self.session.exec(
                select(Version).where(Version.component_id == component.id, Version.digest == spec)
            ).first()
            if row is None:
                raise NotFound(
                    f"{ref} has no version with digest {spec}",
                    code="no_matching_version",
                    component=ref,
                    spec=spec,
                )
            return self._version_public(component, row)
        if semver.is_exact(spec):
            # An exact version names that version even when yanked (like npm and pip).
            return self._version_public(component, self._version(component, spec))
        raise AssertionError("unreachable: digests and exact versions are handled above")

    def _resolve_range(self, namespace: str, name: str, spec: str) -> VersionPublic:
        """Resolve an npm range in two statements: the candidates (through a join on the
        component's name), then the winner with its component and publisher."""
        ref = f"{namespace}/{name}"
        if len(spec) > MAX_RANGE_LENGTH:
            # Parsing is linear but not free; no real range comes near this length.
            raise BadRequest(
                f"a version range is at most {MAX_RANGE_LENGTH} characters",
                code="invalid_range",
                length=len(spec),
            )
        try:
            wanted = semver.Range.parse(spec)
        except semver.InvalidRange as exc:
            raise BadRequest(str(exc), code="invalid_range", spec=spec) from None
        rows = self.session.exec(
            select(Version.id, Version.version)
            .join(Component, col(Component.id) == col(Version.component_id))
            .where(
                Component.namespace == namespace,
                Component.name == name,
                col(Version.yanked) == sa.false(),  # "= false" (an index key), not "IS false"
            )
        ).all()
        by_version = {_parse_version(v): vid for vid, v in rows}
        best = semver.max_satisfying(by_version, wanted)
        if best is None:
            self._component(namespace, name)  # the precise 404 when the component is unknown
            raise NotFound(
                f"no version of {ref} satisfies {spec or '*'!r}",
                code="no_matching_version",
                component=ref,
                spec=spec,
            )
        version, component, publisher = self.session.exec(
            select(Version, Component, User.name)
            .join(Component, col(Component.id) == col(Version.component_id))
            .outerjoin(User, col(User.id) == col(Version.publisher_id))
            .where(Version.id == by_version[best])
        ).one()
        return self._version_public(component, version, publisher=publisher)

    def read_archive(self, namespace: str, name: str, version: str) -> Blob:
        """The archive bytes of a version (yanked ones too).

        Raises:
            NotFound: ``component_not_found``, ``version_not_found``, ``blob_missing``.
        """
        return self.read_blob(self.version_digest(namespace, name, version))

    def read_blob(self, digest: str) -> Blob:
        """The archive bytes stored under ``digest`` (from :meth:`version_digest`).

        Raises:
            NotFound: ``blob_missing``.
        """
        try:
            return Blob(digest=digest, data=self.storage.get(digest))
        except KeyError:
            raise NotFound(
                f"the archive {digest} is missing from storage", code="blob_missing", digest=digest
            ) from None

    def _version_columns(
        self, namespace: str, name: str, version: str, *columns: Any
    ) -> tuple[Any, ...]:
        """Some columns of one version, in one indexed read that skips the row's other large
        columns.

        Raises:
            NotFound: ``component_not_found`` or ``version_not_found``.
        """
        row = self.session.execute(
            sa.select(*columns)
            .join(Component, col(Component.id) == col(Version.component_id))
            .where(
                col(Component.namespace) == namespace,
                col(Component.name) == name,
                col(Version.version) == version,
            )
        ).first()
        if row is None:
            self._version(self._component(namespace, name), version)  # raises the precise 404
            raise AssertionError("unreachable")
        return tuple(row)

    def version_digest(self, namespace: str, name: str, version: str) -> str:
        """The archive digest of a version."""
        digest: str = self._version_columns(namespace, name, version, Version.digest)[0]
        return digest

    def component_yaml(self, namespace: str, name: str, version: str) -> tuple[str, str]:
        """The raw KFP spec of a version and its archive digest."""
        row = self._version_columns(namespace, name, version, Version.spec_yaml, Version.digest)
        return str(row[0]), str(row[1])

    def list_components(
        self,
        *,
        q: str | None = None,
        namespace: str | None = None,
        category: str | None = None,
        tags: Sequence[str] = (),
        hardware: str | None = None,
        accelerator: str | None = None,
        max_memory: str | None = None,
        fork_of: str | None = None,
        is_fork: bool | None = None,
        sort: str | None = None,
        page: int = 1,
        per_page: int = 20,
    ) -> Page[ComponentPublic]:
        """List and search components.

        Args:
            q: words that must all appear (as words, or as the start of words) in the name,
                namespace, description, tags or README of the latest version.
            namespace: only this namespace.
            category: only this category (see ``hub_server.manifest.Category``).
            tags: only components carrying every one of these tags.
            hardware: ``gpu`` (has a GPU variant) or ``cpu`` (has a CPU-only variant).
            accelerator: only components with a variant using this accelerator model
                (e.g. ``nvidia-tesla-t4``).
            max_memory: only components with a variant that requests at most this much
                memory (a Kubernetes quantity, e.g. ``16Gi``). With ``hardware`` and
                ``accelerator``, one variant must satisfy them all.
            fork_of: only the forks of this component (``namespace/name``).
            is_fork: only forks (True) or only components that are not forks (False).
            sort: ``relevance`` (default with ``q``), ``updated`` (default), ``created``,
                ``name``, ``forks`` or ``pulls``.
            page: 1-based page.
            per_page: items per page, at most 100.

        Raises:
            BadRequest: ``invalid_request`` for an unknown filter value or bad page.
        """
        if category is not None and category not in {c.value for c in Category}:
            raise BadRequest(
                f"unknown category {category!r}",
                code="invalid_request",
                field="category",
                allowed=[c.value for c in Category],
            )
        if hardware is not None and hardware not in HARDWARE_FILTERS:
            raise BadRequest(
                f"unknown hardware filter {hardware!r}",
                code="invalid_request",
                field="hardware",
                allowed=list(HARDWARE_FILTERS),
            )
        memory_limit = None
        if max_memory is not None:
            try:
                memory_limit = search.memory_bytes(max_memory)
            except ValueError as exc:
                raise BadRequest(str(exc), code="invalid_request", field="max_memory") from None
        sort = sort or ("relevance" if q else "updated")
        if sort not in SORTS:
            raise BadRequest(
                f"unknown sort {sort!r}", code="invalid_request", field="sort", allowed=list(SORTS)
            )
        if not 1 <= page <= MAX_PAGE or not 1 <= per_page <= MAX_PER_PAGE:
            raise BadRequest(
                f"page must be between 1 and {MAX_PAGE:,} and per_page between 1 and"
                f" {MAX_PER_PAGE}",
                code="invalid_request",
                field="page",
            )
        parent = None
        if fork_of is not None:
            parent_namespace, _, parent_name = fork_of.partition("/")
            parent = (parent_namespace, parent_name)
        filters = search.Filters(
            namespace=namespace or None,
            category=category,
            tags=tuple(tags),
            hardware=hardware,
            accelerator=accelerator or None,
            max_memory=memory_limit,
            fork_of=parent,
            is_fork=is_fork,
        )

        words = search.query_words(q)
        if q and not words:
            # Text with no searchable word in it ("%%%") matches nothing.
            return Page[ComponentPublic](items=[], total=0, page=page, per_page=per_page)
        offset = (page - 1) * per_page
        with self.search_gate:
            if sort == "relevance" and words:
                hits = search.rank(
                    self.session, words, filters=filters, offset=offset, limit=per_page
                )
            else:
                hits = search.filter_sorted(
                    self.session,
                    words,
                    filters=filters,
                    order=sort,
                    offset=offset,
                    limit=per_page,
                )
            # The page's rows only, as plain rows: ORM objects cost more to build (and to expire
            # at the rollback below) than the whole page's SQL.
            rows = {row.id: row for row in search.execute(self.session, _BY_IDS, {"ids": hits.ids})}
            result = Page[ComponentPublic](
                items=[self._component_public(rows[i]) for i in hits.ids],
                total=hits.total,
                total_is_lower_bound=hits.total_is_lower_bound,
                page=page,
                per_page=per_page,
            )
            # Give the connection back before leaving the gate. A request that kept it past
            # the gate (its answer still to be serialized, which needs a thread of the pool
            # that requests queued at the gate occupy) left the gate's holders waiting for a
            # connection: at 100k components under overload, every connection of a worker's
            # pool was held that way and the worker answered nothing for 30 s at a time.
            self.session.rollback()
        return result

    def facets(self) -> Facets:
        """What there is to filter by: components per category and per accelerator model."""
        categories = dict(
            self.session.exec(
                select(Component.category, sa.func.count()).group_by(Component.category)
            ).all()
        )
        accelerators = self.session.exec(
            select(
                ComponentVariant.accelerator_model,
                sa.func.count(sa.distinct(col(ComponentVariant.component_id))),
            )
            .where(col(ComponentVariant.accelerator_model).is_not(None))
            .group_by(ComponentVariant.accelerator_model)
            .order_by(sa.func.count(sa.distinct(col(ComponentVariant.component_id))).desc())
            .limit(100)
        ).all()
        namespaces = self.session.exec(
            select(sa.func.count(sa.distinct(col(Component.namespace))))
        ).one()
        return Facets(
            total=sum(categories.values()),
            namespaces=namespaces,
            categories={c.value: categories.get(c.value, 0) for c in Category},
            accelerators=[(str(model), count) for model, count in accelerators],
        )

    def get_namespace(self, namespace: str) -> NamespaceInfo:
        """A namespace: when it was claimed, its owners, how many components it holds.

        Raises:
            NotFound: ``namespace_not_found``.
        """
        row = self.session.get(Namespace, namespace)
        if row is None:
            raise NotFound(
                f"no namespace {namespace}", code="namespace_not_found", namespace=namespace
            )
        owners = self.session.exec(
            select(User.name)
            .join(NamespaceOwner, col(NamespaceOwner.user_id) == User.id)
            .where(NamespaceOwner.namespace == namespace)
            .order_by(User.name)
        ).all()
        return NamespaceInfo(name=row.name, created_at=row.created_at, owners=list(owners))

    def version_readme(self, namespace: str, name: str, version: str) -> str:
        """The README (Markdown source) of a version.

        Raises:
            NotFound: ``component_not_found`` or ``version_not_found``.
        """
        readme: str = self._version_columns(namespace, name, version, Version.readme)[0]
        return readme

    def record_pull(self, namespace: str, name: str, version: str) -> None:
        """Count one download of a version now (routes go through the buffered
        :class:`hub_server.services.pulls.PullCounter`; this is for scripts and tests)."""
        add_pulls(self.session, Counter({(namespace, name, version): 1}))
        self.session.commit()

    # ----------------------------------------------------------------------------- writing

    def publish(
        self, principal: Principal, namespace: str, name: str, data: bytes
    ) -> VersionPublic:
        """Validate and store a new version.

        Order: ownership → validation (nothing stored) → blob (idempotent) → one transaction
        that claims the namespace if needed and inserts the version under a unique constraint.
        The three steps are also :meth:`check_publish`, :meth:`store_publish` and
        :meth:`write_publish`, for a caller that waits for its publish turns itself (the API
        route waits on the event loop); this method takes them under ``publish_gate``.

        Raises:
            Forbidden: the namespace belongs to someone else.
            InvalidPackage / PayloadTooLarge: the package is refused; nothing is stored.
            Conflict: ``version_exists``, whatever the bytes.
        """
        # CPU work runs under the publish gate; network waits (registries, S3) do not.
        with self.publish_gate:
            pending = self.check_publish(principal, namespace, name, data)
        images = self.store_publish(pending)
        with self.publish_gate:
            return self.write_publish(pending, images)

    def check_publish(
        self, principal: Principal, namespace: str, name: str, data: bytes
    ) -> PendingPublish:
        """A publish's first step (CPU, no write): may ``principal`` write there, is the
        package valid, is its version new. Raises as :meth:`publish` does."""
        self._check_names(namespace, name)
        namespace_exists = self.auth.check_can_write(principal, namespace)
        validate = validate_package if self.checker is None else self.checker.validate
        package = validate(data, namespace=namespace, name=name, limits=self.limits)
        ref = f"{namespace}/{name}@{package.version}"
        component = self._find_component(namespace, name)
        if component is not None and self._has_version(component, package.version):
            raise self._version_exists(ref)
        # Everything slow happens before the write transaction: on SQLite every other writer
        # waits while it runs.
        manifest = package.manifest.model_dump(mode="json", exclude_none=True)
        terms = search.version_terms(
            namespace=namespace, name=name, manifest=manifest, readme=package.readme
        )
        return PendingPublish(
            principal, namespace, name, namespace_exists, package, manifest, terms
        )

    def store_publish(self, pending: PendingPublish) -> list[ImageResolution]:
        """A publish's second step (network): pin its images, store its package's blob."""
        images = self._pin_images(pending.package)
        self.storage.put(pending.package.digest, pending.package.data)
        return images

    def write_publish(
        self, pending: PendingPublish, images: list[ImageResolution]
    ) -> VersionPublic:
        """A publish's last step: the one transaction that adds the version."""
        principal, namespace, name = pending.principal, pending.namespace, pending.name
        package, manifest = pending.package, pending.manifest
        ref = f"{namespace}/{name}@{package.version}"
        main_image = next((i for i in images if i.ref == package.image), None)
        try:
            with write_transaction(self.session):
                # Claimed by someone else since the check above: Forbidden now, as it would be.
                if not pending.namespace_exists and not self.auth.check_can_write(
                    principal, namespace
                ):
                    self.auth.claim(principal, namespace)
                component = self._find_component(namespace, name, for_update=True)
                if component is None:
                    # A concurrent first publish of this component may be creating it too:
                    # whichever inserts second waits for the first, then both add a version.
                    self.session.execute(
                        insert_ignore(self.session, Component).values(
                            namespace=namespace, name=name
                        )
                    )
                    component = self._find_component(namespace, name, for_update=True)
                    assert component is not None
                row = Version(
                    component_id=component.id,  # type: ignore[arg-type]
                    version=str(package.version),
                    major=package.version.major,
                    minor=package.version.minor,
                    patch=package.version.patch,
                    prerelease=".".join(str(p) for p in package.version.prerelease),
                    digest=package.digest,
                    size=len(package.data),
                    manifest=manifest,
                    interface=package.interface,
                    spec_yaml=package.spec_yaml,
                    readme=package.readme,
                    image=(main_image.resolved or main_image.ref) if main_image else package.image,
                    image_pinned=bool(main_image and main_image.pinned)
                    or _is_pinned(package.image),
                    images=[i.to_json() for i in images],
                    publisher_id=principal.id,
                )
                self.session.add(row)
                self.session.flush()
                self._refresh_latest(component, published=row, published_terms=pending.terms)
                component.versions_count += 1  # in the UPDATE _refresh_latest began
                component.updated_at = utcnow()
                self._bump_catalog()
        except IntegrityError:
            # Lost a race with a concurrent publish of this version, or of a namespace claim.
            component = self._find_component(namespace, name)
            if component is not None and self._has_version(component, package.version):
                raise self._version_exists(ref) from None
            raise _concurrent_write(f"{namespace}/{name}") from None
        return self._version_public(component, row, publisher=principal.name)

    def yank(
        self, principal: Principal, namespace: str, name: str, version: str, reason: str | None
    ) -> VersionPublic:
        """Yank (``reason`` given) or un-yank (``reason`` None) a version.

        A yanked version never wins a range but still downloads by exact version.

        Raises:
            NotFound, Forbidden, Unauthenticated.
        """
        component = self._component(namespace, name)
        self.auth.check_can_write(principal, namespace)
        row = self._version(component, version)
        with write_transaction(self.session):
            # Re-read (locked) so a publish that committed since is seen when picking latest.
            component = self._find_component(namespace, name, for_update=True) or component
            row.yanked = reason is not None
            row.yanked_reason = reason
            row.yanked_at = utcnow() if reason is not None else None
            self.session.add(row)
            self._refresh_latest(component)
            self._bump_catalog()
        return self._version_public(component, row)

    def fork(
        self, principal: Principal, namespace: str, name: str, request: ForkRequest
    ) -> ComponentDetail:
        """Copy a component (every version, or one) into a namespace the caller owns.

        Blobs are shared, not copied. The fork records its parent (``ns/name@version`` and
        digest) and so does each forked version; the parent's forks count goes up by one.

        Raises:
            NotFound: the source component or version.
            Forbidden: the destination namespace belongs to someone else.
            Conflict: ``component_exists`` at the destination.
        """
        source = self._component(namespace, name)
        dest_ns, dest_name = request.namespace, request.name or name
        dest_ref = f"{dest_ns}/{dest_name}"
        if (dest_ns, dest_name) == (namespace, name):
            raise BadRequest("a component cannot be forked onto itself", code="invalid_request")
        namespace_exists = self.auth.check_can_write(principal, dest_ns)
        if self.session.exec(
            select(Component.id).where(Component.namespace == dest_ns, Component.name == dest_name)
        ).first():
            raise Conflict(
                f"{dest_ref} exists already", code="component_exists", component=dest_ref
            )
        versions = self._versions(source)
        if request.version is not None:
            versions = [self._version(source, request.version)]
        if not versions:
            raise NotFound(f"{namespace}/{name} has no versions to fork", code="version_not_found")
        parent_version = next(
            (v for v in versions if v.version == source.latest_version), versions[0]
        )
        try:
            with write_transaction(self.session):
                if not namespace_exists and not self.auth.check_can_write(principal, dest_ns):
                    self.auth.claim(principal, dest_ns)
                fork = Component(
                    namespace=dest_ns,
                    name=dest_name,
                    parent_id=source.id,
                    parent_ref=f"{namespace}/{name}@{parent_version.version}",
                    parent_digest=parent_version.digest,
                    versions_count=len(versions),
                )
                self.session.add(fork)
                self.session.flush()
                for row in versions:
                    copied = row.model_dump(exclude={"id", "component_id", "pulls"})
                    copied.update(
                        component_id=fork.id,
                        forked_from=f"{namespace}/{name}@{row.version}",
                        forked_from_digest=row.digest,
                    )
                    self.session.add(Version(**copied))
                self.session.flush()
                self._refresh_latest(fork)
                # One UPDATE so concurrent forks never lose a count.
                self.session.execute(
                    sa.update(Component)
                    .where(col(Component.id) == source.id)
                    .values(forks_count=Component.forks_count + 1)
                )
                self._bump_catalog()
        except IntegrityError:
            if self.session.exec(
                select(Component.id).where(
                    Component.namespace == dest_ns, Component.name == dest_name
                )
            ).first():
                raise Conflict(
                    f"{dest_ref} exists already", code="component_exists", component=dest_ref
                ) from None
            raise _concurrent_write(dest_ref) from None
        self.session.refresh(fork)
        return self.get_component(dest_ns, dest_name)

    # ----------------------------------------------------------------------------- helpers

    def _pin_images(self, package: ValidatedPackage) -> list[ImageResolution]:
        """Resolve the main image and every variant image to digests (network, outside any
        transaction). Unreachable registries leave an image unpinned, with the reason.

        Raises:
            InvalidPackage: ``invalid_image`` (not an image reference) or ``image_not_found``
                (its registry answered that it does not exist).
        """
        refs = [package.image] + [v.image for v in package.manifest.hardware.variants.values()]
        unique = list(dict.fromkeys(ref for ref in refs if ref))
        resolutions: list[ImageResolution] = []
        for ref in unique:
            try:
                if self.images is None:
                    pinned = _is_pinned(ref)
                    digest = ref.rpartition("@")[2] if pinned else None
                    resolutions.append(
                        ImageResolution(ref=ref, resolved=ref if pinned else None, digest=digest)
                    )
                else:
                    resolutions.append(self.images.resolve(ref))
            except ValueError as exc:
                raise InvalidPackage(str(exc), code="invalid_image", image=ref) from None
            except ImageNotFound as exc:
                raise InvalidPackage(
                    f"the image {ref} does not exist: {exc} (push it before publishing)",
                    code="image_not_found",
                    image=ref,
                ) from None
        return resolutions

    def _check_names(self, namespace: str, name: str) -> None:
        if not NAMESPACE_RE.match(namespace):
            raise InvalidPackage(
                f"{namespace!r} is not a valid namespace ([a-z0-9][a-z0-9-]{{0,38}})",
                code="invalid_name",
                namespace=namespace,
            )
        if not NAME_RE.match(name):
            raise InvalidPackage(
                f"{name!r} is not a valid component name ([a-z0-9][a-z0-9-]{{0,63}})",
                code="invalid_name",
                name=name,
            )

    def _has_version(self, component: Component, version: semver.Version) -> bool:
        """Whether a version of the same precedence exists (build metadata ignored)."""
        params = {
            "component_id": component.id,
            "major": version.major,
            "minor": version.minor,
            "patch": version.patch,
            "prerelease": ".".join(str(p) for p in version.prerelease),
        }
        return self.session.exec(_SAME_PRECEDENCE, params=params).first() is not None

    @staticmethod
    def _version_exists(ref: str) -> Conflict:
        return Conflict(
            f"{ref} exists already; published versions are immutable, publish a new version",
            code="version_exists",
            ref=ref,
        )

    def _find_component(
        self, namespace: str, name: str, *, for_update: bool = False
    ) -> Component | None:
        """The component or None; ``for_update`` re-reads it and, on PostgreSQL, locks its row
        until the transaction ends, so concurrent publishes of one component take turns (each
        sees the other's version when it picks the latest, and no count is lost)."""
        query = _COMPONENT_FOR_UPDATE if for_update else _COMPONENT
        return self.session.exec(query, params={"namespace": namespace, "name": name}).first()

    def _refresh_latest(
        self,
        component: Component,
        *,
        published: Version | None = None,
        published_terms: dict[str, int] | None = None,
    ) -> None:
        """Point the component at its latest version and copy that version's display fields.

        Latest: the highest non-yanked release; else the highest non-yanked prerelease. Only
        the versions' numbers are read, then the winner's manifest and README (or none of it
        when the winner is ``published``, the row just inserted, whose search terms
        ``published_terms`` may bring).

        Every caller changes what readers of the versions see, so this also bumps the
        component's revision (atomically: ``revision + 1`` in SQL, never read-modify-write),
        which the read cache (``hub_server/api/cache.py``) checks.

        The component's changes made here and after are flushed as one UPDATE (its reads run
        without autoflush; :meth:`_bump_catalog` flushes it), and what the new latest version
        shares with the previous one is not written again: the tag rows when the tags are the
        same, the hardware facts when the hardware is, the search terms when the text is. A
        publish that changes only the spec (most do) writes its version, the component row and
        the catalogue's stamp.
        """
        assert component.id is not None
        # What the search terms were made of (the latest version's text, denormalized here).
        previous = (component.latest_version, component.description, list(component.tags or []))
        had_gpu = bool(component.has_gpu)
        self.session.flush()  # the caller's changes to the versions (a yank), before reading them
        component.revision = col(Component.revision) + 1  # type: ignore[assignment]
        with self.session.no_autoflush:
            rows = self.session.exec(
                select(Version.id, Version.version, Version.prerelease).where(
                    Version.component_id == component.id, col(Version.yanked) == sa.false()
                )
            ).all()
            releases = [(vid, v) for vid, v, prerelease in rows if not prerelease]
            candidates = releases or [(vid, v) for vid, v, _ in rows]
            if not candidates:
                component.latest_version = None
                self.session.add(component)
                return
            latest_id, latest_version = max(candidates, key=lambda r: _parse_version(r[1]))
            manifest: dict[str, Any]
            terms = None
            if published is not None and published.id == latest_id:
                manifest, readme, terms = published.manifest, published.readme, published_terms
            else:
                stored, readme = self.session.exec(
                    select(Version.manifest, Version.readme).where(Version.id == latest_id)
                ).one()
                manifest = dict(stored)
            component.latest_version = latest_version
            component.description = manifest.get("description", "")
            component.category = manifest.get("category", "other")
            component.tags = list(manifest.get("tags") or [])
            variants, has_gpu, has_cpu_only = _hardware_flags(manifest.get("hardware") or {})
            component.hardware_variants = variants
            component.has_gpu = has_gpu
            component.has_cpu_only = has_cpu_only
            words = [component.namespace, component.name, component.description, *component.tags]
            component.search_text = " ".join(words).lower()
            self.session.add(component)
            self._sync_tags(component.id, set(previous[2]), set(component.tags))
            same_text, same_hardware = self._unchanged(component, previous, readme, manifest)
            search.reindex(
                self.session,
                component.id,
                namespace=component.namespace,
                name=component.name,
                manifest=manifest,
                readme=readme,
                terms=terms,
                same_text=same_text,
                same_hardware=same_hardware,
                has_gpu=has_gpu,
                had_gpu=had_gpu,
            )

    def _unchanged(
        self,
        component: Component,
        previous: tuple[str | None, str, list[str]],
        readme: str,
        manifest: dict[str, Any],
    ) -> tuple[bool, bool]:
        """Whether the new latest version's searchable text (description, tags, README), and
        its hardware, are the previous latest's, which the index and the hardware facts hold.

        The terms are a function of that text and the component's name, the facts of the
        hardware, so when they are the same nothing needs reading or writing. Most new versions
        keep their component's description, tags, README and hardware; comparing them costs one
        read of the previous latest by the unique (component, version) index, where reading the
        component's few hundred stored terms to compare them cost more.

        Returns:
            ``(same_text, same_hardware)``.
        """
        latest, description, tags = previous
        if latest is None:
            return False, False
        if latest == component.latest_version:
            return (description, tags) == (component.description, component.tags), True
        stored = self.session.exec(
            select(Version.readme, Version.manifest).where(
                Version.component_id == component.id, Version.version == latest
            )
        ).first()
        if stored is None:
            return False, False
        stored_readme, stored_manifest = stored
        same_text = (description, tags) == (component.description, component.tags) and (
            stored_readme == readme
        )
        same_hardware = (stored_manifest or {}).get("hardware") == manifest.get("hardware")
        return same_text, same_hardware

    def _bump_catalog(self) -> None:
        """Bump ``hub_state.catalog_revision``: listings and searches cached before this
        change are not served after it (:mod:`hub_server.api.cache`).

        Callers make it the last statement of their transaction: on PostgreSQL it locks the
        one row every writer shares until the commit, so it must not wait for anything else
        while it holds it (and no two writers can then wait for each other). The session's
        pending changes are flushed first, for the same reason.
        """
        self.session.flush()
        self.session.execute(_BUMP_CATALOG)

    def _sync_tags(self, component_id: int, stored: set[str], tags: set[str]) -> None:
        """Make the component's tag rows ``tags``, touching only the ones that change.

        ``stored`` is the component's ``tags`` before this change: its tag rows are always that
        set (this is their only writer; the bench seeder's parity check holds it to that), so
        they are not read, and a version that keeps its tags writes none.
        """
        if stored - tags:
            self.session.execute(
                sa.delete(ComponentTag).where(
                    col(ComponentTag.component_id) == component_id,
                    col(ComponentTag.tag).in_(sorted(stored - tags)),
                )
            )
        for tag in sorted(tags - stored):
            self.session.add(ComponentTag(component_id=component_id, tag=tag))

    def _component_public(self, component: Any) -> ComponentPublic:
        # A Component, or a row of _PAGE_COLUMNS (SQLAlchemy's or the driver's named tuple).
        parent = (
            ParentPublic(ref=component.parent_ref, digest=component.parent_digest)
            if component.parent_ref
            else None
        )
        return ComponentPublic(
            namespace=component.namespace,
            name=component.name,
            description=component.description,
            category=component.category,
            tags=component.tags,
            latest_version=component.latest_version,
            versions_count=component.versions_count,
            hardware_variants=component.hardware_variants,
            has_gpu=component.has_gpu,
            has_cpu_only=component.has_cpu_only,
            forks_count=component.forks_count,
            pulls=component.pulls,
            parent=parent,
            created_at=component.created_at,
            updated_at=component.updated_at,
        )

    @staticmethod
    def _version_summary(row: Version) -> VersionSummary:
        return VersionSummary(
            version=row.version,
            digest=row.digest,
            size=row.size,
            prerelease=bool(row.prerelease),
            yanked=row.yanked,
            yanked_reason=row.yanked_reason,
            published_at=row.published_at,
            pulls=row.pulls,
        )

    def _version_public(
        self, component: Component, row: Version, *, publisher: str | _Unset | None = _UNSET
    ) -> VersionPublic:
        """The public model of a version; ``publisher`` (the user's name) when the caller has
        already loaded it, else it is looked up."""
        manifest = row.manifest
        base = (
            f"{API_PREFIX}/components/{component.namespace}/{component.name}/versions/{row.version}"
        )
        if isinstance(publisher, _Unset):
            user = self.session.get(User, row.publisher_id) if row.publisher_id else None
            publisher = user.name if user else None
        return VersionPublic(
            **self._version_summary(row).model_dump(),
            namespace=component.namespace,
            name=component.name,
            description=manifest.get("description", ""),
            category=manifest.get("category", "other"),
            tags=list(manifest.get("tags") or []),
            license=manifest.get("license"),
            authors=list(manifest.get("authors") or []),
            manifest=manifest,
            hardware=manifest.get("hardware") or {},
            interface=row.interface,
            image=row.image,
            image_pinned=row.image_pinned,
            images=row.images,
            publisher=publisher,
            yanked_at=row.yanked_at,
            forked_from=(
                ParentPublic(ref=row.forked_from, digest=row.forked_from_digest)
                if row.forked_from
                else None
            ),
            urls=VersionUrls(archive=f"{base}/archive", component_yaml=f"{base}/component.yaml"),
        )
