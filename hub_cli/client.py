"""``HubClient``: one typed method per route of the hub's REST API (``/api/v1``).

The client is a thin layer over an ``httpx.Client``. Pass your own (for example FastAPI's
``TestClient``, which is one) as ``http_client`` and it is used as it is: that is how the tests
run the SDK against the real app in-process, with no HTTP mocked.
"""

from __future__ import annotations

import io
import logging
import platform
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any, Self
from urllib.parse import quote, urlsplit

from hub_cli import __version__, constants
from hub_cli.errors import (
    ConfigError,
    HubConnectionError,
    HubHTTPError,
    InvalidReferenceError,
    error_from_response,
)
from hub_cli.models import ComponentInfo, Page, TokenInfo, UserInfo, VersionInfo, VersionSummary
from hub_cli.reference import Reference, SpecKind

if TYPE_CHECKING:
    # httpx is imported when the first request is sent: importing it costs about 100 ms,
    # which a command answered from the cache (a warm `hub pull`) should not pay.
    import httpx

__all__ = ["HubClient", "ProgressCallback"]

log = logging.getLogger("hub_cli")

API = "/api/v1"
# 502/503/504 are what proxies and a restarting hub answer; 500 is a bug and not retried.
_RETRY_STATUSES = frozenset({502, 503, 504})
_MAX_RETRY_AFTER = 10.0

ProgressCallback = Callable[[int, int], None]
"""Called as ``progress(bytes_sent, total_bytes)`` while an archive uploads."""


def _check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(
            f"{url!r} is not a hub URL: expected http(s)://host[:port] "
            "(see HUB_URL or `hub login`)",
            url=url,
        )
    return url.rstrip("/")


def _segment(value: str) -> str:
    return quote(value, safe="")


class _ProgressReader(io.BytesIO):
    """In-memory bytes that report how much of them has been read (httpx reads in chunks)."""

    def __init__(self, data: bytes, progress: ProgressCallback) -> None:
        super().__init__(data)
        self._total = len(data)
        self._progress = progress

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        self._progress(self.tell(), self._total)
        return chunk


class HubClient:
    """A client for one Component Hub.

    Reads need no token; writes (publish, fork, yank, users, tokens) do. Idempotent requests
    (every GET, yank and un-yank) are retried with exponential backoff after a connection
    error or a 502/503/504; writes that are not idempotent are sent once.

    Example::

        from hub_cli import HubClient

        with HubClient() as hub:                    # HUB_URL / HUB_TOKEN / config file
            for item in hub.list_components(query="xgboost").items:
                print(item.id, item.latest_version)
            version = hub.resolve("ml/train-xgboost@^1.2")
    """

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        http_client: httpx.Client | None = None,
        *,
        timeout: float = 30.0,
        max_retries: int | None = None,
        backoff: float = 0.2,
    ) -> None:
        """Create a client.

        Args:
            url: The hub's base URL. Default: the injected client's ``base_url`` if it has
                one, else ``HUB_URL``, the config file, or ``http://127.0.0.1:8000``.
            token: A bearer token. Default: ``HUB_TOKEN`` or the config file's.
            http_client: An ``httpx.Client`` to send requests with, used as it is (never
                closed by this client). Default: a new one, closed by :meth:`close`.
            timeout: Seconds before a request times out (own client only).
            max_retries: Retries of an idempotent request. Default: ``HUB_MAX_RETRIES`` or 3.
            backoff: Seconds before the first retry; doubled for each further one.

        Raises:
            ConfigError: the URL is not an http(s) URL, or the config file is unreadable.
        """
        injected_base = str(http_client.base_url).rstrip("/") if http_client else ""
        config = constants.load_config(url=url or injected_base or None, token=token)
        self.url: str = _check_url(config.url)
        self.token: str | None = config.token
        self.config = config
        self.max_retries = constants.max_retries() if max_retries is None else max_retries
        self.backoff = backoff
        self.timeout = timeout
        self._owns_http = http_client is None
        # Created on the first request: building an SSL context costs tens of milliseconds,
        # which a command answered from the cache should not pay.
        self._http_client = http_client
        self._user_agent = f"hub-cli/{__version__} python/{platform.python_version()}"

    # ----------------------------------------------------------------------------- plumbing

    @property
    def _http(self) -> httpx.Client:
        if self._http_client is None:
            import httpx

            self._http_client = httpx.Client(
                timeout=httpx.Timeout(self.timeout, connect=min(self.timeout, 10.0)),
                follow_redirects=True,
            )
        return self._http_client

    def close(self) -> None:
        """Close the HTTP client if this client created it."""
        if self._owns_http and self._http_client is not None:
            self._http_client.close()
            self._http_client = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _headers(self, auth: bool) -> dict[str, str]:
        headers = {"User-Agent": self._user_agent, "Accept": "application/json"}
        if auth and self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    def _connection_error(self, exc: httpx.TransportError) -> HubConnectionError:
        import httpx

        if isinstance(exc, httpx.TimeoutException):
            reason = "it did not answer in time"
        elif isinstance(exc, httpx.ConnectError):
            reason = str(exc) or "connection refused"
        else:
            reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return HubConnectionError(
            f"cannot reach the hub at {self.url} ({reason})", url=self.url, reason=reason
        )

    def _sleep_before_retry(self, attempt: int, response: httpx.Response | None) -> None:
        delay = self.backoff * (2**attempt)
        if response is not None and (after := response.headers.get("retry-after")):
            with suppress(ValueError):
                delay = max(delay, min(float(after), _MAX_RETRY_AFTER))
        time.sleep(delay)

    def _send(
        self,
        method: str,
        path: str,
        *,
        idempotent: bool,
        auth: bool = True,
        stream: bool = False,
        **kwargs: Any,
    ) -> httpx.Response:
        """Send a request, retrying idempotent ones; raise the mapped error on a 4xx/5xx."""
        import httpx

        url = self.url + path
        attempts = 1 + (self.max_retries if idempotent else 0)
        headers = {**self._headers(auth), **kwargs.pop("headers", {})}
        for attempt in range(attempts):
            last = attempt + 1 == attempts
            try:
                request = self._http.build_request(method, url, headers=headers, **kwargs)
                response = self._http.send(request, stream=stream)
            except httpx.TransportError as exc:
                if last:
                    raise self._connection_error(exc) from exc
                log.debug("%s %s failed (%s); retrying", method, url, exc)
                self._sleep_before_retry(attempt, None)
                continue
            if response.status_code in _RETRY_STATUSES and not last:
                response.close()
                log.debug("%s %s answered %s; retrying", method, url, response.status_code)
                self._sleep_before_retry(attempt, response)
                continue
            if response.is_error:
                if stream:
                    response.read()
                    response.close()
                raise error_from_response(response, hub_url=self.url)
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    def _json(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            raise HubHTTPError(
                f"the server at {self.url} answered {response.request.url.path} with something "
                "that is not JSON: is that a Component Hub URL?",
                status_code=response.status_code,
                code="not_json",
                hub_url=self.url,
            ) from None

    def _get_json(self, path: str, **kwargs: Any) -> Any:
        return self._json(self._send("GET", path, idempotent=True, **kwargs))

    @staticmethod
    def _component_path(ref: str | Reference) -> tuple[Reference, str]:
        parsed = ref if isinstance(ref, Reference) else Reference.parse(ref)
        return parsed, f"{API}/components/{_segment(parsed.namespace)}/{_segment(parsed.name)}"

    # ----------------------------------------------------------------------------- reading

    def health(self) -> dict[str, Any]:
        """Check that the hub process answers (``GET /healthz``).

        Returns:
            The hub's answer, ``{"status": "ok"}``.

        Raises:
            HubConnectionError: the hub cannot be reached.
            HubHTTPError: it answered with an error.
        """
        data: dict[str, Any] = self._get_json("/healthz", auth=False)
        return data

    def ready(self) -> dict[str, Any]:
        """Check that the hub can serve: database and blob storage reachable (``GET /readyz``).

        Returns:
            ``{"status": "ready", "checks": {...}}``.

        Raises:
            HubConnectionError: the hub cannot be reached.
            ServerError: 503 when the hub is not ready (after the retries).
        """
        data: dict[str, Any] = self._get_json("/readyz", auth=False)
        return data

    def list_components(
        self,
        query: str | None = None,
        *,
        namespace: str | None = None,
        category: str | None = None,
        tags: list[str] | tuple[str, ...] = (),
        hardware: str | None = None,
        sort: str | None = None,
        page: int = 1,
        per_page: int = 20,
    ) -> Page[ComponentInfo]:
        """List and search components (``GET /components``).

        Args:
            query: Free text matched against names, descriptions and tags.
            namespace: Only this namespace.
            category: Only this category (``training``, ``evaluation``...).
            tags: Only components carrying every one of these tags.
            hardware: ``gpu`` (has a GPU variant) or ``cpu`` (has a CPU-only variant).
            sort: ``relevance``, ``updated``, ``created``, ``name`` or ``forks``.
            page: Page number, from 1.
            per_page: Page size (the hub caps it at 100).

        Returns:
            One page of components and the total count (a lower bound, "1,000+", when
            ``total_is_lower_bound``).

        Raises:
            BadRequestError: an unknown category, sort or hardware filter.
            HubConnectionError: the hub cannot be reached.
        """
        params: dict[str, Any] = {"page": page, "per_page": per_page}
        optional = {
            "q": query,
            "namespace": namespace,
            "category": category,
            "hardware": hardware,
            "sort": sort,
        }
        params.update({key: value for key, value in optional.items() if value})
        if tags:
            params["tag"] = list(tags)
        data = self._get_json(f"{API}/components", params=params, auth=False)
        return Page(
            items=[ComponentInfo.from_json(item) for item in data["items"]],
            total=int(data["total"]),
            page=int(data["page"]),
            per_page=int(data["per_page"]),
            total_is_lower_bound=bool(data.get("total_is_lower_bound", False)),
        )

    def get_component(self, ref: str | Reference) -> ComponentInfo:
        """A component with its latest version, forks count and parent (``GET .../{ns}/{name}``).

        Args:
            ref: ``namespace/name`` (a version part, if any, is ignored).

        Returns:
            The component; ``latest`` holds its latest version in full.

        Raises:
            InvalidReferenceError: ``ref`` is malformed.
            ComponentNotFoundError: no such component.
            HubConnectionError: the hub cannot be reached.
        """
        _, path = self._component_path(ref)
        return ComponentInfo.from_json(self._get_json(path, auth=False))

    def list_versions(self, ref: str | Reference) -> list[VersionSummary]:
        """Every version of a component, newest first, yanked ones flagged.

        Args:
            ref: ``namespace/name``.

        Returns:
            The versions, highest SemVer precedence first.

        Raises:
            InvalidReferenceError: ``ref`` is malformed.
            ComponentNotFoundError: no such component.
            HubConnectionError: the hub cannot be reached.
        """
        _, path = self._component_path(ref)
        return [VersionSummary.from_json(item) for item in self._get_json(f"{path}/versions")]

    def get_version(self, ref: str | Reference, version: str | None = None) -> VersionInfo:
        """One version in full: manifest, hardware, interface, digest, image.

        Args:
            ref: ``namespace/name@version`` or ``namespace/name`` with ``version`` given.
            version: The exact version (overrides the one in ``ref``).

        Returns:
            The version.

        Raises:
            InvalidReferenceError: ``ref`` is malformed or names no exact version.
            ComponentNotFoundError, VersionNotFoundError: nothing there.
            HubConnectionError: the hub cannot be reached.
        """
        parsed, path = self._component_path(ref)
        exact = version or (parsed.spec if parsed.kind == SpecKind.EXACT else None)
        if not exact:
            raise InvalidReferenceError(
                f"{parsed} names no exact version; use resolve() for ranges", reference=str(ref)
            )
        return VersionInfo.from_json(self._get_json(f"{path}/versions/{_segment(exact)}"))

    def resolve(self, ref: str | Reference) -> VersionInfo:
        """The version a reference selects (``GET .../resolve?spec=``), with npm semantics.

        Args:
            ref: ``namespace/name`` (highest non-yanked, non-prerelease version),
                ``...@1.2.3`` (that version, even yanked), ``...@^1.2`` (npm
                ``maxSatisfying`` over non-yanked versions) or ``...@sha256:<hex>``.

        Returns:
            The selected version.

        Raises:
            InvalidReferenceError: ``ref`` is malformed.
            ComponentNotFoundError: no such component.
            VersionNotFoundError: no such exact version.
            NoMatchingVersionError: nothing satisfies the range (or has the digest).
            HubConnectionError: the hub cannot be reached.
        """
        parsed, path = self._component_path(ref)
        data = self._get_json(f"{path}/resolve", params={"spec": parsed.spec})
        return VersionInfo.from_json(data)

    @contextmanager
    def _stream(self, path: str) -> Iterator[httpx.Response]:
        response = self._send("GET", path, idempotent=True, stream=True)
        try:
            yield response
        finally:
            response.close()

    def download_archive(
        self, ref: str | Reference, version: str, destination: IO[bytes]
    ) -> str | None:
        """Stream a version's archive into a binary file (``GET .../archive``).

        The bytes are written as they arrive; the caller checks them against the digest
        (:mod:`hub_cli.cache` does, before anything is moved into the cache).

        Args:
            ref: ``namespace/name``.
            version: The exact version (yanked ones download too).
            destination: A writable binary file, written from its current position.

        Returns:
            The digest the hub announced in its ``ETag`` header, if any.

        Raises:
            ComponentNotFoundError, VersionNotFoundError: nothing there.
            HubConnectionError: the hub cannot be reached or the transfer broke.
        """
        _, path = self._component_path(ref)
        import httpx

        start = destination.tell()
        with self._stream(f"{path}/versions/{_segment(version)}/archive") as response:
            try:
                for chunk in response.iter_bytes(64 * 1024):
                    destination.write(chunk)
            except httpx.TransportError as exc:
                destination.seek(start)
                destination.truncate()
                raise self._connection_error(exc) from exc
            etag = response.headers.get("etag", "").strip().removeprefix("W/").strip('"')
        return etag or None

    def get_component_yaml(self, ref: str | Reference, version: str) -> str:
        """The raw KFP component spec of a version, as ``kfp`` loads it.

        Args:
            ref: ``namespace/name``.
            version: The exact version.

        Returns:
            The spec's YAML text.

        Raises:
            ComponentNotFoundError, VersionNotFoundError: nothing there.
            HubConnectionError: the hub cannot be reached.
        """
        _, path = self._component_path(ref)
        response = self._send(
            "GET", f"{path}/versions/{_segment(version)}/component.yaml", idempotent=True
        )
        return response.text

    # ----------------------------------------------------------------------------- writing

    def publish_archive(
        self,
        namespace: str,
        name: str,
        data: bytes,
        *,
        progress: ProgressCallback | None = None,
    ) -> VersionInfo:
        """Publish a packed archive as a new version (``POST .../versions``).

        Not retried: a repeated publish of the same version is refused as ``version_exists``.

        Args:
            namespace: The namespace to publish into (claimed by the first publisher).
            name: The component name; must equal ``name`` in the archive's ``hub.yaml``.
            data: The archive bytes (see :func:`hub_server.archive.pack`).
            progress: Called with ``(bytes_sent, total)`` while the archive uploads.

        Returns:
            The published version.

        Raises:
            AuthenticationError: no token, or a bad one.
            PermissionDeniedError: the namespace belongs to someone else.
            VersionExistsError: the version exists (versions are immutable).
            PackageRejectedError: the hub refused the package (``problems`` lists why).
            PackageTooLargeError: the archive is too large.
            HubConnectionError: the hub cannot be reached.
        """
        body: IO[bytes] = _ProgressReader(data, progress) if progress else io.BytesIO(data)
        path = f"{API}/components/{_segment(namespace)}/{_segment(name)}/versions"
        files = {"archive": (f"{name}.tar.gz", body, "application/gzip")}
        response = self._send("POST", path, idempotent=False, files=files)
        return VersionInfo.from_json(self._json(response))

    def publish_folder(
        self,
        folder: str | Path,
        *,
        namespace: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> VersionInfo:
        """Pack a package folder deterministically and publish it.

        Args:
            folder: The package folder (holding ``hub.yaml``).
            namespace: Where to publish. Default: ``namespace`` in ``hub.yaml``, else the
                caller's own namespace (their user name).
            progress: Called with ``(bytes_sent, total)`` while the archive uploads.

        Returns:
            The published version.

        Raises:
            InvalidPackageError: the folder cannot be packed or has no readable ``hub.yaml``.
            AuthenticationError, PermissionDeniedError, VersionExistsError,
            PackageRejectedError, HubConnectionError: as for :meth:`publish_archive`.
        """
        from hub_cli.package import pack_folder, read_manifest_fields

        fields = read_manifest_fields(Path(folder))
        target = namespace or fields.get("namespace") or self.whoami().name
        data = pack_folder(Path(folder))
        return self.publish_archive(target, fields["name"], data, progress=progress)

    def fork(
        self,
        source: str | Reference,
        namespace: str,
        name: str | None = None,
        *,
        version: str | None = None,
    ) -> ComponentInfo:
        """Fork a component (every version, or one) into another namespace.

        Args:
            source: ``namespace/name`` to fork; ``@version`` forks only that version.
            namespace: The destination namespace (yours, or a new one you claim).
            name: The destination name. Default: the source's name.
            version: Fork only this exact version (overrides one in ``source``).

        Returns:
            The new component; ``parent`` records where it came from.

        Raises:
            ComponentNotFoundError, VersionNotFoundError: the source is not there.
            ComponentExistsError: the destination exists.
            AuthenticationError, PermissionDeniedError: not allowed to write there.
            HubConnectionError: the hub cannot be reached.
        """
        parsed, path = self._component_path(source)
        body: dict[str, Any] = {"namespace": namespace}
        if name:
            body["name"] = name
        exact = version or (parsed.spec if parsed.kind == SpecKind.EXACT else None)
        if exact:
            body["version"] = exact
        response = self._send("POST", f"{path}/fork", idempotent=False, json=body)
        return ComponentInfo.from_json(self._json(response))

    def yank(self, ref: str | Reference, version: str, reason: str) -> VersionInfo:
        """Yank a version: ranges skip it; it still downloads by exact version.

        Args:
            ref: ``namespace/name``.
            version: The exact version.
            reason: Why (shown to everyone who looks at the version).

        Returns:
            The version, now yanked.

        Raises:
            VersionNotFoundError: no such version.
            AuthenticationError, PermissionDeniedError: not allowed.
            HubConnectionError: the hub cannot be reached.
        """
        _, path = self._component_path(ref)
        response = self._send(
            "POST",
            f"{path}/versions/{_segment(version)}/yank",
            idempotent=True,
            json={"reason": reason},
        )
        return VersionInfo.from_json(self._json(response))

    def unyank(self, ref: str | Reference, version: str) -> VersionInfo:
        """Undo a yank.

        Args:
            ref: ``namespace/name``.
            version: The exact version.

        Returns:
            The version, no longer yanked.

        Raises:
            VersionNotFoundError: no such version.
            AuthenticationError, PermissionDeniedError: not allowed.
            HubConnectionError: the hub cannot be reached.
        """
        _, path = self._component_path(ref)
        response = self._send(
            "DELETE", f"{path}/versions/{_segment(version)}/yank", idempotent=True
        )
        return VersionInfo.from_json(self._json(response))

    # ----------------------------------------------------------------------------- accounts

    def whoami(self) -> UserInfo:
        """Who the token belongs to.

        Returns:
            The user, whether they administer the hub, and their namespaces.

        Raises:
            AuthenticationError: no token, or one the hub does not know.
            HubConnectionError: the hub cannot be reached.
        """
        return UserInfo.from_json(self._get_json(f"{API}/whoami"))

    def create_user(self, name: str, *, is_admin: bool = False) -> TokenInfo:
        """Create a user, their namespace and a first token (administrators only).

        Args:
            name: The user (and namespace) name.
            is_admin: Whether the user administers the hub.

        Returns:
            The new user's first token (shown only this once).

        Raises:
            PermissionDeniedError: the caller is not an administrator.
            ConflictError: the user or namespace exists.
            HubConnectionError: the hub cannot be reached.
        """
        response = self._send(
            "POST", f"{API}/users", idempotent=False, json={"name": name, "is_admin": is_admin}
        )
        return TokenInfo.from_json(self._json(response))

    def create_token(self, name: str = "default") -> TokenInfo:
        """Create another token for the caller.

        Args:
            name: A label for the token.

        Returns:
            The token (shown only this once).

        Raises:
            AuthenticationError: no token, or a bad one.
            HubConnectionError: the hub cannot be reached.
        """
        response = self._send("POST", f"{API}/tokens", idempotent=False, json={"name": name})
        return TokenInfo.from_json(self._json(response))
