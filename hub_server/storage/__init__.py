"""Blob storage: content-addressed bytes behind one small Protocol, picked by URL scheme.

Keys are archive digests (``sha256:<hex>``). Writes are idempotent (same key, same bytes) and
atomic (a reader never sees a half-written blob). Backends: ``file://`` now; S3 plugs in here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol, runtime_checkable
from urllib.parse import urlparse

from hub_server.errors import BadRequest


@runtime_checkable
class BlobStorage(Protocol):
    """What the registry needs from a blob store."""

    def put(self, digest: str, data: bytes) -> None:
        """Store ``data`` under ``digest`` (idempotent, atomic)."""

    def get(self, digest: str) -> bytes:
        """The bytes stored under ``digest``; ``KeyError`` if none."""

    def exists(self, digest: str) -> bool:
        """Whether a blob is stored under ``digest``."""

    def delete(self, digest: str) -> None:
        """Remove the blob (no error if it is absent)."""

    def iter_digests(self) -> Iterator[str]:
        """Every stored digest (for garbage collection)."""

    def check(self) -> None:
        """Raise if the store cannot be reached (readiness)."""


def open_storage(url: str, *, s3_endpoint_url: str | None = None) -> BlobStorage:
    """Open the backend that ``url`` names.

    Args:
        url: ``file:///abs/path`` or ``s3://bucket/prefix``.
        s3_endpoint_url: endpoint of an S3-compatible service (S3 backend only).

    Returns:
        The storage backend.

    Raises:
        BadRequest: ``invalid_storage_url`` for an unknown scheme.
    """
    parsed = urlparse(url)
    if parsed.scheme == "file":
        from hub_server.storage.local import LocalStorage

        return LocalStorage(parsed.path)
    raise BadRequest(
        f"unsupported storage URL {url!r} (expected file:///path)",
        code="invalid_storage_url",
    )
