"""``hub.lock``: the exact versions and digests a project's component references resolve to.

The file is TOML, written by ``hub lock`` and meant to be committed::

    # hub.lock: exact versions and digests of Component Hub components. ...
    format = 1
    hub = "http://127.0.0.1:8000"
    requests = [
        "ml/train-xgboost@^1.2",
        "library/split-data",
    ]

    [[component]]
    request = "ml/train-xgboost@^1.2"
    name = "ml/train-xgboost"
    version = "1.2.3"
    digest = "sha256:3f0c..."

``requests`` is what the project asks for (edit it, or ``hub lock REF...`` adds to it); each
``[[component]]`` is what one request resolved to. ``load_component`` and ``hub pull`` use the
locked version and digest of a request, and check the archive against the digest, so a
locked pipeline gets the same bytes on every machine and works from the cache when the hub
is down. ``hub`` records where the lock was made; it is informational only.
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from hub_cli.constants import LOCKFILE_NAME
from hub_cli.errors import InvalidReferenceError, LockfileError
from hub_cli.reference import Reference, SpecKind

__all__ = ["LockedComponent", "Lockfile", "find_lockfile"]

FORMAT = 1

_HEADER = """\
# hub.lock: exact versions and digests of Component Hub components.
# Written by `hub lock`; commit it with your pipeline code. To change what is locked, edit
# `requests` (or run `hub lock REF...`) and run `hub lock` again.
"""


def _toml_string(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


@dataclass(frozen=True)
class LockedComponent:
    """What one request resolved to.

    Attributes:
        request: The reference as requested (``ns/name@^1.2``).
        name: ``namespace/name``.
        version: The exact version.
        digest: The archive's ``sha256:<hex>``.
    """

    request: str
    name: str
    version: str
    digest: str

    @property
    def ref(self) -> str:
        """``namespace/name@version``."""
        return f"{self.name}@{self.version}"


def _satisfies(entry: LockedComponent, ref: Reference) -> bool:
    from hub_server import semver

    if ref.kind == SpecKind.LATEST:
        return True
    if ref.kind == SpecKind.EXACT:
        return entry.version == ref.spec
    if ref.kind == SpecKind.DIGEST:
        return entry.digest == ref.spec
    try:
        return semver.Range.parse(ref.spec).test(semver.Version.parse(entry.version))
    except (semver.InvalidRange, semver.InvalidVersion):
        return False


@dataclass
class Lockfile:
    """A ``hub.lock`` in memory.

    Attributes:
        path: Where it is read from and saved to.
        requests: The references the project asks for, in order.
        components: What they resolved to.
        hub: The hub URL the lock was made against.
    """

    path: Path
    requests: list[str] = field(default_factory=list)
    components: list[LockedComponent] = field(default_factory=list)
    hub: str | None = None

    @classmethod
    def load(cls, path: str | Path) -> Lockfile:
        """Read and check a lockfile.

        Args:
            path: The file.

        Returns:
            The lockfile.

        Raises:
            LockfileError: it cannot be read, is not TOML, or its content is malformed.
        """
        path = Path(path)
        try:
            document = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise LockfileError(f"{path} does not exist", path=str(path)) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise LockfileError(f"cannot read {path}: {exc}", path=str(path)) from None
        except tomllib.TOMLDecodeError as exc:
            raise LockfileError(f"{path} is not valid TOML: {exc}", path=str(path)) from None

        def fail(what: str) -> LockfileError:
            return LockfileError(f"{path}: {what}", path=str(path))

        fmt = document.get("format", FORMAT)
        if fmt != FORMAT:
            raise fail(f"format {fmt!r} is not supported (this hub CLI writes format {FORMAT})")
        requests = document.get("requests", [])
        if not isinstance(requests, list) or not all(isinstance(r, str) for r in requests):
            raise fail("`requests` must be a list of component references")
        for request in requests:
            try:
                Reference.parse(request)
            except InvalidReferenceError as exc:
                raise fail(f"request {request!r}: {exc}") from None
        components: list[LockedComponent] = []
        raw_components = document.get("component", [])
        if not isinstance(raw_components, list):
            raise fail("`component` must be an array of tables ([[component]])")
        for index, item in enumerate(raw_components, start=1):
            if not isinstance(item, dict):
                raise fail(f"component #{index} is not a table")
            missing = [k for k in ("request", "name", "version", "digest") if k not in item]
            if missing:
                raise fail(f"component #{index} lacks {', '.join(missing)}")
            entry = LockedComponent(
                request=str(item["request"]),
                name=str(item["name"]),
                version=str(item["version"]),
                digest=str(item["digest"]),
            )
            try:
                exact = Reference.parse(f"{entry.name}@{entry.version}").kind == SpecKind.EXACT
                Reference.parse(f"{entry.name}@{entry.digest}")
            except InvalidReferenceError as exc:
                raise fail(f"component #{index} ({entry.name}): {exc}") from None
            if not exact:
                raise fail(f"component #{index} ({entry.name}): {entry.version!r} is not a version")
            components.append(entry)
        hub = document.get("hub")
        return cls(
            path=path,
            requests=list(requests),
            components=components,
            hub=str(hub) if isinstance(hub, str) else None,
        )

    def find(self, ref: Reference) -> LockedComponent | None:
        """The locked entry that answers a reference.

        The entry whose request is exactly ``ref`` wins; otherwise an entry for the same
        component whose version satisfies ``ref``.

        Args:
            ref: The reference asked for.

        Returns:
            The entry, or None when the lock has nothing for that component.

        Raises:
            LockfileError: the lock has the component, but no entry satisfies ``ref``.
        """
        wanted = str(ref)
        for entry in self.components:
            if entry.request == wanted:
                return entry
        same = [entry for entry in self.components if entry.name == ref.component]
        if not same:
            return None
        for entry in same:
            if _satisfies(entry, ref):
                return entry
        pinned = ", ".join(sorted({entry.version for entry in same}))
        raise LockfileError(
            f"{self.path} locks {ref.component} at {pinned}, which does not satisfy "
            f"{ref.spec!r}: run `hub lock {wanted}` to lock it",
            path=str(self.path),
            reference=wanted,
        )

    def render(self) -> str:
        """The file's text (deterministic: the same lock always renders the same)."""
        lines = [_HEADER, f"format = {FORMAT}"]
        if self.hub:
            lines.append(f"hub = {_toml_string(self.hub)}")
        lines.append("requests = [")
        lines.extend(f"    {_toml_string(request)}," for request in self.requests)
        lines.append("]")
        for entry in self.components:
            lines += [
                "",
                "[[component]]",
                f"request = {_toml_string(entry.request)}",
                f"name = {_toml_string(entry.name)}",
                f"version = {_toml_string(entry.version)}",
                f"digest = {_toml_string(entry.digest)}",
            ]
        return "\n".join(lines) + "\n"

    def save(self) -> Path:
        """Write the file atomically (temporary file, then rename).

        Returns:
            Its path.

        Raises:
            LockfileError: it cannot be written.
        """
        temp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            temp.write_text(self.render(), encoding="utf-8")
            os.replace(temp, self.path)
        except OSError as exc:
            temp.unlink(missing_ok=True)
            raise LockfileError(f"cannot write {self.path}: {exc}", path=str(self.path)) from None
        return self.path


def find_lockfile(start: str | Path | None = None) -> Path | None:
    """The ``hub.lock`` of the current project: in ``start`` or the nearest parent folder.

    Args:
        start: Where to start looking. Default: the current directory.

    Returns:
        The lockfile's path, or None when there is none.
    """
    folder = Path(start) if start is not None else Path.cwd()
    folder = folder.resolve()
    for candidate in (folder, *folder.parents):
        path = candidate / LOCKFILE_NAME
        if path.is_file():
            return path
    return None
