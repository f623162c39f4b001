"""The local, content-addressed cache of package archives.

Layout under the cache root (``HUB_CACHE_DIR``, ``$XDG_CACHE_HOME/hub`` or ``~/.cache/hub``)::

    blobs/sha256/<hex>                      archive bytes, named by their digest
    refs/<hub>/<namespace>/<name>/<version> the digest that version has on that hub
    snapshots/<hex>/                        the archive unpacked (what `hub pull` shows)
    locks/<hex>.lock                        one download of a blob at a time

Rules:

* Every blob is written to a temporary file next to its final place, checked against its
  digest, and only then renamed into place (``os.replace`` is atomic), so a crash or a
  concurrent writer never leaves a half or wrong file under ``blobs/``. Snapshots are
  unpacked into a temporary folder and renamed the same way.
* A per-digest file lock makes concurrent pullers of one version download it once; the
  others wait and then find it. Correctness does not depend on the lock: two writers would
  each rename a complete, verified file into place.
* Every read of a blob checks its digest. A mismatch raises :class:`DigestMismatchError`
  naming the file; the cache never silently downloads it again.
* Refs are keyed by hub (its host, port and path), since two hubs may hold different
  archives under the same ``namespace/name@version``. Digests are global.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

from hub_cli import constants
from hub_cli.errors import DigestMismatchError, HubError

__all__ = ["Cache", "hub_key"]

_DIGEST_RE = re.compile(r"^sha256:([0-9a-f]{64})$")
_LOCK_TIMEOUT = 600.0


def hub_key(url: str) -> str:
    """The folder name that keeps one hub's refs apart from another's.

    Args:
        url: The hub's base URL.

    Returns:
        ``host_port`` (and path), with anything but letters, digits, ``.`` and ``-`` as ``_``.
    """
    parts = urlsplit(url)
    text = (parts.netloc + parts.path.rstrip("/")) or url
    return re.sub(r"[^A-Za-z0-9.-]+", "_", text).strip("_") or "hub"


def _hex(digest: str) -> str:
    match = _DIGEST_RE.match(digest)
    if not match:
        raise HubError(f"{digest!r} is not a sha256 digest", code="invalid_digest")
    return match.group(1)


def _sha256_file(path: Path) -> str:
    hasher = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            hasher.update(chunk)
    return "sha256:" + hasher.hexdigest()


def _temp_name(target: Path) -> Path:
    return target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")


def _write_atomically(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = _temp_name(target)
    try:
        temp.write_bytes(data)
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)


class Cache:
    """The cache rooted at ``root`` (default: :func:`hub_cli.constants.cache_dir`)."""

    def __init__(self, root: str | Path | None = None) -> None:
        """Open the cache (nothing is created until something is stored).

        Args:
            root: The cache folder. Default: ``HUB_CACHE_DIR``, ``$XDG_CACHE_HOME/hub`` or
                ``~/.cache/hub``.
        """
        self.root = Path(root) if root is not None else constants.cache_dir()

    # ----------------------------------------------------------------------------- blobs

    def blob_path(self, digest: str) -> Path:
        """Where the archive with ``digest`` lives.

        Args:
            digest: ``sha256:<hex>``.

        Returns:
            The path (the file may not exist).

        Raises:
            HubError: ``invalid_digest`` for anything but a sha256 digest.
        """
        return self.root / "blobs" / "sha256" / _hex(digest)

    def has_blob(self, digest: str) -> bool:
        """Whether an archive with ``digest`` is cached (its content is not checked here).

        Args:
            digest: ``sha256:<hex>``.

        Returns:
            True if the file exists.
        """
        return self.blob_path(digest).is_file()

    def _mismatch(self, path: Path, expected: str, actual: str) -> DigestMismatchError:
        return DigestMismatchError(
            f"the cached archive {path} is corrupt: its digest is {actual}, not {expected}; "
            "delete it and pull again",
            expected=expected,
            actual=actual,
            path=str(path),
        )

    def read_blob(self, digest: str) -> bytes | None:
        """The cached archive with ``digest``, checked against it.

        Args:
            digest: ``sha256:<hex>``.

        Returns:
            The bytes, or None if that archive is not cached.

        Raises:
            DigestMismatchError: the cached file does not have that digest (corrupt).
        """
        path = self.blob_path(digest)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        actual = "sha256:" + hashlib.sha256(data).hexdigest()
        if actual != digest:
            raise self._mismatch(path, digest, actual)
        return data

    def store_blob(self, digest: str, fill: Callable[[IO[bytes]], object]) -> Path:
        """Make sure the archive with ``digest`` is cached, writing it with ``fill`` if not.

        ``fill`` writes the bytes into a temporary file (for example by streaming a
        download); they are checked against ``digest`` before the file is moved into place.
        Concurrent callers for one digest run ``fill`` once; the others wait for it.

        Args:
            digest: The digest the bytes must have.
            fill: Writes the archive into the binary file it is given.

        Returns:
            The blob's path.

        Raises:
            DigestMismatchError: the written bytes, or an already cached file, do not have
                ``digest``. The temporary file is removed; nothing is moved into place.
        """
        from filelock import FileLock, Timeout

        target = self.blob_path(digest)
        target.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.root / "locks" / f"{_hex(digest)}.lock"
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with FileLock(lock_path, timeout=_LOCK_TIMEOUT):
                if target.is_file():
                    actual = _sha256_file(target)
                    if actual != digest:
                        raise self._mismatch(target, digest, actual)
                    return target
                temp = _temp_name(target)
                try:
                    with temp.open("wb") as handle:
                        fill(handle)
                    actual = _sha256_file(temp)
                    if actual != digest:
                        raise DigestMismatchError(
                            f"the downloaded archive has the digest {actual}, not {digest}: "
                            "it was corrupted on the way or changed on the hub; nothing was "
                            "cached",
                            expected=digest,
                            actual=actual,
                        )
                    os.replace(temp, target)
                finally:
                    temp.unlink(missing_ok=True)
        except Timeout:
            raise HubError(
                f"another process has held {lock_path} for {_LOCK_TIMEOUT:.0f} s; "
                "if none is running, delete that file",
                code="cache_locked",
            ) from None
        return target

    def store_bytes(self, data: bytes, digest: str | None = None) -> Path:
        """Cache archive bytes already in memory.

        Args:
            data: The archive.
            digest: The digest they must have. Default: computed from ``data``.

        Returns:
            The blob's path.

        Raises:
            DigestMismatchError: ``data`` does not have ``digest``.
        """
        digest = digest or "sha256:" + hashlib.sha256(data).hexdigest()
        return self.store_blob(digest, lambda handle: handle.write(data))

    # ----------------------------------------------------------------------------- snapshots

    def snapshot_path(self, digest: str) -> Path:
        """Where the unpacked archive with ``digest`` lives.

        Args:
            digest: ``sha256:<hex>``.

        Returns:
            The folder's path (it may not exist).
        """
        return self.root / "snapshots" / _hex(digest)

    def snapshot(self, digest: str) -> Path:
        """The unpacked package of a cached archive, unpacking it first if needed.

        Args:
            digest: A cached archive's digest.

        Returns:
            The snapshot folder.

        Raises:
            FileNotFoundError: the archive is not cached.
            DigestMismatchError: the cached archive is corrupt.
        """
        target = self.snapshot_path(digest)
        if target.is_dir():
            return target
        data = self.read_blob(digest)
        if data is None:
            raise FileNotFoundError(f"{digest} is not in the cache at {self.root}")
        write_tree(target, unpack_archive(data))
        return target

    # ----------------------------------------------------------------------------- refs

    def _ref_path(self, hub_url: str, namespace: str, name: str, version: str) -> Path:
        return self.root / "refs" / hub_key(hub_url) / namespace / name / version

    def read_ref(self, hub_url: str, namespace: str, name: str, version: str) -> str | None:
        """The digest cached for ``namespace/name@version`` on a hub, if any.

        Args:
            hub_url: The hub's base URL.
            namespace: The namespace.
            name: The component name.
            version: The exact version.

        Returns:
            ``sha256:<hex>`` or None.
        """
        path = self._ref_path(hub_url, namespace, name, version)
        try:
            digest = path.read_text(encoding="utf-8").strip()
        except (FileNotFoundError, NotADirectoryError):
            return None
        return digest if _DIGEST_RE.match(digest) else None

    def write_ref(self, hub_url: str, namespace: str, name: str, version: str, digest: str) -> None:
        """Record that ``namespace/name@version`` has ``digest`` on a hub.

        Args:
            hub_url: The hub's base URL.
            namespace: The namespace.
            name: The component name.
            version: The exact version.
            digest: Its archive digest.
        """
        _hex(digest)
        path = self._ref_path(hub_url, namespace, name, version)
        _write_atomically(path, (digest + "\n").encode())

    def cached_versions(self, hub_url: str, namespace: str, name: str) -> dict[str, str]:
        """Every version of a component whose ref is cached for a hub.

        Args:
            hub_url: The hub's base URL.
            namespace: The namespace.
            name: The component name.

        Returns:
            ``{version: digest}`` (only versions whose archive is cached too).
        """
        folder = self.root / "refs" / hub_key(hub_url) / namespace / name
        found: dict[str, str] = {}
        if not folder.is_dir():
            return found
        for entry in folder.iterdir():
            if entry.name.startswith(".") or not entry.is_file():
                continue
            digest = self.read_ref(hub_url, namespace, name, entry.name)
            if digest and self.has_blob(digest):
                found[entry.name] = digest
        return found


def unpack_archive(data: bytes) -> dict[str, bytes]:
    """Unpack archive bytes in memory with the hub's own safe reader.

    Args:
        data: A package archive.

    Returns:
        ``{relative path: bytes}``.

    Raises:
        InvalidPackageError: the archive is not a valid package archive.
    """
    from hub_cli.errors import InvalidPackageError
    from hub_server.archive import unpack
    from hub_server.errors import HubError as ServerError

    try:
        return unpack(data)
    except ServerError as exc:
        raise InvalidPackageError(exc.message, code=exc.code, **exc.detail) from None


def write_tree(target: Path, files: dict[str, bytes]) -> None:
    """Write unpacked files into a new folder ``target``, atomically (temp folder + rename).

    If ``target`` appears meanwhile (another process won the race), the copy made here is
    dropped and theirs is kept.

    Args:
        target: The folder to create; must not exist (or be an empty folder).
        files: ``{relative path: bytes}`` as :func:`unpack_archive` returns.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = _temp_name(target)
    try:
        temp.mkdir()
        for rel, content in files.items():
            path = temp / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
        try:
            os.rename(temp, target)
        except OSError:
            if not target.is_dir():
                raise
    finally:
        if temp.exists():
            shutil.rmtree(temp, ignore_errors=True)
