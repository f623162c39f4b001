"""The server's one error hierarchy.

Services raise these; ``hub_server.api.errors`` maps them to HTTP in one place, always as
``{"error": {"code": ..., "message": ..., "detail": {...}}}``::

    HubError
    ├── BadRequest (400)                invalid_request, invalid_range, invalid_reference
    ├── Unauthenticated (401)           unauthenticated
    ├── Forbidden (403)                 forbidden
    ├── NotFound (404)                  not_found, component_not_found, version_not_found,
    │                                   no_matching_version, namespace_not_found, user_not_found
    ├── Conflict (409)                  version_exists, component_exists, user_exists
    ├── PayloadTooLarge (413)           archive_too_large
    ├── InvalidPackage (422)            every reason a package is refused (see ``codes``)
    └── Unavailable (503)               storage_unavailable, database_unavailable
"""

from __future__ import annotations

from typing import Any, ClassVar


class HubError(Exception):
    """Base of every error the server answers with; carries a stable machine-readable code."""

    status_code: ClassVar[int] = 500
    default_code: ClassVar[str] = "internal_error"

    def __init__(self, message: str, *, code: str | None = None, **detail: Any) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.detail: dict[str, Any] = detail

    def to_body(self) -> dict[str, Any]:
        """The JSON error body of the API contract."""
        return {"error": {"code": self.code, "message": self.message, "detail": self.detail}}


class BadRequest(HubError):
    status_code = 400
    default_code = "invalid_request"


class Unauthenticated(HubError):
    status_code = 401
    default_code = "unauthenticated"


class Forbidden(HubError):
    status_code = 403
    default_code = "forbidden"


class NotFound(HubError):
    status_code = 404
    default_code = "not_found"


class Conflict(HubError):
    status_code = 409
    default_code = "conflict"


class PayloadTooLarge(HubError):
    status_code = 413
    default_code = "archive_too_large"


class InvalidPackage(HubError):
    """A package (archive, manifest, KFP spec) that cannot be published as it is."""

    status_code = 422
    default_code = "invalid_package"


class Unavailable(HubError):
    status_code = 503
    default_code = "unavailable"
