"""Component package archives: deterministic packing, safe unpacking, strict YAML loading.

A package archive is a gzip-compressed USTAR tar whose sha256 is the version's digest, so
:func:`pack` must be byte-for-byte reproducible: the same folder (or a copy of it with other
mtimes, owners or permission bits) always gives the same bytes.

:func:`unpack` reads an *untrusted* upload entirely in memory and refuses anything a careless
extractor could be hurt by: path traversal, links, device files, duplicate entries and
decompression bombs. Sizes are enforced while decompressing, so a bomb is stopped after at
most a budget's worth of output and nothing is ever written to disk.

:func:`load_yaml` parses manifests and component specs with a safe loader that also refuses
anchors/aliases (the "billion laughs" bomb), duplicate mapping keys and absurd nesting.

The CLI imports this module too, so it depends on the standard library and PyYAML only.
"""

from __future__ import annotations

import codecs
import collections
import fnmatch
import hashlib
import io
import os
import re
import stat
import struct
import tarfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.events import AliasEvent, Event, NodeEvent
from yaml.nodes import MappingNode, Node

from hub_server.errors import InvalidPackage, PayloadTooLarge

__all__ = [
    "ArchiveLimits",
    "digest",
    "load_yaml",
    "pack",
    "read_text",
    "unpack",
]

_MiB = 1024 * 1024


@dataclass(frozen=True)
class ArchiveLimits:
    """Size limits applied to an uploaded archive and to the YAML files inside it.

    Attributes:
        max_archive_bytes: Largest accepted compressed archive.
        max_entry_bytes: Largest accepted single file inside the archive.
        max_total_bytes: Largest accepted sum of file sizes, uncompressed.
        max_entries: Most members (files and directories) an archive may hold.
        max_yaml_bytes: Largest YAML document :func:`load_yaml` parses.
    """

    max_archive_bytes: int = 20 * _MiB
    max_entry_bytes: int = 10 * _MiB
    max_total_bytes: int = 50 * _MiB
    max_entries: int = 1000
    max_yaml_bytes: int = 1 * _MiB


# --------------------------------------------------------------------------------------------
# Packing
# --------------------------------------------------------------------------------------------

# Level 9 is part of the digest contract: another level would give other bytes for the same
# folder. Packages are small, so the extra CPU is irrelevant.
_COMPRESS_LEVEL = 9

_JUNK_DIRS = frozenset({"__pycache__", ".ipynb_checkpoints", ".venv", "dist"})
# `.git` is a directory in a clone but a plain file in a submodule or worktree.
_JUNK_ANY = frozenset({".git"})
_JUNK_FILES = frozenset({".DS_Store"})
_JUNK_FILE_GLOBS = ("*.pyc",)

_HUBIGNORE = ".hubignore"


@dataclass(frozen=True)
class _IgnoreRule:
    glob: str
    dir_only: bool
    # A rule with a "/" matches the whole relative path, one without matches the basename at
    # any depth, as in .gitignore.
    anchored: bool

    def matches(self, rel: str, name: str, is_dir: bool) -> bool:
        if self.dir_only and not is_dir:
            return False
        # fnmatchcase, not fnmatch: fnmatch folds case on Windows, which would make the same
        # folder pack differently on different machines.
        return fnmatch.fnmatchcase(rel if self.anchored else name, self.glob)


def _read_hubignore(folder: Path) -> list[_IgnoreRule]:
    path = folder / _HUBIGNORE
    if not path.is_file():
        return []
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidPackage(
            f"The file {_HUBIGNORE!r} is not valid UTF-8 text.",
            code="invalid_encoding",
            path=_HUBIGNORE,
        ) from exc
    rules: list[_IgnoreRule] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        dir_only = line.endswith("/")
        glob = line.rstrip("/")
        anchored = "/" in glob
        glob = glob.lstrip("/")
        if glob:
            rules.append(_IgnoreRule(glob=glob, dir_only=dir_only, anchored=anchored))
    return rules


def _is_ignored(rel: str, is_dir: bool, rules: list[_IgnoreRule]) -> bool:
    if rel == _HUBIGNORE:
        return False
    name = rel.rsplit("/", 1)[-1]
    if name in _JUNK_ANY or (is_dir and name in _JUNK_DIRS):
        return True
    if not is_dir and (
        name in _JUNK_FILES or any(fnmatch.fnmatchcase(name, g) for g in _JUNK_FILE_GLOBS)
    ):
        return True
    return any(rule.matches(rel, name, is_dir) for rule in rules)


def _collect(folder: Path, rules: list[_IgnoreRule]) -> list[tuple[str, Path, int]]:
    """Every file to pack as (archive path, filesystem path, normalised mode)."""
    found: list[tuple[str, Path, int]] = []
    pending: list[tuple[Path, str]] = [(folder, "")]
    while pending:
        directory, prefix = pending.pop()
        with os.scandir(directory) as entries:
            for entry in entries:
                rel = prefix + entry.name
                is_dir = entry.is_dir(follow_symlinks=False)
                if _is_ignored(rel, is_dir, rules):
                    continue
                # Checked before anything is read: a link or device in a package is refused
                # rather than silently followed or dropped.
                if entry.is_symlink():
                    raise InvalidPackage(
                        f"The file {rel!r} is a symbolic link; a package may only contain regular "
                        f"files (list it in {_HUBIGNORE} to leave it out).",
                        code="unsupported_file",
                        path=rel,
                    )
                if is_dir:
                    pending.append((Path(entry.path), rel + "/"))
                    continue
                if not entry.is_file(follow_symlinks=False):
                    raise InvalidPackage(
                        f"The file {rel!r} is not a regular file (a device, FIFO or socket); "
                        "a package may only contain regular files (list it in "
                        f"{_HUBIGNORE} to leave it out).",
                        code="unsupported_file",
                        path=rel,
                    )
                _check_path(rel)
                st_mode = entry.stat(follow_symlinks=False).st_mode
                mode = 0o755 if st_mode & stat.S_IXUSR else 0o644
                found.append((rel, Path(entry.path), mode))
    # Sorting on the str is sorting on code points, which is also UTF-8 byte order, so the
    # order does not depend on the filesystem's directory order.
    found.sort(key=lambda item: item[0])
    return found


def _gzip(raw: bytes) -> bytes:
    """Wrap ``raw`` in a gzip member whose header carries no mtime and no file name.

    The header is written by hand because ``gzip.compress`` has changed its header bytes
    between Python versions (the OS byte), which would change digests on upgrade.
    """
    # magic, CM=deflate, FLG=0, MTIME=0, XFL=2 (maximum compression), OS=255 (unknown)
    header = b"\x1f\x8b\x08\x00" + b"\x00\x00\x00\x00" + b"\x02\xff"
    compressor = zlib.compressobj(_COMPRESS_LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS, 9)
    body = compressor.compress(raw) + compressor.flush()
    trailer = struct.pack("<II", zlib.crc32(raw) & 0xFFFFFFFF, len(raw) & 0xFFFFFFFF)
    return header + body + trailer


def pack(folder: Path) -> bytes:
    """Pack a component package folder into its deterministic ``.tar.gz`` archive.

    Only regular files are packed, under sorted "/"-separated relative paths, with mtime 0,
    owner 0:0 and no owner names, mode 0o755 or 0o644 (from the owner's execute bit), and no
    directory entries. Junk (``.git``, ``__pycache__/``, ``*.pyc``, ``.DS_Store``,
    ``.ipynb_checkpoints/``, ``.venv/``, ``dist/``) and whatever the optional ``.hubignore``
    lists are left out; ``.hubignore`` itself is packed.

    ``.hubignore`` holds one case-sensitive fnmatch glob per line; ``#`` starts a comment
    line. A glob without "/" matches a file or directory name at any depth, one with "/"
    matches the whole relative path, and a trailing "/" matches directories only.

    Args:
        folder: The package folder (the one holding ``hub.yaml``).

    Returns:
        The archive bytes; equal folders give equal bytes.

    Raises:
        InvalidPackage: ``not_a_directory`` if ``folder`` is not a directory,
            ``unsupported_file`` for a symlink, device, FIFO or socket in it, ``unsafe_path``
            for a file name an archive may not carry (backslash, control character, not
            UTF-8), ``path_too_long`` for a path the tar format cannot hold and
            ``invalid_encoding`` for a ``.hubignore`` that is not UTF-8.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InvalidPackage(
            f"The package folder {str(folder)!r} is not a directory.",
            code="not_a_directory",
            path=str(folder),
        )
    rules = _read_hubignore(folder)
    raw = io.BytesIO()
    # USTAR rather than PAX/GNU: no extension headers at all, so nothing varies with the
    # Python version; its 255-character path limit is far above what a package needs.
    with tarfile.open(
        fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT, encoding="utf-8", errors="strict"
    ) as tar:
        for rel, path, mode in _collect(folder, rules):
            # Read once and size from the bytes read, so a file changing underneath cannot
            # produce a header that disagrees with its data.
            data = path.read_bytes()
            info = tarfile.TarInfo(rel)
            info.size = len(data)
            info.mtime = 0
            info.mode = mode
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.type = tarfile.REGTYPE
            try:
                tar.addfile(info, io.BytesIO(data))
            except ValueError as exc:
                raise InvalidPackage(
                    f"The path {rel!r} is too long to be stored in a package archive.",
                    code="path_too_long",
                    path=rel,
                ) from exc
    return _gzip(raw.getvalue())


def digest(data: bytes) -> str:
    """The content digest of an archive.

    Args:
        data: Archive bytes.

    Returns:
        ``"sha256:<64 lowercase hex digits>"``.
    """
    return "sha256:" + hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------------------------
# Unpacking
# --------------------------------------------------------------------------------------------

_BLOCK = tarfile.BLOCKSIZE
_RECORD = tarfile.RECORDSIZE
_DRIVE = re.compile(r"^[A-Za-z]:")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SPECIAL_KINDS = {
    tarfile.CHRTYPE: "character device",
    tarfile.BLKTYPE: "block device",
    tarfile.FIFOTYPE: "FIFO",
}


class _BudgetExceededError(Exception):
    """The decompressed stream grew past its budget."""


class _Gunzip:
    """A read-only file object that inflates a gzip member on demand, under a byte budget.

    ``tarfile`` in stream mode pulls small reads from it, so at no point does more than one
    read's worth of inflated data exist beyond what the caller keeps, and inflation stops
    as soon as the total passes ``budget``: a bomb costs a budget's worth of CPU, not its
    nominal size in memory.
    """

    _IN_CHUNK = 64 * 1024
    # Must cover what tarfile buffers ahead plus the header it failed on (one record and
    # one block); see _check_end_of_archive.
    _TAIL = 4 * _RECORD

    def __init__(self, data: bytes, budget: int) -> None:
        self._data = memoryview(data)
        self._pos = 0
        self._inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)  # gzip header only
        self._budget = budget
        self.produced = 0
        self._tail: collections.deque[bytes] = collections.deque()
        self._tail_len = 0

    def read(self, size: int = -1) -> bytes:
        # tarfile always asks for a size; an unbounded read must never inflate everything.
        if size < 0:
            size = _RECORD
        pieces: list[bytes] = []
        got = 0
        while got < size and not self._inflater.eof:
            if self._inflater.unconsumed_tail:
                chunk: bytes | memoryview = self._inflater.unconsumed_tail
            elif self._pos < len(self._data):
                chunk = self._data[self._pos : self._pos + self._IN_CHUNK]
                self._pos += len(chunk)
            else:
                break  # truncated: the short read makes the caller notice
            piece = self._inflater.decompress(chunk, size - got)
            if piece:
                pieces.append(piece)
                got += len(piece)
                self.produced += len(piece)
                if self.produced > self._budget:
                    raise _BudgetExceededError
        out = b"".join(pieces)
        self._remember(out)
        return out

    def _remember(self, out: bytes) -> None:
        if not out:
            return
        self._tail.append(out)
        self._tail_len += len(out)
        while self._tail_len - len(self._tail[0]) >= self._TAIL:
            self._tail_len -= len(self._tail.popleft())

    def recent_from(self, offset: int) -> bytes | None:
        """The inflated bytes from absolute ``offset`` on, if they are still remembered."""
        recent = b"".join(self._tail)
        start = self.produced - len(recent)
        if offset < start:
            return None
        return recent[offset - start :]

    @property
    def finished_cleanly(self) -> bool:
        """Whether the gzip member ended (CRC and length verified) with nothing after it."""
        return (
            self._inflater.eof
            and not self._inflater.unused_data
            and not self._inflater.unconsumed_tail
            and self._pos >= len(self._data)
        )


def _invalid_archive(reason: str) -> InvalidPackage:
    return InvalidPackage(
        f"The archive is not a valid gzip-compressed tar file: {reason}.", code="invalid_archive"
    )


def _too_large_uncompressed(limits: ArchiveLimits) -> InvalidPackage:
    return InvalidPackage(
        f"The archive expands to more than {limits.max_total_bytes} bytes uncompressed, "
        "the most a package may hold.",
        code="archive_too_large_uncompressed",
        limit=limits.max_total_bytes,
    )


def _check_path(name: str) -> str:
    """Validate an archive member name and return it normalised ("./" and "//" removed)."""

    def refuse(why: str) -> InvalidPackage:
        return InvalidPackage(
            f"The archive path {name!r} is unsafe: {why}.", code="unsafe_path", path=name
        )

    if not name:
        raise refuse("it is empty")
    if "\x00" in name or _CONTROL.search(name):
        raise refuse("it contains a NUL or control character")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        # tarfile hands undecodable bytes over as surrogates.
        raise refuse("it is not valid UTF-8") from None
    if "\\" in name:
        raise refuse("it contains a backslash; use '/' to separate folders")
    if name.startswith("/"):
        raise refuse("it is absolute; paths must be relative to the package folder")
    if _DRIVE.match(name):
        raise refuse("it starts with a Windows drive letter")
    parts = name.split("/")
    if ".." in parts:
        raise refuse("it contains a '..' component")
    # "./a" and "a//b" are common and harmless (e.g. `tar -C dir -czf x.tgz .`), so they are
    # normalised rather than refused; duplicates are detected on the normalised form.
    kept = [part for part in parts if part not in ("", ".")]
    return "/".join(kept)


def _check_member(member: tarfile.TarInfo, limits: ArchiveLimits) -> None:
    name = member.name
    if member.issym() or member.islnk():
        kind = "symbolic link" if member.issym() else "hard link"
        raise InvalidPackage(
            f"The archive member {name!r} is a {kind} (to {member.linkname!r}); packages may "
            "only contain regular files.",
            code="archive_link",
            path=name,
            target=member.linkname,
        )
    if member.isdir():
        return
    # issparse() members are isreg() too, but a sparse map can inflate a few bytes of data
    # into a huge file, so they are refused with the other special members.
    if not member.isreg() or member.issparse():
        type_code = member.type.decode("latin-1")
        kind = (
            "sparse file"
            if member.issparse()
            else _SPECIAL_KINDS.get(member.type, f"special file (tar type {type_code!r})")
        )
        raise InvalidPackage(
            f"The archive member {name!r} is a {kind}; packages may only contain regular files.",
            code="archive_special_file",
            path=name,
            type=type_code,
        )
    if member.size > limits.max_entry_bytes:
        raise InvalidPackage(
            f"The archive member {name!r} is {member.size} bytes; a single file may be at most "
            f"{limits.max_entry_bytes} bytes.",
            code="archive_entry_too_large",
            path=name,
            size=member.size,
            limit=limits.max_entry_bytes,
        )


def _check_end_of_archive(reader: _Gunzip, end: int) -> None:
    """Require only zero blocks from ``end`` (where tarfile stopped) to the end of the stream.

    tarfile quietly treats an unreadable header after the first member as the end of the
    archive; checking that the rest is padding turns corruption and headers that lie about
    their size into errors instead of silently dropped files.
    """
    rest = reader.recent_from(end)
    if rest is None:
        raise _invalid_archive("the end of the archive could not be verified")
    zeros = 0
    while rest:
        if rest.count(0) != len(rest):
            raise _invalid_archive(
                f"unexpected data at byte {end + zeros} of the tar stream (a corrupt header "
                "or a header whose size does not match its data)"
            )
        zeros += len(rest)
        rest = reader.read(_RECORD)
    if zeros < 2 * _BLOCK:
        raise _invalid_archive("the tar stream ends without its end-of-archive marker")
    if not reader.finished_cleanly:
        raise _invalid_archive("the gzip stream is truncated or followed by extra data")


def unpack(data: bytes, limits: ArchiveLimits = ArchiveLimits()) -> dict[str, bytes]:
    """Read an uploaded package archive into memory, refusing anything unsafe.

    Nothing is written to disk. Directory entries are accepted and dropped; paths are
    returned normalised ("./" prefixes and repeated slashes removed).

    Args:
        data: The uploaded ``.tar.gz`` bytes (untrusted).
        limits: Size limits to enforce.

    Returns:
        ``{relative path: file bytes}`` in archive order.

    Raises:
        PayloadTooLarge: ``archive_too_large`` when ``data`` exceeds ``max_archive_bytes``.
        InvalidPackage: ``invalid_archive`` (not gzip, not tar, truncated, corrupt),
            ``unsafe_path``, ``duplicate_entry``, ``archive_link``, ``archive_special_file``,
            ``archive_entry_too_large``, ``archive_too_large_uncompressed`` or
            ``archive_too_many_entries``; ``detail["path"]`` names the member when there is
            one.
    """
    if len(data) > limits.max_archive_bytes:
        raise PayloadTooLarge(
            f"The archive is {len(data)} bytes; the most accepted is "
            f"{limits.max_archive_bytes} bytes.",
            code="archive_too_large",
            size=len(data),
            limit=limits.max_archive_bytes,
        )
    if data[:2] != b"\x1f\x8b":
        raise _invalid_archive("it is not gzip-compressed")

    # The inflated tar stream is the files plus headers and padding: at most a few blocks per
    # member (header, long-name/PAX header, padding) and the final record. Anything beyond
    # that is a bomb, be it file data, metadata headers or trailing zeros.
    budget = limits.max_total_bytes + (limits.max_entries + 1) * 4 * _BLOCK + 4 * _RECORD
    reader = _Gunzip(data, budget)
    files: dict[str, bytes] = {}
    dirs: set[str] = set()
    total = 0
    count = 0
    try:
        # "r|": a forward-only stream, so tarfile never seeks and only reads what it needs.
        with tarfile.open(
            fileobj=reader,  # type: ignore[call-overload]
            mode="r|",
            encoding="utf-8",
            errors="surrogateescape",
        ) as tar:
            for member in tar:
                count += 1
                if count > limits.max_entries:
                    raise InvalidPackage(
                        f"The archive has more than {limits.max_entries} entries, the most a "
                        "package may hold.",
                        code="archive_too_many_entries",
                        limit=limits.max_entries,
                    )
                path = _check_path(member.name)
                _check_member(member, limits)
                if member.isdir():
                    if path:
                        dirs.add(path)
                    continue
                if not path or member.name.endswith("/"):
                    raise InvalidPackage(
                        f"The archive path {member.name!r} is unsafe: a file needs a name.",
                        code="unsafe_path",
                        path=member.name,
                    )
                if path in files:
                    raise InvalidPackage(
                        f"The archive contains {path!r} more than once.",
                        code="duplicate_entry",
                        path=path,
                    )
                # Declared sizes are checked before any data is read, so a header claiming
                # gigabytes costs nothing.
                total += member.size
                if total > limits.max_total_bytes:
                    raise _too_large_uncompressed(limits)
                fileobj = tar.extractfile(member)
                if fileobj is None:  # pragma: no cover - isreg() members always have data
                    raise _invalid_archive(f"the data of {path!r} cannot be read")
                content = fileobj.read(limits.max_entry_bytes + 1)
                if len(content) > limits.max_entry_bytes:  # pragma: no cover - defensive
                    raise InvalidPackage(
                        f"The archive member {path!r} holds more than "
                        f"{limits.max_entry_bytes} bytes.",
                        code="archive_entry_too_large",
                        path=path,
                        limit=limits.max_entry_bytes,
                    )
                if len(content) != member.size:
                    raise _invalid_archive(f"the data of {path!r} is truncated")
                files[path] = content
            _check_end_of_archive(reader, tar.offset)
    except _BudgetExceededError:
        raise _too_large_uncompressed(limits) from None
    except (tarfile.TarError, zlib.error, EOFError, OSError, ValueError) as exc:
        raise _invalid_archive(str(exc).rstrip(".") or type(exc).__name__) from None

    for path in files:
        parts = path.split("/")
        if path in dirs or any("/".join(parts[:i]) in files for i in range(1, len(parts))):
            raise InvalidPackage(
                f"The archive contains {path!r} both as a file and as a directory.",
                code="duplicate_entry",
                path=path,
            )
    return files


# --------------------------------------------------------------------------------------------
# Text and YAML
# --------------------------------------------------------------------------------------------

# Component specs and manifests nest a dozen levels at most; a limit keeps a deeply nested
# document from exhausting the Python stack in the (recursive) composer.
_MAX_YAML_DEPTH = 100


class _RefusedError(Exception):
    """Raised inside the loader; load_yaml turns it into InvalidPackage."""

    # Any: the C and Python parsers produce different Mark classes with the same fields.
    def __init__(self, code: str, message: str, mark: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.mark = mark


class _StrictComposer(Composer):
    """Composer that refuses anchors, aliases and excessive nesting.

    Refusing at composition time matters: an alias bomb (and a merge-key bomb built from
    aliases) grows exponentially as soon as nodes are constructed or merged, so it has to be
    stopped before any of that happens.
    """

    _depth = 0
    # Provided by the parser the composer is mixed with (yaml.Parser or the C parser).
    peek_event: Callable[[], Event]

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        event = self.peek_event()
        if isinstance(event, AliasEvent) or (
            isinstance(event, NodeEvent) and event.anchor is not None
        ):
            raise _RefusedError(
                "yaml_aliases",
                "uses YAML anchors or aliases (& and *), which are not allowed",
                event.start_mark,
            )
        self._depth += 1
        try:
            if self._depth > _MAX_YAML_DEPTH:
                raise _RefusedError(
                    "yaml_too_deep",
                    f"is nested more than {_MAX_YAML_DEPTH} levels deep",
                    event.start_mark,
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


class _StrictConstructor(yaml.constructor.SafeConstructor):
    """Safe constructor that refuses duplicate mapping keys instead of keeping the last."""

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, MappingNode):
            seen: set[Any] = set()
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    duplicate = key in seen
                    seen.add(key)
                except TypeError:
                    continue  # unhashable key: the base class reports it properly
                if duplicate:
                    raise _RefusedError(
                        "yaml_duplicate_key",
                        f"has the mapping key {key!r} more than once",
                        key_node.start_mark,
                    )
        return super().construct_mapping(node, deep=deep)


class _PyStrictLoader(_StrictComposer, _StrictConstructor, yaml.SafeLoader):
    """The strict loader on PyYAML's pure-Python parser."""


_Loader: type[Any] = _PyStrictLoader

if hasattr(yaml, "CSafeLoader"):

    class _CStrictLoader(_StrictComposer, _StrictConstructor, yaml.CSafeLoader):
        """The strict loader on libyaml's C parser (several times faster).

        The C loader normally composes nodes in C, where aliases cannot be intercepted, so
        the Python composer is put in front of it; only scanning and parsing stay in C.
        """

        def __init__(self, stream: str | bytes) -> None:
            yaml.CSafeLoader.__init__(self, stream)
            Composer.__init__(self)

    _Loader = _CStrictLoader


def _mark_detail(mark: Any) -> dict[str, int]:
    if mark is None:
        return {}
    return {"line": mark.line + 1, "column": mark.column + 1}


def load_yaml(
    data: bytes,
    *,
    filename: str,
    limits: ArchiveLimits = ArchiveLimits(),
) -> Any:
    """Parse one YAML document from a package, strictly and safely.

    Args:
        data: The file's bytes; UTF-8, optionally with a byte-order mark.
        filename: The file's path in the package, for error messages.
        limits: ``max_yaml_bytes`` is enforced.

    Returns:
        The parsed document (``None`` for an empty one).

    Raises:
        InvalidPackage: ``yaml_too_large``, ``invalid_encoding``, ``yaml_aliases``,
            ``yaml_duplicate_key``, ``yaml_too_deep`` or ``invalid_yaml``, with ``path`` and,
            where known, ``line`` and ``column`` (1-based) in the detail.
    """
    if len(data) > limits.max_yaml_bytes:
        raise InvalidPackage(
            f"The file {filename!r} is {len(data)} bytes; a YAML file may be at most "
            f"{limits.max_yaml_bytes} bytes.",
            code="yaml_too_large",
            path=filename,
            size=len(data),
            limit=limits.max_yaml_bytes,
        )
    text = _decode(data, filename)
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader subclass
    except _RefusedError as exc:
        detail = _mark_detail(exc.mark)
        where = f" (line {detail['line']}, column {detail['column']})" if detail else ""
        raise InvalidPackage(
            f"The file {filename!r} {exc.message}{where}.", code=exc.code, path=filename, **detail
        ) from None
    except yaml.MarkedYAMLError as exc:
        detail = _mark_detail(exc.problem_mark or exc.context_mark)
        problem = exc.problem or exc.context or "syntax error"
        if "maximum nesting depth" in problem:
            # libyaml's scanner (PyYAML >= 6.0.4) has its own limit, 1000 levels, and its
            # look-ahead over flow collections reaches it before the composer's (above) is
            # asked about the first node: the same refusal, with the same code.
            raise InvalidPackage(
                f"The file {filename!r} is nested more than {_MAX_YAML_DEPTH} levels deep.",
                code="yaml_too_deep",
                path=filename,
                **detail,
            ) from None
        where = f" at line {detail['line']}, column {detail['column']}" if detail else ""
        raise InvalidPackage(
            f"The file {filename!r} is not valid YAML: {problem}{where}.",
            code="invalid_yaml",
            path=filename,
            problem=problem,
            **detail,
        ) from None
    except (yaml.YAMLError, ValueError, OverflowError, RecursionError) as exc:
        # ValueError: e.g. an integer beyond Python's digit limit or an impossible date.
        raise InvalidPackage(
            f"The file {filename!r} is not valid YAML: {str(exc).rstrip('.')}.",
            code="invalid_yaml",
            path=filename,
            problem=str(exc),
        ) from None


def _decode(data: bytes, path: str) -> str:
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidPackage(
            f"The file {path!r} is not valid UTF-8 text (byte {exc.start} cannot be decoded).",
            code="invalid_encoding",
            path=path,
            position=exc.start,
        ) from None


def read_text(files: dict[str, bytes], path: str) -> str:
    """Decode one file of an unpacked package as UTF-8 text.

    Args:
        files: The result of :func:`unpack`.
        path: The file's path in the package.

    Returns:
        The text, without a leading UTF-8 byte-order mark.

    Raises:
        InvalidPackage: ``missing_file`` if the package has no such file,
            ``invalid_encoding`` if it is not UTF-8.
    """
    try:
        data = files[path]
    except KeyError:
        raise InvalidPackage(
            f"The package has no file {path!r}.", code="missing_file", path=path
        ) from None
    return _decode(data, path)
