"""Pinning container images: resolve a tag to its manifest digest through the OCI distribution
API, so a published version records exactly which image it runs.

``python:3.11-slim`` → ``docker.io/library/python`` → ``HEAD /v2/library/python/manifests/
3.11-slim`` on ``registry-1.docker.io`` → ``Docker-Content-Digest: sha256:...``. Registries that
want a token for anonymous pulls (Docker Hub, GHCR, ...) answer 401 with a ``WWW-Authenticate:
Bearer realm=...`` challenge; the anonymous token flow of the distribution spec is followed.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    # Imported where a registry is asked: httpx brings click, rich and pygments along (its
    # command line), ~7 MiB in every worker that may never resolve a tag.
    import httpx

log = logging.getLogger("hub.oci")

MANIFEST_TYPES = ", ".join(
    [
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ]
)
DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"
_DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
_CHALLENGE_RE = re.compile(r'(\w+)="([^"]*)"')
_REPOSITORY_RE = re.compile(r"[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*")
_LOCAL_HOSTS = ("localhost", "127.0.0.1", "[::1]")


@dataclass(frozen=True)
class ImageRef:
    """A parsed image reference, normalised like ``docker pull`` does."""

    registry: str
    repository: str
    tag: str | None
    digest: str | None

    @classmethod
    def parse(cls, text: str) -> ImageRef:
        """Parse ``[registry/]repository[:tag][@sha256:...]``.

        Raises:
            ValueError: not an image reference.
        """
        rest, _, digest = text.strip().partition("@")
        if digest and not _DIGEST_RE.match(digest):
            raise ValueError(f"{text!r}: the digest is not sha256:<64 hex>")
        first, slash, remainder = rest.partition("/")
        if slash and ("." in first or ":" in first or first == "localhost"):
            registry, path = first, remainder
        else:
            registry, path = DOCKER_HUB, rest
        if ":" in path:
            name, _, tag = path.rpartition(":")
        else:
            name, tag = path, ""
        if not _REPOSITORY_RE.fullmatch(name):
            raise ValueError(f"{text!r} is not an image reference")
        if registry == DOCKER_HUB and "/" not in name:
            name = f"library/{name}"
        return cls(registry=registry, repository=name, tag=tag or None, digest=digest or None)

    @property
    def pinned(self) -> bool:
        return self.digest is not None


@dataclass(frozen=True)
class ImageResolution:
    """What the hub learned about one image reference at publish time."""

    ref: str
    resolved: str | None
    """``ref@sha256:...`` when pinned (given with a digest, or resolved now)."""
    digest: str | None
    error: str | None = None

    @property
    def pinned(self) -> bool:
        return self.digest is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "resolved": self.resolved,
            "digest": self.digest,
            "pinned": self.pinned,
            "error": self.error,
        }


class ImageNotFound(Exception):
    """The registry answered, and it has no such image or tag."""


class ImageResolver:
    """Resolves tags to digests; remembers unreachable registries for a while so a hub
    without network does not wait on every publish."""

    def __init__(
        self,
        *,
        timeout: float = 3.0,
        insecure_registries: tuple[str, ...] = (),
        unreachable_ttl: float = 300.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.timeout = timeout
        self.insecure = set(insecure_registries)
        self.unreachable_ttl = unreachable_ttl
        self._unreachable: dict[str, float] = {}
        self._transport = transport

    def _base_url(self, registry: str) -> str:
        host = DOCKER_HUB_API if registry == DOCKER_HUB else registry
        plain_http = registry in self.insecure or host.split(":")[0] in _LOCAL_HOSTS
        return f"{'http' if plain_http else 'https'}://{host}"

    def resolve(self, text: str) -> ImageResolution:
        """Pin ``text`` to a digest where its registry can be reached.

        Returns:
            The resolution; ``error`` says why an image stays unpinned (unreachable registry,
            credentials required, ...).

        Raises:
            ValueError: ``text`` is not an image reference.
            ImageNotFound: the registry answered that the image or tag does not exist.
        """
        ref = ImageRef.parse(text)
        if ref.pinned:
            return ImageResolution(ref=text, resolved=text, digest=ref.digest)
        until = self._unreachable.get(ref.registry, 0.0)
        if until > time.monotonic():
            return ImageResolution(
                ref=text, resolved=None, digest=None, error=f"{ref.registry} is unreachable"
            )
        import httpx

        try:
            digest = self._manifest_digest(ref)
        except httpx.TransportError as exc:
            self._unreachable[ref.registry] = time.monotonic() + self.unreachable_ttl
            log.info("image registry %s unreachable: %s", ref.registry, exc)
            return ImageResolution(
                ref=text,
                resolved=None,
                digest=None,
                error=f"{ref.registry} is unreachable ({type(exc).__name__})",
            )
        except PermissionError as exc:
            return ImageResolution(ref=text, resolved=None, digest=None, error=str(exc))
        return ImageResolution(ref=text, resolved=f"{text}@{digest}", digest=digest)

    def _manifest_digest(self, ref: ImageRef) -> str:
        import httpx

        url = f"{self._base_url(ref.registry)}/v2/{ref.repository}/manifests/{ref.tag or 'latest'}"
        headers = {"Accept": MANIFEST_TYPES}
        with httpx.Client(timeout=self.timeout, transport=self._transport) as client:
            response = client.head(url, headers=headers)
            if response.status_code == 401:
                token = self._anonymous_token(client, response, ref)
                headers["Authorization"] = f"Bearer {token}"
                response = client.head(url, headers=headers)
            if response.status_code in (401, 403):
                raise PermissionError(f"{ref.registry} requires credentials to read this image")
            if response.status_code == 404:
                raise ImageNotFound(
                    f"{ref.registry}/{ref.repository}:{ref.tag or 'latest'} does not exist"
                )
            response.raise_for_status()
            digest: str | None = response.headers.get("docker-content-digest")
            if digest and _DIGEST_RE.match(digest):
                return digest
            # Some registries leave the header out of HEAD answers: hash the manifest itself.
            body = client.get(url, headers=headers)
            body.raise_for_status()
            return "sha256:" + hashlib.sha256(body.content).hexdigest()

    @staticmethod
    def _anonymous_token(client: httpx.Client, challenge: httpx.Response, ref: ImageRef) -> str:
        header = challenge.headers.get("www-authenticate", "")
        if not header.lower().startswith("bearer "):
            raise PermissionError(f"{ref.registry} requires credentials to read this image")
        params = dict(_CHALLENGE_RE.findall(header))
        realm = params.pop("realm", None)
        if not realm:
            raise PermissionError(f"{ref.registry} sent an authentication challenge without realm")
        params.setdefault("scope", f"repository:{ref.repository}:pull")
        answer = client.get(realm, params=params)
        if answer.status_code != 200:
            raise PermissionError(f"{ref.registry} refused an anonymous pull token")
        body = answer.json()
        token = body.get("token") or body.get("access_token")
        if not token:
            raise PermissionError(f"{ref.registry} sent no token")
        return str(token)
