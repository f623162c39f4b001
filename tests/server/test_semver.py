"""Unit tests of ``hub_server.semver``: strict versions, precedence, node-semver ranges.

Expected values follow node-semver v7's documented behaviour (its README); the differential
test in ``test_semver_npm.py`` checks the same semantics against the real package at scale.
"""

from __future__ import annotations

import contextlib
import itertools
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hub_server.semver import (
    InvalidRange,
    InvalidVersion,
    Range,
    Version,
    is_exact,
    max_satisfying,
)

ROOT = Path(__file__).resolve().parents[2]


def v(text: str) -> Version:
    return Version.parse(text)


# --- versions -----------------------------------------------------------------------------


def test_parse_fields() -> None:
    version = v("1.22.333-rc.10.x-y.0+build.007")

    assert (version.major, version.minor, version.patch) == (1, 22, 333)
    assert version.prerelease == ("rc", 10, "x-y", 0)
    assert version.build == ("build", "007")  # leading zeros are fine in build metadata
    assert version.is_prerelease
    assert version.core == "1.22.333-rc.10.x-y.0"


def test_plain_version() -> None:
    version = v("0.0.0")

    assert version == Version(0, 0, 0)
    assert version.prerelease == ()
    assert version.build == ()
    assert not version.is_prerelease


@pytest.mark.parametrize(
    "text",
    [
        "0.0.0",
        "1.2.3",
        "10.20.30",
        "1.2.3-0",
        "1.2.3-0a",  # alphanumeric, so a leading zero is allowed
        "1.2.3-alpha.1",
        "1.2.3--.-",
        "1.2.3-rc.10+build.5",
        "1.2.3+001",
        "9007199254740991.0.0",
    ],
)
def test_str_round_trips(text: str) -> None:
    assert str(v(text)) == text
    assert is_exact(text)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("1", "MAJOR.MINOR.PATCH"),
        ("1.2", "MAJOR.MINOR.PATCH"),
        ("1.2.3.4", "MAJOR.MINOR.PATCH"),
        ("1.2.x", "MAJOR.MINOR.PATCH"),
        ("a.b.c", "MAJOR.MINOR.PATCH"),
        ("-1.2.3", "MAJOR.MINOR.PATCH"),
        ("\u0661.2.3", "MAJOR.MINOR.PATCH"),  # an Arabic-Indic digit is not a SemVer digit
        ("v1.2.3", "prefix"),
        ("=1.2.3", "prefix"),
        (" 1.2.3", "whitespace"),
        ("1.2.3 ", "whitespace"),
        ("1.2.3\n", "whitespace"),
        ("01.2.3", "leading zeros"),
        ("1.02.3", "leading zeros"),
        ("1.2.03", "leading zeros"),
        ("1.2.3-01", "leading zeros"),
        ("1.2.3-", "identifiers"),
        ("1.2.3+", "identifiers"),
        ("1.2.3-a..b", "identifiers"),
        ("1.2.3-a_b", "identifiers"),
        ("1.2.3+a+b", "identifiers"),
        ("1.2.3-\u03b1", "identifiers"),
        ("9007199254740992.0.0", "must not exceed"),
        ("1.2.3-" + "a" * 251, "longer than 256"),
    ],
)
def test_invalid_versions(text: str, reason: str) -> None:
    with pytest.raises(InvalidVersion, match=reason):
        Version.parse(text)
    assert not is_exact(text)


def test_errors_are_value_errors() -> None:
    assert issubclass(InvalidVersion, ValueError)
    assert issubclass(InvalidRange, ValueError)


def test_is_exact_tells_versions_from_ranges() -> None:
    assert is_exact("1.2.3")
    assert is_exact("1.2.3-beta.1+b")
    for spec in ["^1.2.3", "~1.2.3", "1.2", "1.x", ">=1.2.3", "=1.2.3", "v1.2.3", "*", ""]:
        assert not is_exact(spec), spec


def test_precedence_follows_semver_spec() -> None:
    # SemVer 2.0.0, section 11, plus numeric-vs-alphanumeric and major/minor/patch ordering.
    ordered = [
        "0.0.0-0",
        "0.0.0",
        "0.0.1",
        "0.1.0",
        "0.9.0",
        "0.10.0",
        "1.0.0-0",
        "1.0.0-1",
        "1.0.0-2",
        "1.0.0-10",
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-alpha.beta",
        "1.0.0-beta",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
        "1.0.1",
        "1.2.0",
        "1.10.0",
        "2.0.0",
        "10.0.0",
    ]
    shuffled = ordered[:]
    random.Random(7).shuffle(shuffled)

    assert [str(x) for x in sorted(v(t) for t in shuffled)] == ordered
    assert sorted(shuffled, key=lambda t: v(t).precedence_key) == ordered
    for lower, higher in itertools.pairwise(ordered):
        assert v(lower) < v(higher)
        assert v(lower) <= v(higher)
        assert v(higher) > v(lower)
        assert v(higher) >= v(lower)
        assert v(lower).compare(v(higher)) == -1
        assert v(higher).compare(v(lower)) == 1


def test_uppercase_sorts_before_lowercase() -> None:
    # Alphanumeric identifiers compare in ASCII order.
    assert v("1.0.0-Beta") < v("1.0.0-alpha")
    assert v("1.0.0--") < v("1.0.0-0a")


def test_build_metadata_is_ignored_by_precedence_only() -> None:
    a, b, plain = v("1.0.0+a"), v("1.0.0+b"), v("1.0.0")

    # Same precedence: neither is smaller, both <= and >= hold...
    assert not a < b
    assert not b < a
    assert a <= b
    assert a >= b
    assert a.compare(b) == 0
    assert a.compare(plain) == 0
    assert a.precedence_key == b.precedence_key
    # ...but they stay distinct values, with hashing consistent with equality.
    assert a != b
    assert a != plain
    assert len({a, b, plain}) == 3
    assert v("1.0.0+a") == a
    assert hash(v("1.0.0+a")) == hash(a)


def test_versions_do_not_compare_with_strings() -> None:
    text: object = "1.0.0"

    with pytest.raises(TypeError):
        _ = v("1.0.0") < text
    assert v("1.0.0") != text


# --- ranges: normalization ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "normalized"),
    [
        # any
        ("", "*"),
        ("*", "*"),
        ("x", "*"),
        ("X", "*"),
        ("  ", "*"),
        ("x.x.x", "*"),
        (">=0.0.0", "*"),
        ("||", "*"),
        ("1.2.3 || *", "*"),
        # primitives
        ("1.2.3", "1.2.3"),
        ("=1.2.3", "1.2.3"),
        ("v1.2.3", "1.2.3"),
        ("=v1.2.3", "1.2.3"),
        (">1.2.3", ">1.2.3"),
        (">= 1.2.3", ">=1.2.3"),
        ("<  1.2.3-beta", "<1.2.3-beta"),
        ("<=1.2.3+build", "<=1.2.3"),
        ("1.2.3-beta+build", "1.2.3-beta"),
        (">=1.2.3 <2.0.0-0", ">=1.2.3 <2.0.0-0"),
        (">=1.2.3  >=1.2.3\t<2", ">=1.2.3 <2.0.0-0"),  # duplicates dropped, whitespace folded
        # x-ranges and partial versions
        ("1", ">=1.0.0 <2.0.0-0"),
        ("1.x", ">=1.0.0 <2.0.0-0"),
        ("1.*.X", ">=1.0.0 <2.0.0-0"),
        ("1.2", ">=1.2.0 <1.3.0-0"),
        ("1.2.x", ">=1.2.0 <1.3.0-0"),
        ("0.x", "<1.0.0-0"),  # >=0.0.0 is dropped as "any"
        ("=1.x", ">=1.0.0 <2.0.0-0"),
        (">1", ">=2.0.0"),
        (">1.2", ">=1.3.0"),
        (">=1.2", ">=1.2.0"),
        ("<1.2", "<1.2.0-0"),
        ("<=1.2", "<1.3.0-0"),
        ("<=1", "<2.0.0-0"),
        ("<x", "<0.0.0-0"),
        (">*", "<0.0.0-0"),
        ("<=*", "*"),
        # tilde
        ("~1.2.3", ">=1.2.3 <1.3.0-0"),
        ("~>1.2.3", ">=1.2.3 <1.3.0-0"),
        ("~ 1.2.3", ">=1.2.3 <1.3.0-0"),
        ("~> 1.2", ">=1.2.0 <1.3.0-0"),
        ("~1.2", ">=1.2.0 <1.3.0-0"),
        ("~1", ">=1.0.0 <2.0.0-0"),
        ("~0.2.3", ">=0.2.3 <0.3.0-0"),
        ("~0", "<1.0.0-0"),
        ("~1.2.3-beta.2", ">=1.2.3-beta.2 <1.3.0-0"),
        ("~*", "*"),
        # caret
        ("^1.2.3", ">=1.2.3 <2.0.0-0"),
        ("^ 1.2.3", ">=1.2.3 <2.0.0-0"),
        ("^0.2.3", ">=0.2.3 <0.3.0-0"),
        ("^0.0.3", ">=0.0.3 <0.0.4-0"),
        ("^1.2.3-beta.2", ">=1.2.3-beta.2 <2.0.0-0"),
        ("^0.0.3-beta", ">=0.0.3-beta <0.0.4-0"),
        ("^1.2.x", ">=1.2.0 <2.0.0-0"),
        ("^1.2", ">=1.2.0 <2.0.0-0"),
        ("^0.0.x", "<0.1.0-0"),
        ("^0.0", "<0.1.0-0"),
        ("^1.x", ">=1.0.0 <2.0.0-0"),
        ("^0.x", "<1.0.0-0"),
        ("^v1.2.3+build", ">=1.2.3 <2.0.0-0"),
        # hyphen ranges
        ("1.2.3 - 2.3.4", ">=1.2.3 <=2.3.4"),
        ("1.2 - 2.3.4", ">=1.2.0 <=2.3.4"),
        ("1.2.3 - 2.3", ">=1.2.3 <2.4.0-0"),
        ("1.2.3 - 2", ">=1.2.3 <3.0.0-0"),
        ("1.2.3-beta - 2.3.4-rc.1+b", ">=1.2.3-beta <=2.3.4-rc.1"),
        ("v1.2.3 - v2.3.4", ">=1.2.3 <=2.3.4"),
        ("x - 1.2", "<1.3.0-0"),
        ("1.2 - x", ">=1.2.0"),
        # unions
        ("1.2.7 || >=1.2.9 <2.0.0", "1.2.7||>=1.2.9 <2.0.0"),
        ("^1 || ^2", ">=1.0.0 <2.0.0-0||>=2.0.0 <3.0.0-0"),
        ("1.2.3 - 2.3.4 || >=5", ">=1.2.3 <=2.3.4||>=5.0.0"),
        ("<0.0.0-0 || 1.x", ">=1.0.0 <2.0.0-0"),  # empty alternatives are dropped
        ("<x || >*", "<0.0.0-0"),  # ...unless all of them are empty
        (">1.2.3 <x", "<0.0.0-0"),  # an empty comparator empties its whole set
        # node's lenient corners, kept for compatibility
        ("1.2+build", ">=1.2.0 <1.3.0-0"),  # build metadata is stripped before parsing
        ("1.2.3*", "1.2.3"),
        ("~ > 1.2", ">=1.2.0 <1.3.0-0"),
        ("==1.x", ">=1.0.0 <2.0.0-0"),
    ],
)
def test_range_normalization(spec: str, normalized: str) -> None:
    assert str(Range.parse(spec)) == normalized


@pytest.mark.parametrize(
    "spec",
    [
        "a.b.c",
        "1.2.3.4",
        "01.2.3",
        "1.02",
        "1.2.3-01",
        "1.2.3-",
        ">",
        ">=",
        "^",
        "~",
        ">>1",
        "<>1",
        "=>1",
        "~^1",
        "^~1",
        "^^1 garbage",
        "1.x.3",  # a wildcard followed by a number
        "x.1",
        ">=1.x.3",
        "1.2-beta",  # a prerelease needs all three numbers
        "1 - 2 - 3",
        "1.2.3 -",
        "- 1.2.3",
        "1.2.3 - 2.3.4 >3",
        "=1.2.3 - 2",
        "> = 1.2.3",
        "=v=1.2.3",
        "1.2.3 | 2",
        "**",
        "!1.2.3",
        "1.2.3\x1c",  # not whitespace in JavaScript
        ">=9007199254740992",  # beyond what node can represent
        "^9007199254740991",  # its upper bound would be beyond it
    ],
)
def test_invalid_ranges(spec: str) -> None:
    with pytest.raises(InvalidRange):
        Range.parse(spec)


def test_invalid_range_message_names_the_input() -> None:
    with pytest.raises(InvalidRange, match=r"invalid range '\^\^1 garbage'"):
        Range.parse("^^1 garbage")


def test_javascript_whitespace_is_whitespace() -> None:
    assert str(Range.parse("\ufeff1.2.3\u00a0||\u20292.x\u3000")) == "1.2.3||>=2.0.0 <3.0.0-0"


def test_range_value_semantics() -> None:
    assert Range.parse("^1.2.3") == Range.parse(">=1.2.3 <2.0.0-0")
    assert Range.parse("1.x") != Range.parse("1.2.x")
    assert len({Range.parse("~1.2"), Range.parse("1.2.x"), Range.parse("1.2")}) == 1
    assert repr(Range.parse("^1")) == "Range('>=1.0.0 <2.0.0-0')"


@pytest.mark.parametrize(
    "spec",
    [
        "v=" * 50_000 + "!",  # quadratic for a naive regex scan: minutes instead of milliseconds
        "<" + "v " * 50_000 + "1",
        "> =" * 20_000,
        "1.2.3-a." * 10_000 + "!",
        "+a" * 50_000,
        "^1.2.3 " * 5_000,
    ],
)
def test_pathological_ranges_take_linear_time(spec: str) -> None:
    started = time.perf_counter()
    with contextlib.suppress(InvalidRange):
        Range.parse(spec)

    assert time.perf_counter() - started < 2.0


# --- ranges: matching ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "version", "expected"),
    [
        ("*", "0.0.0", True),
        ("*", "99.1.1", True),
        ("*", "1.0.0-rc.1", False),  # prereleases are opt-in
        ("", "1.2.3", True),
        ("1.2.3", "1.2.3", True),
        ("1.2.3", "1.2.3+build.7", True),  # build metadata is ignored...
        ("1.2.3+build.1", "1.2.3+build.2", True),  # ...on both sides
        ("1.2.3", "1.2.4", False),
        ("^1.2.3", "1.2.3", True),
        ("^1.2.3", "1.9.9", True),
        ("^1.2.3", "2.0.0", False),
        ("^1.2.3", "2.0.0-0", False),  # the -0 bound excludes 2.0.0's prereleases
        ("^1.2.3", "1.2.2", False),
        ("^0.2.3", "0.2.9", True),
        ("^0.2.3", "0.3.0", False),
        ("^0.0.3", "0.0.3", True),
        ("^0.0.3", "0.0.4", False),
        ("^0.0.x", "0.0.9", True),
        ("^0.0.x", "0.1.0", False),
        ("^0.x", "0.9.9", True),
        ("^0.x", "1.0.0", False),
        ("^1.2.3-beta.2", "1.2.3-beta.4", True),
        ("^1.2.3-beta.2", "1.2.3-beta.1", False),
        ("^1.2.3-beta.2", "1.2.3", True),
        ("^1.2.3-beta.2", "1.5.0", True),
        ("^1.2.3-beta.2", "1.2.4-beta.1", False),  # another release's prerelease
        ("~1.2.3", "1.2.9", True),
        ("~1.2.3", "1.3.0", False),
        ("~1.2", "1.2.0", True),
        ("~1", "1.9.0", True),
        ("~1", "2.0.0", False),
        ("~1.2.3-beta.2", "1.2.3-beta.10", True),
        ("~1.2.3-beta.2", "1.2.4-beta.1", False),
        ("1.x", "1.0.0", True),
        ("1.x", "1.99.0", True),
        ("1.x", "2.0.0", False),
        ("1.2.x", "1.2.0", True),
        ("1.2.x", "1.3.0", False),
        ("<1.2", "1.2.0-rc.1", False),
        ("<1.2", "1.1.99", True),
        ("<=1.2", "1.2.99", True),
        (">1.2", "1.2.99", False),
        (">1.2", "1.3.0", True),
        ("1.2.3 - 2.3.4", "1.2.3", True),
        ("1.2.3 - 2.3.4", "2.3.4", True),
        ("1.2.3 - 2.3.4", "2.3.5", False),
        ("1.2.3 - 2.3", "2.3.99", True),
        ("1.2.3 - 2.3", "2.4.0", False),
        ("1.2 - 2.3.4", "1.2.0", True),
        ("1.2.7 || >=1.2.9 <2.0.0", "1.2.7", True),
        ("1.2.7 || >=1.2.9 <2.0.0", "1.2.8", False),
        ("1.2.7 || >=1.2.9 <2.0.0", "1.4.6", True),
        ("1.2.7 || >=1.2.9 <2.0.0", "2.0.0", False),
        (">1.2.3-alpha.3", "1.2.3-alpha.7", True),
        (">1.2.3-alpha.3", "3.4.5-alpha.9", False),
        (">1.2.3-alpha.3", "3.4.5", True),
        (">=1.2.3-0 <1.2.3", "1.2.3-rc.1", True),
        # the opt-in is per comparator set, not per range
        ("1.2.3-rc.1 || >=2", "2.0.1-beta", False),
        (">=1.0.0-rc.1 <2.0.0 || >=3.0.0-rc.1", "3.0.0-rc.2", True),
        (">=1.0.0-rc.1 <2.0.0 || >=3.0.0-rc.1", "1.5.0-rc.1", False),
        ("<0.0.0-0", "0.0.0-0", False),
    ],
)
def test_range_test(spec: str, version: str, expected: bool) -> None:
    assert Range.parse(spec).test(v(version)) is expected


# --- max_satisfying -----------------------------------------------------------------------

VERSIONS = [
    "0.9.0",
    "1.0.0",
    "1.2.0",
    "1.2.3",
    "1.10.0",
    "2.0.0-alpha",
    "2.0.0-beta.1",
    "2.0.0-beta.10",
    "2.1.0-rc.1",
]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("", "1.10.0"),
        ("*", "1.10.0"),
        ("^1.2", "1.10.0"),
        ("~1.2", "1.2.3"),
        ("1.2.x", "1.2.3"),
        ("1.2.0", "1.2.0"),
        ("<1.0.0", "0.9.0"),
        ("1.0.0 - 1.2.0", "1.2.0"),
        (">=1.2.3 <1.10.0 || 0.x", "1.2.3"),
        ("^2.0.0-beta.1", "2.0.0-beta.10"),  # numeric identifiers compare numerically
        ("^2.0.0-alpha", "2.0.0-beta.10"),
        (">=2.0.0-beta.2 <2.0.0-beta.5", None),
        ("^2", None),  # prereleases only, none opted in
        (">=2.1.0-0", "2.1.0-rc.1"),  # the -0 lower bound opts in to 2.1.0's prereleases
        ("2.0.0-beta.1", "2.0.0-beta.1"),
        ("^3", None),
    ],
)
def test_max_satisfying(spec: str, expected: str | None) -> None:
    candidates = [v(t) for t in reversed(VERSIONS)]
    best = max_satisfying(candidates, Range.parse(spec))

    assert (None if best is None else str(best)) == expected


def test_max_satisfying_takes_any_iterable() -> None:
    assert max_satisfying(iter([]), Range.parse("*")) is None
    assert max_satisfying((v(t) for t in VERSIONS), Range.parse("<1.2.3")) == v("1.2.0")


def test_max_satisfying_keeps_the_first_of_equal_precedence() -> None:
    first, second = v("1.2.3+b.1"), v("1.2.3+b.2")

    assert max_satisfying([v("1.0.0"), first, second], Range.parse("^1")) is first
    assert max_satisfying([second, first], Range.parse("^1")) is second


# --- the module ---------------------------------------------------------------------------


def test_module_imports_only_the_standard_library() -> None:
    code = (
        "import sys; before = set(sys.modules); import hub_server.semver; "
        "print(' '.join(sorted(m for m in set(sys.modules) - before "
        "if m.partition('.')[0] not in sys.stdlib_module_names)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )

    assert done.stdout.split() == ["hub_server", "hub_server.semver"]
