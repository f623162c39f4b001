"""Publishing the built-in components of ``components/`` into a hub, idempotently.

``hub serve`` calls :func:`seed_builtin_components` once its database is migrated and its
administrator exists, so a fresh hub starts with the ``library`` namespace filled. Every start
publishes through the same service layer as the API (:meth:`ComponentService.publish`, as the
administrator), and every start may run it again:

- a package whose version is already published with the same digest is left alone
  (``unchanged``);
- a package whose version is new is published (``published``);
- a package whose version is published with a *different* digest is an error: published
  versions are immutable, so the fix is a version bump in its ``hub.yaml``, never an overwrite.

Every package is packed and checked before anything is stored, so an invalid or changed
package stops the whole seeding with nothing published.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from sqlmodel import Session

from hub_server.archive import pack
from hub_server.db import make_engine
from hub_server.errors import Conflict, HubError, NotFound
from hub_server.oci import ImageResolver
from hub_server.packages import validate_package
from hub_server.services.auth import ADMIN_USER, AuthService, Principal
from hub_server.services.components import ComponentService
from hub_server.settings import Settings
from hub_server.storage import open_storage

__all__ = [
    "BUILTIN_COMPONENTS_DIR",
    "BUILTIN_NAMESPACE",
    "SeedError",
    "SeedResult",
    "SeedStatus",
    "package_folders",
    "seed_builtin_components",
    "seed_components",
]

log = logging.getLogger("hub.seed")

BUILTIN_NAMESPACE = "library"
# The repository's components/ folder. It exists in a checkout (and an editable install), not
# in a wheel: callers check ``is_dir()`` before seeding from it.
BUILTIN_COMPONENTS_DIR = Path(__file__).resolve().parent.parent / "components"
_MANIFEST = "hub.yaml"


class SeedStatus(StrEnum):
    PUBLISHED = "published"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class SeedResult:
    """What seeding did with one package.

    Attributes:
        namespace: the namespace it lives in.
        name: the component name (its folder's name).
        version: the version of its ``hub.yaml``.
        digest: the archive digest (``sha256:<hex>``).
        status: ``published`` now, or ``unchanged`` (that version, same digest, was there).
    """

    namespace: str
    name: str
    version: str
    digest: str
    status: SeedStatus

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}@{self.version}"


class SeedError(HubError):
    """The built-in components cannot be published as they are; nothing was stored.

    Attributes:
        problems: one message per package at fault, each naming the package.
    """

    default_code = "seed_failed"

    def __init__(self, problems: list[str]) -> None:
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        super().__init__(
            f"cannot publish the built-in components ({count}):\n"
            + "\n".join(f"  - {p}" for p in problems),
            problems=problems,
        )
        self.problems = problems


@dataclass(frozen=True)
class _Planned:
    folder: Path
    namespace: str
    name: str
    version: str
    digest: str
    data: bytes
    published: bool


def package_folders(components_dir: Path) -> list[Path]:
    """The package folders (those with a ``hub.yaml``) directly in ``components_dir``, by name."""
    return sorted(
        (p for p in components_dir.iterdir() if p.is_dir() and (p / _MANIFEST).is_file()),
        key=lambda p: p.name,
    )


def seed_builtin_components(
    settings: Settings,
    components_dir: Path,
    *,
    namespace: str = BUILTIN_NAMESPACE,
    resolve_images: bool = False,
) -> list[SeedResult]:
    """Publish every package folder of ``components_dir`` into the hub that ``settings`` names.

    Call it after the database is migrated and the administrator bootstrapped (what
    :func:`hub_server.serve.prepare` does); it opens and disposes its own engine.

    Args:
        settings: the hub's configuration (database, blob storage, archive limits, and
            ``admin_token``, used only if the administrator does not exist yet).
        components_dir: the folder holding one package folder per component.
        namespace: the namespace to publish into.
        resolve_images: pin image tags to digests through their registries, as API publishes
            do when ``settings.resolve_images`` is on. Off by default: a hub must start without
            network, and a built-in's images are those its Dockerfile builds.

    Returns:
        One result per package, in folder-name order.

    Raises:
        SeedError: a package is invalid, or changed without a version bump, or there is no
            administrator; nothing was published.
    """
    engine = make_engine(settings.resolved_database_url)
    try:
        storage = open_storage(
            settings.resolved_storage_url, s3_endpoint_url=settings.s3_endpoint_url
        )
        images = (
            ImageResolver(
                timeout=settings.image_resolve_timeout,
                insecure_registries=tuple(settings.insecure_registries),
            )
            if resolve_images
            else None
        )
        admin_token = settings.admin_token.get_secret_value() if settings.admin_token else None
        with Session(engine) as session:
            service = ComponentService(session, storage, settings.archive_limits, images=images)
            principal = _administrator(service.auth, admin_token)
            return seed_components(service, principal, components_dir, namespace=namespace)
    finally:
        engine.dispose()


def seed_components(
    service: ComponentService,
    principal: Principal,
    components_dir: Path,
    *,
    namespace: str = BUILTIN_NAMESPACE,
) -> list[SeedResult]:
    """Publish every package folder of ``components_dir`` through ``service`` as ``principal``.

    Every package is packed, validated and compared with what is published before anything is
    stored; only then are the new versions published, one transaction each.

    Args:
        service: the component service, on an open session.
        principal: who publishes (the administrator, for the built-ins).
        components_dir: the folder holding one package folder per component.
        namespace: the namespace to publish into.

    Returns:
        One result per package, in folder-name order.

    Raises:
        SeedError: see :func:`seed_builtin_components`.
    """
    if not components_dir.is_dir():
        raise SeedError([f"{components_dir} is not a directory of component packages"])
    plan, problems = _plan(service, package_folders(components_dir), namespace)
    if problems:
        raise SeedError(problems)
    results: list[SeedResult] = []
    for item in plan:
        status = SeedStatus.UNCHANGED if item.published else _publish(service, principal, item)
        result = SeedResult(namespace, item.name, item.version, item.digest, status)
        log.info(
            "%s %s", status.value, result.ref, extra={"ref": result.ref, "digest": item.digest}
        )
        results.append(result)
    return results


def _administrator(auth: AuthService, admin_token: str | None) -> Principal:
    """The administrator, created through :class:`AuthService` when ``admin_token`` allows."""
    try:
        user = auth.get_user(ADMIN_USER)
    except NotFound:
        if not admin_token:
            # Bootstrapping here would mint a token nobody ever sees (and keep `hub serve`
            # from minting the one it shows): that is serve's job, which runs first.
            raise SeedError(
                [
                    f"there is no {ADMIN_USER!r} user to publish as; bootstrap the "
                    "administrator first (hub_server.serve.prepare) or set HUB_ADMIN_TOKEN"
                ]
            ) from None
        auth.bootstrap_admin(admin_token)
        user = auth.get_user(ADMIN_USER)
    if user.id is None or not user.is_admin:
        raise SeedError([f"the {ADMIN_USER!r} user is not an administrator"])
    return Principal(id=user.id, name=user.name, is_admin=True)


def _plan(
    service: ComponentService, folders: Iterable[Path], namespace: str
) -> tuple[list[_Planned], list[str]]:
    """Pack and check every folder; nothing is stored."""
    plan: list[_Planned] = []
    problems: list[str] = []
    for folder in folders:
        name = folder.name
        try:
            data = pack(folder)
            package = validate_package(data, namespace=namespace, name=name, limits=service.limits)
        except HubError as exc:
            problems.append(f"{namespace}/{name} ({folder}) is not a valid package: {exc}")
            continue
        version = str(package.version)
        ref = f"{namespace}/{name}@{version}"
        published = _published_digest(service, namespace, name, version)
        if published is not None and published != package.digest:
            problems.append(_changed_message(ref, folder, published, package.digest))
            continue
        plan.append(
            _Planned(
                folder=folder,
                namespace=namespace,
                name=name,
                version=version,
                digest=package.digest,
                data=data,
                published=published is not None,
            )
        )
    return plan, problems


def _publish(service: ComponentService, principal: Principal, item: _Planned) -> SeedStatus:
    try:
        service.publish(principal, item.namespace, item.name, item.data)
    except Conflict as exc:
        if exc.code != "version_exists":
            raise
        # Another replica starting at the same moment published it first.
        published = _published_digest(service, item.namespace, item.name, item.version)
        if published == item.digest:
            return SeedStatus.UNCHANGED
        ref = f"{item.namespace}/{item.name}@{item.version}"
        raise SeedError(
            [_changed_message(ref, item.folder, published or "(unknown)", item.digest)]
        ) from None
    return SeedStatus.PUBLISHED


def _published_digest(
    service: ComponentService, namespace: str, name: str, version: str
) -> str | None:
    try:
        return service.version_digest(namespace, name, version)
    except NotFound:
        return None


def _changed_message(ref: str, folder: Path, published: str, local: str) -> str:
    return (
        f"{ref} is already published with digest {published}, but {folder} now packs to "
        f"{local}: published versions are immutable, so bump 'version' in {folder / _MANIFEST} "
        "to publish the change"
    )
