"""Blob storage: content-addressed bytes behind one small Protocol, picked by URL scheme.

Keys are archive digests (``sha256:<hex>``). Writes are idempotent (same key, same bytes) and
atomic (a reader never sees a half-written blob). Backends: ``file://`` (local folder) and
``s3://bucket/prefix`` (boto3; ``HUB_S3_ENDPOINT_URL`` for any S3-compatible endpoint).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable
from urllib.parse import urlparse

from hub_server.errors import BadRequest


@dataclass(frozen=True)
class BlobInfo:
    digest: str
    size: int
    modified: datetime
    """When the blob was written (UTC); garbage collection spares young blobs."""


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

    def iter_blobs(self) -> Iterator[BlobInfo]:
        """Every stored blob (for garbage collection)."""

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
    if parsed.scheme == "s3":
        if not parsed.netloc:
            raise BadRequest(f"{url!r} names no bucket", code="invalid_storage_url")
        from hub_server.storage.s3 import S3Storage

        return S3Storage(parsed.netloc, parsed.path, endpoint_url=s3_endpoint_url)
    raise BadRequest(
        f"unsupported storage URL {url!r} (expected file:///path or s3://bucket/prefix)",
        code="invalid_storage_url",
    )
