"""Blobs as files under one folder: ``<root>/sha256/ab/abcdef...``."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from hub_server.storage import BlobInfo

_DIGEST_RE = re.compile(r"^sha256:([0-9a-f]{64})$")


def _hex(digest: str) -> str:
    match = _DIGEST_RE.match(digest)
    if not match:
        raise ValueError(f"not a sha256 digest: {digest!r}")
    return match.group(1)


class LocalStorage:
    """Content-addressed files; written to a temp file in the same folder, then renamed."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, digest: str) -> Path:
        hex_ = _hex(digest)
        return self.root / "sha256" / hex_[:2] / hex_

    def put(self, digest: str, data: bytes) -> None:
        path = self._path(digest)
        if path.exists():
            # Written again now: make it young, so garbage collection spares it until the
            # version that names it has committed.
            os.utime(path)
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, digest: str) -> bytes:
        try:
            return self._path(digest).read_bytes()
        except FileNotFoundError:
            raise KeyError(digest) from None

    def exists(self, digest: str) -> bool:
        return self._path(digest).is_file()

    def delete(self, digest: str) -> None:
        self._path(digest).unlink(missing_ok=True)

    def iter_blobs(self) -> Iterator[BlobInfo]:
        base = self.root / "sha256"
        if not base.is_dir():
            return
        for path in sorted(base.glob("??/*")):
            if _DIGEST_RE.match("sha256:" + path.name):
                stat = path.stat()
                yield BlobInfo(
                    digest="sha256:" + path.name,
                    size=stat.st_size,
                    modified=datetime.fromtimestamp(stat.st_mtime, UTC),
                )

    def check(self) -> None:
        if not self.root.is_dir() or not os.access(self.root, os.W_OK):
            raise OSError(f"blob folder {self.root} is not a writable directory")
