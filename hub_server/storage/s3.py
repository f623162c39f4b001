"""Blobs in an S3 bucket (or any S3-compatible store): ``<prefix>/sha256/ab/abcdef...``.

An S3 PUT is atomic (readers see the old object or the whole new one), so no temp-object dance
is needed. boto3 is imported only when this backend is used.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from hub_server.storage import BlobInfo

_DIGEST_RE = re.compile(r"^sha256:([0-9a-f]{64})$")


def _hex(digest: str) -> str:
    match = _DIGEST_RE.match(digest)
    if not match:
        raise ValueError(f"not a sha256 digest: {digest!r}")
    return match.group(1)


class S3Storage:
    """Content-addressed objects under ``prefix`` in ``bucket``."""

    def __init__(self, bucket: str, prefix: str = "", *, endpoint_url: str | None = None) -> None:
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.client: Any = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            config=Config(retries={"max_attempts": 5, "mode": "standard"}),
        )

    def _key(self, digest: str) -> str:
        hex_ = _hex(digest)
        return "/".join(p for p in (self.prefix, "sha256", hex_[:2], hex_) if p)

    def put(self, digest: str, data: bytes) -> None:
        if self.exists(digest):
            return
        self.client.put_object(
            Bucket=self.bucket,
            Key=self._key(digest),
            Body=data,
            ContentType="application/gzip",
            # The store checks the bytes it received against the digest we name them by.
            ChecksumSHA256=_b64(_hex(digest)),
        )

    def get(self, digest: str) -> bytes:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._key(digest))
        except self.client.exceptions.NoSuchKey:
            raise KeyError(digest) from None
        data: bytes = response["Body"].read()
        return data

    def exists(self, digest: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(digest))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def delete(self, digest: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(digest))

    def iter_blobs(self) -> Iterator[BlobInfo]:
        base = "/".join(p for p in (self.prefix, "sha256") if p) + "/"
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=base):
            for item in page.get("Contents", []):
                name = item["Key"].rsplit("/", 1)[-1]
                if _DIGEST_RE.match("sha256:" + name):
                    yield BlobInfo(
                        digest="sha256:" + name, size=item["Size"], modified=item["LastModified"]
                    )

    def check(self) -> None:
        self.client.head_bucket(Bucket=self.bucket)


def _b64(hex_digest: str) -> str:
    import base64

    return base64.b64encode(bytes.fromhex(hex_digest)).decode()
