"""npm-compatible semantic versions and version ranges.

The hub resolves ``ns/name@<range>`` the way npm does, so a range typed by a user must select
exactly the version that ``semver.maxSatisfying(versions, range)`` of node-semver v7 would
select with its default options (``loose: false``, ``includePrerelease: false``). This module
is a clean-room implementation of those semantics; ``tests/server/test_semver_npm.py`` checks
it against the real npm package.

Versions
    :meth:`Version.parse` accepts strict SemVer 2.0.0 only: ``MAJOR.MINOR.PATCH``, an optional
    ``-prerelease`` and an optional ``+build``; no ``v`` prefix, no surrounding whitespace, no
    leading zeros in numeric identifiers. Like node, it also refuses texts longer than 256
    characters and major/minor/patch numbers above ``2**53 - 1``, so every version the hub
    accepts is one npm can handle. Precedence follows SemVer: build metadata is ignored, a
    prerelease sorts before its release, numeric identifiers sort numerically and before
    alphanumeric ones, and a longer prerelease wins over its own prefix.

Ranges
    A range is a ``||``-separated union of comparator sets; a set is a whitespace-separated
    intersection of comparators ``<``, ``<=``, ``>``, ``>=``, ``=`` or a bare version. Sugar
    is rewritten into comparators exactly as node-semver does, and :meth:`Range.__str__`
    gives node's normalized text (what ``semver.validRange`` returns):

    ============================  =====================================
    ``*``, ``x``, ``""``          any version (``*``)
    ``1.x``, ``1``                ``>=1.0.0 <2.0.0-0``
    ``1.2.x``, ``1.2``            ``>=1.2.0 <1.3.0-0``
    ``>1.2``, ``<=1.2``           ``>=1.3.0``, ``<1.3.0-0``
    ``~1.2.3``, ``~>1.2.3``       ``>=1.2.3 <1.3.0-0``
    ``~1``                        ``>=1.0.0 <2.0.0-0``
    ``^1.2.3``                    ``>=1.2.3 <2.0.0-0``
    ``^0.2.3``                    ``>=0.2.3 <0.3.0-0``
    ``^0.0.3``                    ``>=0.0.3 <0.0.4-0``
    ``^1.2.3-beta.2``             ``>=1.2.3-beta.2 <2.0.0-0``
    ``1.2.3 - 2.3.4``             ``>=1.2.3 <=2.3.4``
    ``1.2 - 2.3``                 ``>=1.2.0 <2.4.0-0``
    ============================  =====================================

    The ``-0`` upper bounds matter: ``-0`` is the lowest possible prerelease, so
    ``<2.0.0-0`` keeps ``2.0.0-rc.1`` out of ``^1.2.3``. Build metadata inside a range is
    dropped, ``v`` and ``=`` prefixes are tolerated where node tolerates them, ``>=0.0.0``
    means any version and a comparator that can match nothing (``<0.0.0-0``, from ``<x`` or
    ``>*``) makes its whole set empty.

    Prereleases are opt-in: a version with a prerelease satisfies a comparator set only if
    the set is otherwise satisfied *and* one of its comparators names a prerelease of the
    same ``MAJOR.MINOR.PATCH``. So ``^1.2.3-beta.2`` admits ``1.2.3-beta.4`` but not
    ``1.2.4-beta.1``, and ``*`` admits no prerelease at all.

Faithfulness
    To agree with node on every input, including odd and invalid ones, the range parser
    follows node's own pipeline of textual rewrites (strip build metadata, expand hyphen
    ranges, glue operators to their operands, expand ``^``/``~``/x-ranges, drop ``*``) with
    equivalent regular expressions. Whitespace is JavaScript's ``\\s`` (which differs from
    Python's), whole-text patterns use ``fullmatch`` (Python's ``$`` also matches before a
    final newline) and quantifiers carry node's length caps. One deliberate deviation: node
    compares numeric prerelease identifiers as floating-point numbers, so above ``2**53`` it
    sees ``1.0.0-9007199254740993`` and ``1.0.0-9007199254740992`` as equal; this module
    compares them exactly.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Final

__all__ = [
    "InvalidRange",
    "InvalidVersion",
    "Range",
    "Version",
    "is_exact",
    "max_satisfying",
]

MAX_LENGTH: Final = 256
"""Longest version text node accepts."""

MAX_SAFE_INTEGER: Final = 2**53 - 1
"""Largest major/minor/patch node accepts (JavaScript's ``Number.MAX_SAFE_INTEGER``)."""


class InvalidVersion(ValueError):
    """A text is not a strict SemVer 2.0.0 version."""


class InvalidRange(ValueError):
    """A text is not a range node-semver accepts (``semver.validRange`` would be null)."""


# --- Grammar ------------------------------------------------------------------------------
# Written as regular expressions because node-semver defines ranges as a sequence of regex
# rewrites; matching its quirks on malformed input requires the same languages. Node caps
# its quantifiers (whitespace runs to one character, digit runs to 256, identifier runs to
# 250) to defend against ReDoS, and those caps are observable, so they are reproduced.

# JavaScript's \s (and String.prototype.trim) set; Python's \s differs (e.g. \x1c, \ufeff).
_JS_SPACES: Final = (
    "\t\n\x0b\x0c\r \xa0\u1680"
    + "".join(chr(c) for c in range(0x2000, 0x200B))
    + "\u2028\u2029\u202f\u205f\u3000\ufeff"
)
_WS: Final = f"[{_JS_SPACES}]"
_WS_OPT: Final = f"{_WS}?"
_NUM: Final = "0|[1-9][0-9]{0,256}"
_NUM_LOOSE: Final = "[0-9]{1,256}"
_ALNUM_ID: Final = "[0-9]{0,256}[a-zA-Z-][a-zA-Z0-9-]{0,250}"
_PRE_ID: Final = f"(?:{_ALNUM_ID}|{_NUM})"
_PRE_ID_LOOSE: Final = f"(?:{_ALNUM_ID}|{_NUM_LOOSE})"
_PRE_BODY: Final = rf"{_PRE_ID}(?:\.{_PRE_ID})*"
_BUILD_ID: Final = "[a-zA-Z0-9-]{1,250}"
_BUILD_BODY: Final = rf"{_BUILD_ID}(?:\.{_BUILD_ID})*"
_OP: Final = "(?:<|>)?=?"
_X_ID: Final = rf"{_NUM}|x|X|\*"
# Node lets any run of "v", "=" and whitespace precede a partial version inside a range.
_X_LEAD: Final = f"[v={_JS_SPACES}]*"


def _x_plain(tag: str) -> str:
    """A partial version (``1``, ``1.x``, ``1.2.3-pre+b``) with groups named ``<tag>M`` etc."""
    return (
        rf"{_X_LEAD}(?P<{tag}M>{_X_ID})(?:\.(?P<{tag}m>{_X_ID})(?:\.(?P<{tag}p>{_X_ID})"
        rf"(?:-(?P<{tag}pr>{_PRE_BODY}))?(?:\+{_BUILD_BODY})?)?)?"
    )


_LOOSE_PLAIN: Final = (
    rf"{_X_LEAD}{_NUM_LOOSE}\.{_NUM_LOOSE}\.{_NUM_LOOSE}"
    rf"(?:-?{_PRE_ID_LOOSE}(?:\.{_PRE_ID_LOOSE})*)?(?:\+{_BUILD_BODY})?"
)
_X_PLAIN_BARE: Final = (
    rf"{_X_LEAD}(?:{_X_ID})(?:\.(?:{_X_ID})(?:\.(?:{_X_ID})"
    rf"(?:-{_PRE_BODY})?(?:\+{_BUILD_BODY})?)?)?"
)

_STRICT_RE: Final = re.compile(
    rf"(?P<M>{_NUM})\.(?P<m>{_NUM})\.(?P<p>{_NUM})"
    rf"(?:-(?P<pr>{_PRE_BODY}))?(?:\+(?P<build>{_BUILD_BODY}))?"
)
_NUMERIC_RE: Final = re.compile("[0-9]+")
_RUN_CHARS: Final = frozenset("v=" + _JS_SPACES)


class _RangeGrammar:
    """The range patterns, compiled on first use so that importing this module stays cheap."""

    def __init__(self) -> None:
        self.comparator = re.compile(
            rf"(?P<op>{_OP}){_WS_OPT}(?P<version>v?(?:{_NUM})\.(?:{_NUM})\.(?:{_NUM})"
            rf"(?:-{_PRE_BODY})?(?:\+{_BUILD_BODY})?)"
        )
        self.hyphen = re.compile(
            rf"{_WS_OPT}(?P<low>{_x_plain('f')}){_WS}-{_WS}(?P<high>{_x_plain('t')}){_WS_OPT}"
        )
        self.operator_gap = re.compile(
            rf"(?P<lead>{_WS_OPT})(?P<op>{_OP}){_WS_OPT}"
            rf"(?P<operand>{_LOOSE_PLAIN}|{_X_PLAIN_BARE})"
        )
        self.tilde_gap = re.compile(rf"({_WS_OPT})~>?{_WS}")
        self.caret_gap = re.compile(rf"({_WS_OPT})\^{_WS}")
        self.caret = re.compile(rf"\^{_x_plain('')}")
        self.tilde = re.compile(rf"~>?{_x_plain('')}")
        self.xrange = re.compile(rf"(?P<op>{_OP}){_WS_OPT}{_x_plain('')}")
        # Unlike the patterns above, node strips build metadata without a length cap.
        self.build = re.compile(r"\+[a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)*")
        self.star = re.compile(rf"(?:<|>)?=?{_WS_OPT}\*")
        self.gte0 = re.compile(rf"{_WS_OPT}>={_WS_OPT}0\.0\.0{_WS_OPT}")
        self.ws_run = re.compile(f"{_WS}+")
        self.operand_start = re.compile(r"[0-9xX*]")


@lru_cache(maxsize=1)
def _grammar() -> _RangeGrammar:
    return _RangeGrammar()


def _js_trim(text: str) -> str:
    return text.strip(_JS_SPACES)


def _js_split(text: str) -> list[str]:
    # Same as JavaScript's text.split(/\s+/): leading/trailing runs yield empty strings.
    return _grammar().ws_run.split(text)


# --- Versions -----------------------------------------------------------------------------

_Identifier = str | int
_PrecedenceKey = tuple[int, int, int, int, tuple[tuple[int, int, str], ...]]


def _identifier_key(ident: _Identifier) -> tuple[int, int, str]:
    # Numeric identifiers sort numerically and before every alphanumeric one.
    if isinstance(ident, int):
        return (0, ident, "")
    if _NUMERIC_RE.fullmatch(ident):
        return (0, int(ident), "")
    return (1, 0, ident)


@dataclass(frozen=True)
class Version:
    """A SemVer 2.0.0 version.

    Equality and hashing compare every field, build metadata included, so ``1.0.0+a`` and
    ``1.0.0+b`` are distinct objects. Ordering (``<``, ``<=``, ``>``, ``>=``) follows SemVer
    precedence, which ignores build metadata: those two versions are neither smaller nor
    greater than each other, and ``<=`` holds both ways. Use :attr:`precedence_key` to sort.
    """

    major: int
    minor: int
    patch: int
    prerelease: tuple[_Identifier, ...] = ()
    build: tuple[str, ...] = ()
    # Computed once: resolving a range compares every candidate many times.
    _key: _PrecedenceKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # A release sorts after all of its prereleases, hence the 1/0 flag before them.
        key = (
            self.major,
            self.minor,
            self.patch,
            0 if self.prerelease else 1,
            tuple(_identifier_key(ident) for ident in self.prerelease),
        )
        object.__setattr__(self, "_key", key)  # the dataclass is frozen

    @classmethod
    def parse(cls, text: str) -> Version:
        """Parse a strict SemVer 2.0.0 version.

        Args:
            text: e.g. ``"1.2.3"``, ``"1.2.3-rc.1"``, ``"1.2.3+build.5"``.

        Returns:
            The version; numeric prerelease identifiers become ``int``.

        Raises:
            InvalidVersion: ``text`` is not a strict version (``v`` prefix, whitespace,
                leading zeros, missing parts, bad characters, longer than 256 characters,
                or a major/minor/patch above ``2**53 - 1``).
        """
        if not isinstance(text, str):
            raise InvalidVersion(f"a version must be a string, not {type(text).__name__}")
        if len(text) > MAX_LENGTH:
            raise InvalidVersion(f"invalid version: longer than {MAX_LENGTH} characters")
        match = _STRICT_RE.fullmatch(text)
        if match is None:
            raise InvalidVersion(_explain_invalid(text))
        version = _version_from_match(match)
        if version is None:
            raise InvalidVersion(
                f"invalid version {text!r}: major, minor and patch must not exceed "
                f"{MAX_SAFE_INTEGER}"
            )
        return version

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.prerelease:
            text += "-" + ".".join(str(ident) for ident in self.prerelease)
        if self.build:
            text += "+" + ".".join(self.build)
        return text

    @property
    def is_prerelease(self) -> bool:
        """Whether the version has a prerelease part (``1.2.3-rc.1``)."""
        return bool(self.prerelease)

    @property
    def precedence_key(self) -> _PrecedenceKey:
        """A sort key implementing SemVer precedence (build metadata ignored)."""
        return self._key

    @property
    def core(self) -> str:
        """``MAJOR.MINOR.PATCH[-PRERELEASE]``: the text without build metadata."""
        if self.prerelease:
            return f"{self.major}.{self.minor}.{self.patch}-" + ".".join(
                str(ident) for ident in self.prerelease
            )
        return f"{self.major}.{self.minor}.{self.patch}"

    def compare(self, other: Version) -> int:
        """Compare by precedence, like node's ``semver.compare``.

        Args:
            other: the version to compare with.

        Returns:
            -1, 0 or 1 as ``self`` has lower, equal or higher precedence than ``other``.
        """
        mine, theirs = self._key, other._key
        return (mine > theirs) - (mine < theirs)

    # Not functools.total_ordering: it would derive <= from == , which looks at the build.
    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._key < other._key

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._key <= other._key

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._key > other._key

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._key >= other._key


def _version_from_match(match: re.Match[str]) -> Version | None:
    """Build a version from a match of the strict grammar; None if a number is too large."""
    major, minor, patch = int(match["M"]), int(match["m"]), int(match["p"])
    if major > MAX_SAFE_INTEGER or minor > MAX_SAFE_INTEGER or patch > MAX_SAFE_INTEGER:
        return None
    pre = match["pr"]
    build = match["build"]
    return Version(
        major,
        minor,
        patch,
        tuple(int(i) if _NUMERIC_RE.fullmatch(i) else i for i in pre.split(".")) if pre else (),
        tuple(build.split(".")) if build else (),
    )


def _explain_invalid(text: str) -> str:
    """The most helpful reason ``text`` is not a strict version."""
    prefix = f"invalid version {text!r}"
    if not text:
        return f"{prefix}: empty"
    if text != _js_trim(text) or text != text.strip():
        return f"{prefix}: surrounding whitespace is not allowed"
    if text[0] in "vV=":
        return f"{prefix}: no 'v' or '=' prefix is allowed; write {text.lstrip('vV=')!r}"
    core, _, _ = text.partition("+")
    core, _, pre = core.partition("-")
    parts = core.split(".")
    if len(parts) != 3 or not all(p.isascii() and p.isdigit() for p in parts):
        return f"{prefix}: expected MAJOR.MINOR.PATCH, three non-negative integers"
    numbers = parts + [i for i in pre.split(".") if i.isascii() and i.isdigit()]
    if any(len(n) > 1 and n.startswith("0") for n in numbers):
        return f"{prefix}: numeric identifiers must not have leading zeros"
    return f"{prefix}: dot-separated identifiers must be non-empty [0-9A-Za-z-] runs"


# --- Ranges -------------------------------------------------------------------------------


_OPERATORS: Final[dict[str, Callable[[_PrecedenceKey, _PrecedenceKey], bool]]] = {
    "": operator.eq,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


class _Comparator:
    """One primitive comparison; ``version is None`` is node's match-anything comparator."""

    __slots__ = ("_check", "_key", "operator", "text", "version")

    def __init__(self, op: str, version: Version | None) -> None:
        self.operator = op  # "", "<", "<=", ">" or ">="; "=" is stored as ""
        self.version = version
        # node identifies comparators by this text (dedup, "<0.0.0-0", printing).
        self.text = "" if version is None else op + version.core
        self._check = _OPERATORS[op]
        self._key = None if version is None else version.precedence_key

    def test(self, version: Version) -> bool:
        return self._key is None or self._check(version.precedence_key, self._key)


_ANY: Final = _Comparator("", None)
_NOTHING_TEXT: Final = "<0.0.0-0"  # node's canonical empty comparator


def _is_x(part: str | None) -> bool:
    return part is None or part in ("x", "X", "*")


def _expand_hyphen(match: re.Match[str]) -> str:
    # "A - B": a partial A is padded with zeros; a partial B excludes its whole next
    # major/minor with a "-0" bound, while a full B is inclusive. Note "low"/"high" keep any
    # "v"/"=" prefix verbatim, which is how node comes to reject "=1.2.3 - 2".
    f_major, f_minor, f_patch = match["fM"], match["fm"], match["fp"]
    t_major, t_minor, t_patch, t_pre = match["tM"], match["tm"], match["tp"], match["tpr"]
    if _is_x(f_major):
        low = ""
    elif _is_x(f_minor):
        low = f">={f_major}.0.0"
    elif _is_x(f_patch):
        low = f">={f_major}.{f_minor}.0"
    else:
        low = f">={match['low']}"
    if _is_x(t_major):
        high = ""
    elif _is_x(t_minor):
        high = f"<{int(t_major) + 1}.0.0-0"
    elif _is_x(t_patch):
        high = f"<{t_major}.{int(t_minor) + 1}.0-0"
    elif t_pre:
        high = f"<={t_major}.{t_minor}.{t_patch}-{t_pre}"
    else:
        high = f"<={match['high']}"
    return _js_trim(f"{low} {high}")


def _expand_caret(token: str) -> str:
    # ^ allows changes that keep the left-most non-zero part: ^1.2.3 <2.0.0, ^0.2.3 <0.3.0,
    # ^0.0.3 <0.0.4.
    match = _grammar().caret.fullmatch(token)
    if match is None:
        return token
    major, minor, patch, pre = match["M"], match["m"], match["p"], match["pr"]
    if _is_x(major):
        return ""
    if _is_x(minor):
        return f">={major}.0.0 <{int(major) + 1}.0.0-0"
    if _is_x(patch):
        if major == "0":
            return f">={major}.{minor}.0 <{major}.{int(minor) + 1}.0-0"
        return f">={major}.{minor}.0 <{int(major) + 1}.0.0-0"
    low = f">={major}.{minor}.{patch}" + (f"-{pre}" if pre else "")
    if major != "0":
        return f"{low} <{int(major) + 1}.0.0-0"
    if minor != "0":
        return f"{low} <{major}.{int(minor) + 1}.0-0"
    return f"{low} <{major}.{minor}.{int(patch) + 1}-0"


def _expand_tilde(token: str) -> str:
    # ~ allows patch-level changes if a minor is given, minor-level changes otherwise.
    match = _grammar().tilde.fullmatch(token)
    if match is None:
        return token
    major, minor, patch, pre = match["M"], match["m"], match["p"], match["pr"]
    if _is_x(major):
        return ""
    if _is_x(minor):
        return f">={major}.0.0 <{int(major) + 1}.0.0-0"
    if _is_x(patch):
        return f">={major}.{minor}.0 <{major}.{int(minor) + 1}.0-0"
    low = f">={major}.{minor}.{patch}" + (f"-{pre}" if pre else "")
    return f"{low} <{major}.{int(minor) + 1}.0-0"


def _expand_xrange(token: str) -> str:
    token = _js_trim(token)
    match = _grammar().xrange.fullmatch(token)
    if match is None:
        return token
    op, major, minor, patch = match["op"], match["M"], match["m"], match["p"]
    # Node leaves "1.x.3" or "x.1" untouched (so they fail later): a wildcard may only be
    # followed by wildcards or by nothing.
    if (_is_x(major) and not _is_x(minor)) or (_is_x(minor) and not _is_x(patch)):
        return token
    x_major, x_minor, x_patch = _is_x(major), _is_x(minor), _is_x(patch)
    if not x_patch:
        return token  # a plain version: the comparator parser deals with it
    if op == "=":
        op = ""
    if x_major:
        return _NOTHING_TEXT if op in ("<", ">") else "*"
    if not op:
        if x_minor:
            return f">={major}.0.0 <{int(major) + 1}.0.0-0"
        return f">={major}.{minor}.0 <{major}.{int(minor) + 1}.0-0"
    # A comparison with a partial version compares against the padded version, except that
    # >1.2 means "above every 1.2.x" and <=1.2 means "up to every 1.2.x".
    n_major, n_minor = int(major), 0 if x_minor else int(minor)
    if op == ">":
        op = ">="
        if x_minor:
            n_major, n_minor = n_major + 1, 0
        else:
            n_minor += 1
    elif op == "<=":
        op = "<"
        if x_minor:
            n_major += 1
        else:
            n_minor += 1
    # "<1.2" must exclude 1.2.0's prereleases too, so the bound is the lowest of them.
    return f"{op}{n_major}.{n_minor}.0" + ("-0" if op == "<" else "")


def _map_tokens(text: str, expand: Callable[[str], str]) -> str:
    return " ".join(expand(token) for token in _js_split(text))


def _desugar(piece: str) -> str:
    """Rewrite one whitespace-free piece of a set into plain comparators."""
    piece = _map_tokens(_js_trim(piece), _expand_caret)
    piece = _map_tokens(_js_trim(piece), _expand_tilde)
    piece = _map_tokens(piece, _expand_xrange)
    # Node removes only the first "*"-like run, and anywhere in the piece ("1.2.3*" passes).
    return _grammar().star.sub("", _js_trim(piece), count=1)


def _parse_comparator(token: str) -> _Comparator:
    if token == "":
        return _ANY
    match = _grammar().comparator.fullmatch(token)
    if match is None:
        raise InvalidRange(f"{token!r} is not a comparator")
    text = match["version"]
    if len(text) > MAX_LENGTH:
        raise InvalidRange(f"the version in {token!r} is longer than {MAX_LENGTH} characters")
    strict = _STRICT_RE.fullmatch(text[1:] if text.startswith("v") else text)
    version = None if strict is None else _version_from_match(strict)
    if version is None:
        raise InvalidRange(f"a number in {token!r} is above {MAX_SAFE_INTEGER}")
    op = match["op"]
    return _Comparator("" if op == "=" else op, version)


def _glue_operators(part: str) -> str:
    """Remove the whitespace between operators and operands (``> 1.2`` becomes ``>1.2``).

    The result is exactly ``operator_gap.sub(lead + op + operand, part)``, but a plain
    regex scan is quadratic here: from every position of a long run of ``v``/``=``/spaces it
    would rescan the run hunting for a number. A match needs an operand start (digit, ``x``,
    ``X`` or ``*``) right after such a run, preceded by at most a space and a ``<``/``>``; so
    the scan only tries those few positions, which keeps it linear.
    """
    grammar = _grammar()
    pieces: list[str] = []
    pos = 0
    for found in grammar.operand_start.finditer(part):
        operand_start = found.start()
        if operand_start < pos:
            continue
        start = operand_start
        while start > pos and part[start - 1] in _RUN_CHARS:
            start -= 1
        if start > pos and part[start - 1] in "<>":
            start -= 1
            if start > pos and part[start - 1] in _JS_SPACES:
                start -= 1
        for candidate in range(start, operand_start + 1):
            match = grammar.operator_gap.match(part, candidate)
            if match is not None:
                pieces += (part[pos:candidate], match["lead"], match["op"], match["operand"])
                pos = match.end()
                break
    pieces.append(part[pos:])
    return "".join(pieces)


def _parse_set(part: str) -> tuple[_Comparator, ...]:
    """Parse one ``||`` alternative into its comparators (node's order of rewrites)."""
    grammar = _grammar()
    part = grammar.build.sub("", part)
    hyphen = grammar.hyphen.fullmatch(part)
    if hyphen is not None:
        part = _expand_hyphen(hyphen)
    part = _glue_operators(part)
    part = grammar.tilde_gap.sub(r"\1~", part)
    part = grammar.caret_gap.sub(r"\1^", part)
    desugared = " ".join(_desugar(piece) for piece in part.split(" "))
    tokens = [_js_trim(token) for token in _js_split(desugared)]
    # ">=0.0.0" is spelled as the match-anything comparator (prereleases still excluded).
    comparators = [_parse_comparator("" if grammar.gte0.fullmatch(t) else t) for t in tokens]
    unique: dict[str, _Comparator] = {}
    for comparator in comparators:
        if comparator.text == _NOTHING_TEXT:
            return (comparator,)
        unique.setdefault(comparator.text, comparator)
    if len(unique) > 1:
        unique.pop("", None)
    return tuple(unique.values())


@lru_cache(maxsize=1024)
def _parse_range(text: str) -> tuple[tuple[_Comparator, ...], ...]:
    normalized = _grammar().ws_run.sub(" ", _js_trim(text))
    sets = [_parse_set(_js_trim(part)) for part in normalized.split("||")]
    if len(sets) > 1:
        # Empty sets add nothing to a union (unless all are empty), and a match-anything set
        # swallows the rest.
        useful = [s for s in sets if s[0].text != _NOTHING_TEXT]
        sets = useful or sets[:1]
        for comparators in sets:
            if len(comparators) == 1 and comparators[0] is _ANY:
                return (comparators,)
    return tuple(sets)


class Range:
    """A node-semver range: a union (``||``) of intersections of comparators."""

    __slots__ = ("_sets", "_text")

    def __init__(self, sets: tuple[tuple[_Comparator, ...], ...]) -> None:
        """Wrap already-parsed comparator sets; use :meth:`parse` to build a range."""
        self._sets = sets
        text = "||".join(" ".join(c.text for c in comparators) for comparators in sets)
        self._text = text or "*"

    @classmethod
    def parse(cls, text: str) -> Range:
        """Parse a range the way ``new semver.Range(text)`` does with default options.

        Args:
            text: e.g. ``"^1.2.3"``, ``"~1.2 || >=3.0.0-rc.1 <3.1"``, ``"1.2 - 2"``, ``"*"``.
                ``""``, ``"*"`` and ``"x"`` match any release.

        Returns:
            The range.

        Raises:
            InvalidRange: node-semver's ``validRange`` would return null for ``text``.
        """
        if not isinstance(text, str):
            raise InvalidRange(f"a range must be a string, not {type(text).__name__}")
        try:
            return cls(_parse_range(text))
        except InvalidRange as exc:
            raise InvalidRange(f"invalid range {text!r}: {exc}") from None

    def test(self, version: Version) -> bool:
        """Whether ``version`` satisfies the range (node's ``Range.test``).

        Args:
            version: the candidate.

        Returns:
            True if some comparator set accepts it. A prerelease is only accepted by a set
            that also names a prerelease of the same ``MAJOR.MINOR.PATCH``.
        """
        for comparators in self._sets:
            for c in comparators:
                if not c.test(version):
                    break
            else:
                if not version.prerelease:
                    return True
                if self._admits_prerelease(comparators, version):
                    return True
        return False

    @staticmethod
    def _admits_prerelease(comparators: tuple[_Comparator, ...], version: Version) -> bool:
        # Opting in to a prerelease of one release must not opt in to prereleases of others.
        for c in comparators:
            allowed = c.version
            if (
                allowed is not None
                and allowed.prerelease
                and allowed.major == version.major
                and allowed.minor == version.minor
                and allowed.patch == version.patch
            ):
                return True
        return False

    def __str__(self) -> str:
        """Node's normalized form (``semver.validRange``), e.g. ``>=1.2.3 <2.0.0-0``."""
        return self._text

    def __repr__(self) -> str:
        return f"Range({self._text!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Range):
            return NotImplemented
        return self._text == other._text

    def __hash__(self) -> int:
        return hash(self._text)


def max_satisfying(versions: Iterable[Version], rng: Range) -> Version | None:
    """The highest-precedence version in ``versions`` that satisfies ``rng``.

    Args:
        versions: candidates, in any order.
        rng: the range to satisfy.

    Returns:
        The best match, or None if none satisfies. Among versions of equal precedence (they
        differ only in build metadata) the first one wins, as in node's ``maxSatisfying``.
    """
    best: Version | None = None
    for version in versions:
        if rng.test(version) and (best is None or best._key < version._key):
            best = version
    return best


def is_exact(text: str) -> bool:
    """Whether ``text`` is a strict version rather than a range (``1.2.3`` vs ``^1.2.3``).

    Args:
        text: a version or range as a user typed it.

    Returns:
        True if :meth:`Version.parse` accepts ``text``.
    """
    try:
        Version.parse(text)
    except InvalidVersion:
        return False
    return True
