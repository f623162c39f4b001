"""Component references: ``namespace/name``, ``...@1.2.3``, ``...@^1.2``, ``...@sha256:<hex>``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from hub_cli.errors import InvalidReferenceError

__all__ = ["Reference", "SpecKind"]

# The same patterns as hub_server.manifest (a test keeps them equal); repeated here so that
# parsing a reference does not import pydantic.
NAMESPACE_PATTERN = r"^[a-z0-9][a-z0-9-]{0,38}$"
NAME_PATTERN = r"^[a-z0-9][a-z0-9-]{0,63}$"
_NAMESPACE_RE = re.compile(NAMESPACE_PATTERN)
_NAME_RE = re.compile(NAME_PATTERN)
_DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")


class SpecKind(StrEnum):
    """What the part after ``@`` is."""

    LATEST = "latest"
    """No ``@``: the highest non-yanked, non-prerelease version."""
    EXACT = "exact"
    """A strict SemVer version."""
    RANGE = "range"
    """An npm range (``^1.2``, ``~1.2.3``, ``>=1 <2``, ``1.x``...)."""
    DIGEST = "digest"
    """``sha256:<hex>``: the version whose archive has that digest."""


@dataclass(frozen=True)
class Reference:
    """A parsed component reference.

    Attributes:
        namespace: The namespace.
        name: The component name.
        spec: What follows ``@`` (stripped), or ``""`` for the latest version.
        kind: What ``spec`` is.
    """

    namespace: str
    name: str
    spec: str = ""
    kind: SpecKind = SpecKind.LATEST

    @classmethod
    def parse(cls, text: str) -> Reference:
        """Parse a reference as a user typed it.

        Args:
            text: ``namespace/name`` optionally followed by ``@`` and an exact version, an npm
                range or ``sha256:<hex>``.

        Returns:
            The reference.

        Raises:
            InvalidReferenceError: the text is not a reference, or its range is not one that
                npm's node-semver accepts.
        """
        from hub_server import semver  # standard library only; imported late for start-up

        raw = text.strip()
        component, at, spec = raw.partition("@")
        spec = spec.strip()
        namespace, slash, name = component.strip().partition("/")
        if not slash or not namespace or not name:
            raise InvalidReferenceError(
                f"{text!r} is not a component reference: expected namespace/name, "
                "optionally followed by @version, @range or @sha256:<digest>",
                reference=text,
            )
        if not _NAMESPACE_RE.match(namespace):
            raise InvalidReferenceError(
                f"{text!r}: {namespace!r} is not a valid namespace (lowercase letters, digits "
                "and '-', at most 39 characters, not starting with '-')",
                reference=text,
            )
        if not _NAME_RE.match(name):
            raise InvalidReferenceError(
                f"{text!r}: {name!r} is not a valid component name (lowercase letters, digits "
                "and '-', at most 64 characters, not starting with '-')",
                reference=text,
            )
        if at and not spec:
            raise InvalidReferenceError(
                f"{text!r}: nothing follows '@' (give a version, a range or sha256:<digest>)",
                reference=text,
            )
        if not spec:
            return cls(namespace, name)
        if spec.startswith("sha256:"):
            if not _DIGEST_RE.match(spec):
                raise InvalidReferenceError(
                    f"{text!r}: a digest is sha256: followed by 64 lowercase hex digits",
                    reference=text,
                )
            return cls(namespace, name, spec, SpecKind.DIGEST)
        if semver.is_exact(spec):
            return cls(namespace, name, spec, SpecKind.EXACT)
        try:
            semver.Range.parse(spec)
        except semver.InvalidRange as exc:
            raise InvalidReferenceError(
                f"{text!r}: {spec!r} is neither a version nor a valid npm range ({exc})",
                reference=text,
            ) from None
        return cls(namespace, name, spec, SpecKind.RANGE)

    @property
    def component(self) -> str:
        """``namespace/name``."""
        return f"{self.namespace}/{self.name}"

    def at(self, version: str) -> str:
        """``namespace/name@version`` for a resolved version."""
        return f"{self.component}@{version}"

    def __str__(self) -> str:
        return f"{self.component}@{self.spec}" if self.spec else self.component
