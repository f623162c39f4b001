"""Every error the SDK raises, in one tree; hub error codes become exceptions in one function.

::

    HubError                                  base: .message, .code, .detail
    ├── ConfigError                           a config file or variable cannot be used
    ├── InvalidReferenceError                 "ns/name@spec" is malformed (checked locally)
    ├── HubConnectionError                    the hub cannot be reached (wrong URL, it is down)
    │   └── OfflineError                      ... and the cache cannot stand in for it
    ├── HubHTTPError                          the hub answered with an error: .status_code
    │   ├── BadRequestError          400      invalid_request, validation_error
    │   │   └── InvalidRangeError             invalid_range
    │   ├── AuthenticationError      401      unauthenticated (no token, or a bad one)
    │   ├── PermissionDeniedError    403      forbidden
    │   ├── NotFoundError            404      not_found (also: a URL that is no hub)
    │   │   ├── ComponentNotFoundError        component_not_found
    │   │   ├── VersionNotFoundError          version_not_found
    │   │   └── NoMatchingVersionError        no_matching_version
    │   ├── ConflictError            409
    │   │   ├── VersionExistsError            version_exists
    │   │   └── ComponentExistsError          component_exists
    │   ├── PackageTooLargeError     413      archive_too_large
    │   ├── PackageRejectedError     422      every reason a package is refused (also an
    │   │                                     InvalidPackageError)
    │   └── ServerError              5xx
    ├── InvalidPackageError                   a package folder is not publishable (local check)
    ├── DigestMismatchError                   bytes do not match the digest they must have
    ├── LockfileError                         hub.lock is malformed or does not fit the request
    ├── UnknownVariantError                   no such hardware variant (lists the known ones)
    └── BuildError                            compiling component.py or building the image failed
        └── DockerUnavailableError            no Docker engine (or no docker package)

The hub's error body is ``{"error": {"code", "message", "detail"}}``; :func:`error_from_response`
is the only place that turns one into an exception.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

__all__ = [
    "AuthenticationError",
    "BadRequestError",
    "BuildError",
    "ComponentExistsError",
    "ComponentNotFoundError",
    "ConfigError",
    "ConflictError",
    "DigestMismatchError",
    "DockerUnavailableError",
    "HubConnectionError",
    "HubError",
    "HubHTTPError",
    "InvalidPackageError",
    "InvalidRangeError",
    "InvalidReferenceError",
    "LockfileError",
    "NoMatchingVersionError",
    "NotFoundError",
    "OfflineError",
    "PackageRejectedError",
    "PackageTooLargeError",
    "PermissionDeniedError",
    "ServerError",
    "UnknownVariantError",
    "VersionExistsError",
    "VersionNotFoundError",
    "error_from_response",
]


class HubError(Exception):
    """Base of every error the SDK raises.

    Attributes:
        message: One human-readable sentence.
        code: A stable machine-readable code (the hub's own code for HTTP errors).
        detail: Structured context (field names, paths, limits...).
    """

    default_code = "hub_error"

    def __init__(self, message: str, *, code: str | None = None, **detail: Any) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.detail: dict[str, Any] = detail

    def __str__(self) -> str:
        return self.message


class ConfigError(HubError):
    """The configuration (config file, ``HUB_*`` variable, URL) cannot be used as it is."""

    default_code = "config_error"


class InvalidReferenceError(HubError, ValueError):
    """A component reference is not ``namespace/name[@version|@range|@sha256:<hex>]``."""

    default_code = "invalid_reference"


class HubConnectionError(HubError):
    """The hub could not be reached: nothing listens at the URL, DNS fails, or it timed out.

    Attributes:
        url: The hub URL that was tried.
    """

    default_code = "connection_error"

    def __init__(self, message: str, *, url: str, code: str | None = None, **detail: Any) -> None:
        super().__init__(message, code=code, url=url, **detail)
        self.url = url


class OfflineError(HubConnectionError):
    """The hub is unreachable (or ``HUB_OFFLINE`` is set) and the cache cannot answer instead."""

    default_code = "offline"


class InvalidPackageError(HubError):
    """A package folder or archive is not publishable.

    Attributes:
        problems: Every problem found, each ``{"file", "field", "message"}``.
    """

    default_code = "invalid_package"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        problems: list[dict[str, Any]] | None = None,
        **detail: Any,
    ) -> None:
        super().__init__(message, code=code, **detail)
        self.problems: list[dict[str, Any]] = problems or []


class HubHTTPError(HubError):
    """The hub answered with an error status.

    Attributes:
        status_code: The HTTP status.
        request_id: The hub's ``X-Request-ID`` for this request, to find it in the hub's logs.
        hub_url: The hub that answered.
        token_sent: Whether the request carried a token (tells "no token" from "bad token").
    """

    default_code = "http_error"

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        code: str | None = None,
        request_id: str | None = None,
        hub_url: str | None = None,
        token_sent: bool = False,
        **detail: Any,
    ) -> None:
        super().__init__(message, code=code, **detail)
        self.status_code = status_code
        self.request_id = request_id
        self.hub_url = hub_url
        self.token_sent = token_sent


class BadRequestError(HubHTTPError):
    """400 (or a 422 about the request itself): the request is malformed."""

    default_code = "invalid_request"


class InvalidRangeError(BadRequestError):
    """The version range is not one npm's node-semver accepts."""

    default_code = "invalid_range"


class AuthenticationError(HubHTTPError):
    """401: the action needs a token, or the token is not valid on this hub."""

    default_code = "unauthenticated"


class PermissionDeniedError(HubHTTPError):
    """403: the token is valid but may not do this (another user's namespace, admin only)."""

    default_code = "forbidden"


class NotFoundError(HubHTTPError):
    """404: no such thing on the hub (or the URL is not a hub's API)."""

    default_code = "not_found"


class ComponentNotFoundError(NotFoundError):
    """No component with this ``namespace/name``."""

    default_code = "component_not_found"


class VersionNotFoundError(NotFoundError):
    """The component exists but has no such version."""

    default_code = "version_not_found"


class NoMatchingVersionError(NotFoundError):
    """No (non-yanked) version satisfies the range, or none has that digest."""

    default_code = "no_matching_version"


class ConflictError(HubHTTPError):
    """409: the write conflicts with what exists."""

    default_code = "conflict"


class VersionExistsError(ConflictError):
    """This version was published already; versions are immutable."""

    default_code = "version_exists"


class ComponentExistsError(ConflictError):
    """The fork's destination exists already."""

    default_code = "component_exists"


class PackageTooLargeError(HubHTTPError):
    """413: the archive is larger than the hub accepts."""

    default_code = "archive_too_large"


class PackageRejectedError(HubHTTPError, InvalidPackageError):
    """422: the hub refused the package; ``code`` says why (``invalid_manifest``, ...)."""

    default_code = "invalid_package"

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        code: str | None = None,
        request_id: str | None = None,
        hub_url: str | None = None,
        token_sent: bool = False,
        **detail: Any,
    ) -> None:
        HubHTTPError.__init__(
            self,
            message,
            status_code=status_code,
            code=code,
            request_id=request_id,
            hub_url=hub_url,
            token_sent=token_sent,
            **detail,
        )
        errors = detail.get("errors")
        self.problems = [
            {"file": detail.get("path"), "field": item.get("field"), "message": item.get("message")}
            for item in (errors if isinstance(errors, list) else [])
            if isinstance(item, dict)
        ]


class ServerError(HubHTTPError):
    """5xx: the hub failed (its logs say why; ``request_id`` finds the request there)."""

    default_code = "internal_error"


class DigestMismatchError(HubError):
    """Bytes do not have the digest they must have: a corrupt cache file or a tampered download.

    Never answered by a silent re-download: the file named in ``path`` must be looked at (or
    deleted) by a person.

    Attributes:
        expected: The digest the bytes must have.
        actual: The digest they have.
        path: The file concerned, when there is one.
    """

    default_code = "digest_mismatch"

    def __init__(
        self, message: str, *, expected: str, actual: str, path: str | None = None
    ) -> None:
        super().__init__(message, expected=expected, actual=actual, path=path)
        self.expected = expected
        self.actual = actual
        self.path = path


class LockfileError(HubError):
    """``hub.lock`` cannot be read, or pins something other than what is asked for."""

    default_code = "lockfile_error"


class UnknownVariantError(HubError, KeyError):
    """The component has no hardware variant of that name; ``known`` lists the ones it has.

    Attributes:
        variant: The name asked for.
        known: The variants the component has.
    """

    default_code = "unknown_variant"

    def __init__(self, message: str, *, variant: str, known: list[str]) -> None:
        super().__init__(message, variant=variant, known=known)
        self.variant = variant
        self.known = known

    def __str__(self) -> str:  # KeyError would quote the message
        return self.message


class BuildError(HubError):
    """``hub build`` failed: compiling ``component.py`` or building/pushing the image."""

    default_code = "build_error"


class DockerUnavailableError(BuildError):
    """No Docker engine can be reached, or the ``docker`` package is not installed."""

    default_code = "docker_unavailable"


# --------------------------------------------------------------------------------------------
# The one mapping from hub answers to exceptions
# --------------------------------------------------------------------------------------------

_BY_CODE: dict[str, type[HubHTTPError]] = {
    "invalid_range": InvalidRangeError,
    "validation_error": BadRequestError,
    "component_not_found": ComponentNotFoundError,
    "version_not_found": VersionNotFoundError,
    "no_matching_version": NoMatchingVersionError,
    "version_exists": VersionExistsError,
    "component_exists": ComponentExistsError,
}

_BY_STATUS: dict[int, type[HubHTTPError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    413: PackageTooLargeError,
    422: PackageRejectedError,
}


def _error_class(status: int, code: str | None) -> type[HubHTTPError]:
    if code in _BY_CODE:
        return _BY_CODE[code]
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if status >= 500:
        return ServerError
    return HubHTTPError


def error_from_response(response: httpx.Response, *, hub_url: str) -> HubHTTPError:
    """Turn an error answer into the matching exception (the only place that does).

    A body in the hub's error format gives its code, message and detail. Anything else (an
    HTML page from a proxy, a 404 from a server that is not a hub, or the hub's own answer to
    a path it has no route for) gives a message that points at the URL, which is then the
    likely mistake.

    Args:
        response: An answer with a 4xx or 5xx status; its body must have been read.
        hub_url: The hub's base URL, for messages.

    Returns:
        The exception to raise (not raised here).
    """
    status = response.status_code
    body: Any = None
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    request = response.request
    path = request.url.path
    context = {
        "request_id": response.headers.get("x-request-id"),
        "hub_url": hub_url,
        "token_sent": bool(request.headers.get("authorization")),
    }
    if isinstance(error, dict) and isinstance(error.get("code"), str):
        code: str = error["code"]
        message = str(error.get("message") or code.replace("_", " "))
        raw_detail = error.get("detail")
        detail: dict[str, Any] = dict(raw_detail) if isinstance(raw_detail, dict) else {}
        if status == 404 and code == "no_route":
            # The hub's answer to a path it has no route for: the URL is the likely mistake.
            message = (
                f"{hub_url} has no API route {path} (404 Not Found); is that the hub's base URL?"
            )
        for reserved in ("status_code", "code", "message", *context):
            detail.pop(reserved, None)
        cls = _error_class(status, code)
        return cls(message, status_code=status, code=code, **context, **detail)
    reason = response.reason_phrase or "error"
    if status >= 500:
        message = f"the hub at {hub_url} failed to answer ({status} {reason})"
    else:
        message = (
            f"the server at {hub_url} answered {status} {reason} to {path} without a hub "
            "error: is that a Component Hub URL?"
        )
    cls = _error_class(status, None)
    if cls is PackageRejectedError:
        cls = HubHTTPError
    return cls(message, status_code=status, code=f"http_{status}", **context)
