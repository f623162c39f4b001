"""Resolve a reference and bring its archive into the cache: what ``hub pull`` and
``load_component`` share.

The hub is asked only when it has to be:

1. A reference that ``hub.lock`` answers uses the locked version and digest. If that archive
   is cached, the hub is not contacted at all; if not, it is downloaded by exact version and
   must have the locked digest.
2. An exact version (or a digest) whose archive is cached for this hub needs no request
   either: published versions are immutable.
3. Anything else (a range, "latest") is resolved by the hub. If the hub cannot be reached,
   the highest cached version that satisfies the reference is used, with a warning that says
   so; if none is cached, :class:`~hub_cli.errors.OfflineError`.

Every archive that is used is checked against its digest first.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from hub_cli import constants
from hub_cli.cache import Cache
from hub_cli.client import HubClient
from hub_cli.errors import DigestMismatchError, HubConnectionError, OfflineError
from hub_cli.lockfile import LockedComponent, Lockfile, find_lockfile
from hub_cli.reference import Reference, SpecKind

__all__ = ["LockArg", "PulledPackage", "open_lockfile", "pull"]

log = logging.getLogger("hub_cli")

LockArg = str | Path | Lockfile | bool | None
"""``None``: use the ``hub.lock`` of the current folder or a parent, if any; ``False``: ignore
lockfiles; a path or a :class:`Lockfile`: use that one."""


@dataclass(frozen=True)
class PulledPackage:
    """A version whose archive is in the cache, checked against its digest.

    Attributes:
        namespace: The namespace.
        name: The component name.
        version: The exact version.
        digest: The archive digest.
        archive: The cached archive's path.
        source: ``hub`` (downloaded now), ``cache`` (was cached), ``lock`` (locked and
            cached: no request made) or ``offline`` (the hub was unreachable; a cached
            version was used instead).
        locked_by: The lockfile that pinned it, if one did.
        data: The archive bytes (already verified).
    """

    namespace: str
    name: str
    version: str
    digest: str
    archive: Path
    source: str
    locked_by: Path | None = None
    data: bytes = field(default=b"", repr=False, compare=False)

    @property
    def ref(self) -> str:
        """``namespace/name@version``."""
        return f"{self.namespace}/{self.name}@{self.version}"

    def files(self) -> dict[str, bytes]:
        """The package's files, unpacked in memory from the verified archive."""
        from hub_cli.cache import unpack_archive

        return unpack_archive(self.data)


def open_lockfile(lock: LockArg) -> Lockfile | None:
    """The lockfile a ``lock`` argument designates.

    Args:
        lock: See :data:`LockArg`.

    Returns:
        The lockfile, or None when there is none to use.

    Raises:
        LockfileError: it cannot be read.
    """
    if lock is False:
        return None
    if isinstance(lock, Lockfile):
        return lock
    if lock is None or lock is True:
        path = find_lockfile()
        return Lockfile.load(path) if path else None
    return Lockfile.load(lock)


class _Puller:
    def __init__(self, client: HubClient | None, cache: Cache | None) -> None:
        self._client = client
        self._owns_client = client is None
        self.cache = cache or Cache()
        self.hub_url = client.url if client else constants.load_config().url

    @property
    def client(self) -> HubClient:
        if self._client is None:
            self._client = HubClient(url=self.hub_url)
        return self._client

    def close(self) -> None:
        if self._owns_client and self._client is not None:
            self._client.close()

    def cached(self, ref: Reference, version: str, digest: str, source: str) -> PulledPackage:
        data = self.cache.read_blob(digest)
        assert data is not None
        return PulledPackage(
            namespace=ref.namespace,
            name=ref.name,
            version=version,
            digest=digest,
            archive=self.cache.blob_path(digest),
            source=source,
            data=data,
        )

    def download(self, ref: Reference, version: str, digest: str) -> PulledPackage:
        self.cache.store_blob(
            digest, lambda handle: self.client.download_archive(ref, version, handle)
        )
        self.cache.write_ref(self.hub_url, ref.namespace, ref.name, version, digest)
        return self.cached(ref, version, digest, "hub")

    def from_lock(self, ref: Reference, entry: LockedComponent, lockfile: Path) -> PulledPackage:
        if self.cache.has_blob(entry.digest):
            pulled = self.cached(ref, entry.version, entry.digest, "lock")
            log.info(
                "%s: using %s (%s) pinned by %s, from the cache; the hub is not contacted",
                ref,
                entry.version if str(ref) == entry.ref else entry.ref,
                entry.digest,
                lockfile,
            )
        else:
            try:
                pulled = self.download(ref, entry.version, entry.digest)
            except HubConnectionError as exc:
                raise OfflineError(
                    f"{lockfile} pins {entry.ref}, which is not in the cache, and the hub "
                    f"cannot be reached: {exc}",
                    url=exc.url,
                ) from exc
            except DigestMismatchError as exc:
                raise DigestMismatchError(
                    f"the hub's archive of {entry.ref} has the digest {exc.actual}, but "
                    f"{lockfile} pins {entry.digest}: the version was re-published elsewhere "
                    "or the lock is from another hub; nothing was cached",
                    expected=exc.expected,
                    actual=exc.actual,
                ) from exc
        return PulledPackage(
            namespace=pulled.namespace,
            name=pulled.name,
            version=pulled.version,
            digest=pulled.digest,
            archive=pulled.archive,
            source=pulled.source,
            locked_by=lockfile,
            data=pulled.data,
        )

    def without_network(self, ref: Reference) -> tuple[str, str] | None:
        """A cached (version, digest) that answers ``ref`` for sure, with no request."""
        if ref.kind == SpecKind.EXACT:
            digest = self.cache.read_ref(self.hub_url, ref.namespace, ref.name, ref.spec)
            if digest and self.cache.has_blob(digest):
                return ref.spec, digest
        if ref.kind == SpecKind.DIGEST and self.cache.has_blob(ref.spec):
            versions = self.cache.cached_versions(self.hub_url, ref.namespace, ref.name)
            for version, digest in versions.items():
                if digest == ref.spec:
                    return version, digest
        return None

    def best_cached(self, ref: Reference) -> tuple[str, str] | None:
        """The highest cached version that satisfies ``ref`` (yanks cannot be known here)."""
        from hub_server import semver

        versions = self.cache.cached_versions(self.hub_url, ref.namespace, ref.name)
        if ref.kind == SpecKind.EXACT:
            return (ref.spec, versions[ref.spec]) if ref.spec in versions else None
        if ref.kind == SpecKind.DIGEST:
            return next(((v, d) for v, d in versions.items() if d == ref.spec), None)
        wanted = semver.Range.parse(ref.spec)
        parsed = {}
        for version in versions:
            try:
                parsed[semver.Version.parse(version)] = version
            except semver.InvalidVersion:
                continue
        best = semver.max_satisfying(parsed, wanted)
        return (parsed[best], versions[parsed[best]]) if best is not None else None

    def pull(self, ref: Reference, lockfile: Lockfile | None) -> PulledPackage:
        entry = lockfile.find(ref) if lockfile else None
        if entry is not None and lockfile is not None:
            return self.from_lock(ref, entry, lockfile.path)
        known = self.without_network(ref)
        if known:
            return self.cached(ref, *known, "cache")
        try:
            if constants.offline():
                raise OfflineError(
                    f"HUB_OFFLINE is set: the hub at {self.hub_url} is not contacted",
                    url=self.hub_url,
                )
            info = self.client.resolve(ref)
        except HubConnectionError as exc:
            fallback = self.best_cached(ref)
            if fallback is None:
                raise OfflineError(
                    f"{exc}; no cached version of {ref} can stand in for it", url=exc.url
                ) from exc
            log.warning(
                "%s; working offline with the cached %s (%s)",
                exc,
                ref.at(fallback[0]),
                fallback[1],
            )
            return self.cached(ref, *fallback, "offline")
        if self.cache.has_blob(info.digest):
            self.cache.write_ref(self.hub_url, ref.namespace, ref.name, info.version, info.digest)
            return self.cached(ref, info.version, info.digest, "cache")
        return self.download(ref, info.version, info.digest)


def pull(
    ref: str | Reference,
    *,
    client: HubClient | None = None,
    cache: Cache | None = None,
    lock: LockArg = None,
) -> PulledPackage:
    """Resolve a reference and make sure its archive is in the cache, verified.

    Args:
        ref: ``namespace/name``, ``...@1.2.3``, ``...@^1.2`` or ``...@sha256:<hex>``.
        client: The hub client. Default: one from ``HUB_URL``/``HUB_TOKEN``/config file,
            created only if the hub must be asked.
        cache: The cache. Default: the user's cache (``HUB_CACHE_DIR``...).
        lock: Which ``hub.lock`` to follow; see :data:`LockArg`.

    Returns:
        The pulled version; ``source`` tells whether the hub was asked.

    Raises:
        InvalidReferenceError: ``ref`` is malformed.
        LockfileError: the lockfile is unreadable, or pins a version ``ref`` does not allow.
        ComponentNotFoundError, VersionNotFoundError, NoMatchingVersionError: nothing fits.
        OfflineError: the hub cannot be reached and the cache cannot stand in.
        DigestMismatchError: a cached or downloaded archive does not have its digest.
    """
    parsed = ref if isinstance(ref, Reference) else Reference.parse(ref)
    lockfile = open_lockfile(lock)
    puller = _Puller(client, cache)
    try:
        return puller.pull(parsed, lockfile)
    finally:
        puller.close()
