"""Differential test: ``hub_server.semver`` against the real npm ``semver@7`` package.

Thousands of generated ranges (every operator form, whitespace variants, partial versions,
prerelease and build metadata, plus randomly corrupted ones) and version lists are sent as
JSON to ONE node process, which answers with ``semver.validRange``, ``semver.maxSatisfying``
and the per-version ``Range.test`` results; ours must agree on every case. The package is
installed once into ``.cache/npm-semver`` and reused. Without node/npm the tests are skipped,
except under ``CI=true``, where they fail: CI must never go green by skipping.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import shutil
import subprocess
from pathlib import Path
from typing import NoReturn

import pytest

from hub_server.semver import InvalidRange, Range, Version, is_exact, max_satisfying

pytestmark = pytest.mark.npm

ROOT = Path(__file__).resolve().parents[2]
CACHE_DIR = ROOT / ".cache" / "npm-semver"
SEED = 20240607
LIST_COUNT = 300
RANGE_COUNT = 4000
PAIR_COUNT = 3000
SHOW_MISMATCHES = 15
# JavaScript's String.prototype.trim() set.
_JS_SPACES = "\t\n\x0b\x0c\r \xa0\u1680\u2028\u2029\u202f\u205f\u3000\ufeff" + "".join(
    chr(c) for c in range(0x2000, 0x200B)
)

# Reads a Corpus as JSON on stdin; argv[1] is the semver package dir.
NODE_SCRIPT = r"""
const semver = require(process.argv[1]);
let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => { input += chunk; });
process.stdin.on("end", () => {
  const req = JSON.parse(input);
  const cases = req.cases.map(([range, index]) => {
    const list = req.lists[index];
    const valid = semver.validRange(range);
    const max = semver.maxSatisfying(list, range);
    let tests = null;
    if (valid !== null) {
      const parsed = new semver.Range(range);
      tests = list.map((v) => (parsed.test(v) ? "1" : "0")).join("");
    }
    return [valid, max, tests];
  });
  const order = [...req.order].sort(semver.compare);
  const pairs = req.pairs.map(([a, b]) => semver.compare(a, b));
  const valid = req.candidates.map((text) => semver.valid(text));
  process.stdout.write(JSON.stringify({ cases, order, pairs, valid }));
});
"""


# --- generation -------------------------------------------------------------------------

# Cores shared by versions and ranges, so prerelease comparators meet prerelease versions of
# the same MAJOR.MINOR.PATCH (the only ones they can admit) often enough to be tested.
_HOT_CORES = ["1.2.3", "0.0.3", "0.2.3", "2.0.0"]
_PRE_IDS = ["alpha", "beta", "rc", "0", "1", "2", "3", "10", "11", "pre", "x", "a-b", "1a", "-"]
_BUILDS = ["build.5", "001", "sha-abc", "b", "1.2", "exp.sha.5114f85"]
# Characters a corrupted range is made of: near-misses of the grammar, not random noise.
_JUNK = "0123456789..xX*^~<>=-  v|+ab\t"


def _num(rng: random.Random) -> str:
    return str(rng.choice([0, 0, 0, 1, 1, 1, 2, 2, 3, 4, 5, 10, 12]))


def _prerelease(rng: random.Random) -> str:
    return ".".join(rng.choice(_PRE_IDS) for _ in range(rng.choice([1, 1, 1, 2, 2, 3])))


def gen_version(rng: random.Random) -> str:
    hot = rng.random() < 0.4
    text = rng.choice(_HOT_CORES) if hot else f"{_num(rng)}.{_num(rng)}.{_num(rng)}"
    if rng.random() < 0.4:
        text += "-" + _prerelease(rng)
    if rng.random() < 0.15:
        text += "+" + rng.choice(_BUILDS)
    return text


def _partial(rng: random.Random) -> str:
    parts = [_num(rng) for _ in range(rng.choice([1, 2, 3, 3, 3, 3]))]
    if rng.random() < 0.25:  # wildcards in the trailing positions
        start = rng.randrange(len(parts))
        parts[start:] = [rng.choice(["x", "X", "*"]) for _ in parts[start:]]
    elif rng.random() < 0.03:  # a wildcard followed by a number: node rejects most of these
        parts[rng.randrange(len(parts))] = "x"
    text = ".".join(parts)
    if len(parts) == 3 and rng.random() < 0.3:
        if rng.random() < 0.8:
            text = rng.choice(_HOT_CORES)
        text += "-" + _prerelease(rng)
    if rng.random() < 0.06:
        text += "+" + rng.choice(_BUILDS)
    roll = rng.random()
    if roll < 0.05:
        text = "v" + text
    elif roll < 0.08:
        text = "=" + text
    return text


def _gap(rng: random.Random) -> str:
    return rng.choice([" ", " ", " ", " ", "  ", "\t", " \n "])


_SPECIAL_VERSIONS = [
    "1.2.3", "v1.2.3", "=1.2.3", " 1.2.3", "1.2.3 ", "1.2.3\n", "01.2.3", "1.02.3", "1.2.03",
    "1.2.3-01", "1.2.3-0a", "1.2.3-00a", "1.2.3-0", "1.2.3-", "1.2.3+", "1.2.3+01", "1.2.3-a..b",
    "1.2.3-a.", "1.2", "1", "1.2.3.4", "1.2.x", "1.2.3-\u03b1", "\u0661.2.3",
    "9007199254740991.0.0", "9007199254740992.0.0", "0.9007199254740992.0", "1.2.3+a+b",
    "1.2.3-9007199254740992",
    "1.2.3-" + "a" * 250, "1.2.3-" + "a" * 251, "1.2.3+" + "b" * 251, "", " ", "-1.2.3",
]  # fmt: skip


def gen_version_candidate(rng: random.Random) -> str:
    """A string that is often, but not always, a strict version."""
    if rng.random() < 0.05:
        return rng.choice(_SPECIAL_VERSIONS)
    text = gen_version(rng)
    for _ in range(rng.choice([0, 1, 1, 2])):
        where = rng.randrange(len(text) + 1)
        text = text[:where] + rng.choice("0123456789.-+avx ") + text[where + rng.randint(0, 1) :]
    return text


def _comparator(rng: random.Random) -> str:
    kind = rng.choice(["bare", "op", "op", "op", "tilde", "caret", "caret"])
    spaced = rng.random() < 0.15
    if kind == "bare":
        return _partial(rng)
    if kind == "op":
        op = rng.choice(["<", "<=", ">", ">=", "="])
    elif kind == "tilde":
        op = rng.choice(["~", "~", "~>"])
    else:
        op = "^"
    return op + (_gap(rng) if spaced else "") + _partial(rng)


def _comparator_set(rng: random.Random) -> str:
    if rng.random() < 0.15:
        return _partial(rng) + rng.choice([" - ", " - ", "  -  ", " -", "-"]) + _partial(rng)
    count = rng.choice([1, 1, 1, 2, 2, 3])
    return _gap(rng).join(_comparator(rng) for _ in range(count))


def _corrupt(rng: random.Random, text: str) -> str:
    for _ in range(rng.choice([1, 1, 2])):
        where = rng.randrange(len(text) + 1)
        edit = rng.choice(["insert", "delete", "replace"])
        char = rng.choice(_JUNK)
        if edit == "insert" or not text:
            text = text[:where] + char + text[where:]
        elif edit == "delete":
            text = text[:where] + text[where + 1 :]
        else:
            text = text[:where] + char + text[where + 1 :]
    return text


_SPECIAL_RANGES = [
    "", "*", "x", "X", " ", "||", "1.2.3 ||", ">=0.0.0", "<0.0.0-0", "<0.0.0-0 || 1.x", ">*",
    "<x", "<=*", ">=*", "*.x", "x.1", "1.x.3", "1.2.3*", "**", "~> 1.2", "~ > 1.2", "^ 1.2",
    "> = 1.2.3", ">= 1.2.3", "=v1.2.3", "v=1.x", "==1.x", "=1.2.3 - 2", "v1.2.3 - 2.3.4",
    "1.2.3+a - 2.3.4+b", "1.2+a+b", "+a", "1.2.3 +a 2", "1.2.3 - +a 2", "1 - 2 - 3", "1.2.3.4",
    "01.2.3", "1.2.3-01", ">>1", "~^1", "^~1", "1 -", "- 1", "^", "~", ">=", "a.b.c",
    "^1.2.3-beta.2", "^0.0.3-beta", "~1.2.3-beta.2", "1.2.3 - 2.3.4-beta+b", ">1.2.3-x",
    ">=1.2.3 <2.0.0-0", "<1.2.3-0", "^1.2.x", "^0.0.x", "^0.x", "^0.0", "^0", "~0", "~0.2.3",
    "1.2 - 2.3.4", "1.2.3 - 2.3", "1.2.3 - 2", "x - 1.2", "1.x - x", "\ufeff1.2.3", "1.2.3\x1c",
    "1.2.3 \u00a0 || 2", ">=9007199254740991.0.0", ">=9007199254740992", "^9007199254740991",
]  # fmt: skip


def gen_range(rng: random.Random) -> str:
    if rng.random() < 0.03:
        return rng.choice(_SPECIAL_RANGES)
    count = rng.choice([1, 1, 1, 1, 2, 2, 3])
    text = rng.choice(["||", " || ", "|| ", " ||", "  ||  "]).join(
        _comparator_set(rng) for _ in range(count)
    )
    if rng.random() < 0.2:
        text = _corrupt(rng, text)
    return text


@dataclasses.dataclass(frozen=True)
class Corpus:
    lists: list[list[str]]
    cases: list[tuple[str, int]]
    order: list[str]
    pairs: list[tuple[str, str]]
    candidates: list[str]


def make_corpus(seed: int, lists: int, ranges: int, pairs: int) -> Corpus:
    rng = random.Random(seed)
    version_lists = [[gen_version(rng) for _ in range(rng.randint(1, 40))] for _ in range(lists)]
    pool = sorted({v for vs in version_lists for v in vs})
    version_lists.append(pool)  # the special ranges are checked against every version
    cases = [(r, len(version_lists) - 1) for r in _SPECIAL_RANGES]
    cases += [(gen_range(rng), i % lists) for i in range(ranges)]
    rng.shuffle(pool)
    version_pairs = [(rng.choice(pool), rng.choice(pool)) for _ in range(pairs)]
    candidates = _SPECIAL_VERSIONS + [gen_version_candidate(rng) for _ in range(pairs)]
    return Corpus(version_lists, cases, pool, version_pairs, candidates)


# --- the reference ----------------------------------------------------------------------


def _unavailable(reason: str) -> NoReturn:
    """Skip on a laptop; fail under CI=true, where the reference must be there."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: the npm differential test may not be skipped)")
    pytest.skip(reason)


def _installed_major(package: Path) -> int | None:
    try:
        manifest = json.loads((package / "package.json").read_text())
        return int(str(manifest["version"]).split(".")[0])
    except (OSError, ValueError, KeyError):
        return None


@pytest.fixture(scope="session")
def npm_semver() -> Path | str:
    """The installed semver@7 package dir, or why it is unavailable.

    Returned rather than skipped here so each test decides skip-vs-fail in its own body.
    """
    package = CACHE_DIR / "node_modules" / "semver"
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        return "node and npm are needed to install the reference semver@7 (not on PATH)"
    if _installed_major(package) != 7:
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        command = [npm, "install", "--prefix", str(CACHE_DIR), "--no-audit", "--no-fund"]
        try:
            done = subprocess.run(
                [*command, "semver@7"], capture_output=True, text=True, timeout=300, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"`npm install semver@7` could not run: {exc}"
        if done.returncode != 0 or _installed_major(package) != 7:
            return f"`npm install semver@7` failed ({done.returncode}): {done.stderr[-2000:]}"
    return package


@dataclasses.dataclass(frozen=True)
class NodeAnswers:
    corpus: Corpus
    cases: list[tuple[str | None, str | None, str | None]]
    order: list[str]
    pairs: list[int]
    valid: list[str | None]


def ask_node(package: Path, corpus: Corpus) -> NodeAnswers:
    request = dataclasses.asdict(corpus)
    env = {k: v for k, v in os.environ.items() if k != "NODE_DEBUG"}  # no debug chatter
    done = subprocess.run(
        [shutil.which("node") or "node", "-e", NODE_SCRIPT, str(package.resolve())],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )
    if done.returncode != 0:
        pytest.fail(f"the node reference script failed ({done.returncode}): {done.stderr}")
    answer = json.loads(done.stdout)
    cases = [(valid, best, bits) for valid, best, bits in answer["cases"]]
    return NodeAnswers(corpus, cases, answer["order"], answer["pairs"], answer["valid"])


@pytest.fixture(scope="session")
def node_answers(npm_semver: Path | str) -> NodeAnswers | str:
    if isinstance(npm_semver, str):
        return npm_semver
    return ask_node(npm_semver, make_corpus(SEED, LIST_COUNT, RANGE_COUNT, PAIR_COUNT))


def _require(answers: NodeAnswers | str) -> NodeAnswers:
    if isinstance(answers, str):
        _unavailable(answers)
    return answers


# --- our side ---------------------------------------------------------------------------


def our_case(
    range_text: str, candidates: list[Version]
) -> tuple[str | None, str | None, str | None]:
    """(validRange, maxSatisfying, per-version test bits) computed by hub_server.semver."""
    try:
        parsed = Range.parse(range_text)
    except InvalidRange:
        return (None, None, None)
    best = max_satisfying(candidates, parsed)
    bits = "".join("1" if parsed.test(v) else "0" for v in candidates)
    return (str(parsed), None if best is None else str(best), bits)


def _report(mismatches: list[str], total: int) -> str:
    shown = "\n".join(mismatches[:SHOW_MISMATCHES])
    return f"{len(mismatches)} of {total} cases disagree with node-semver; first ones:\n{shown}"


def test_ranges_agree_with_node(node_answers: NodeAnswers | str) -> None:
    answers = _require(node_answers)
    corpus = answers.corpus
    parsed_lists = [[Version.parse(v) for v in versions] for versions in corpus.lists]
    mismatches = []
    for (range_text, index), expected in zip(corpus.cases, answers.cases, strict=True):
        versions = corpus.lists[index]
        ours = our_case(range_text, parsed_lists[index])
        if ours != expected:
            mismatches.append(
                f"range={range_text!r} versions={versions}\n"
                f"    node: validRange={expected[0]!r} maxSatisfying={expected[1]!r} "
                f"tests={expected[2]}\n"
                f"    ours: validRange={ours[0]!r} maxSatisfying={ours[1]!r} tests={ours[2]}"
            )
    assert not mismatches, _report(mismatches, len(corpus.cases))
    # Guard against a generator that silently stops exercising the interesting paths.
    valid = [case for case in answers.cases if case[0] is not None]
    assert len(valid) > len(answers.cases) // 2
    assert len(answers.cases) - len(valid) > 200
    assert sum(case[1] is not None for case in valid) > len(valid) // 3
    admitted_prereleases = sum(
        bit == "1" and "-" in version.split("+")[0]
        for (_, index), (_, _, bits) in zip(corpus.cases, answers.cases, strict=True)
        if bits is not None
        for version, bit in zip(corpus.lists[index], bits, strict=True)
    )
    assert admitted_prereleases > 150


def test_precedence_agrees_with_node(node_answers: NodeAnswers | str) -> None:
    answers = _require(node_answers)
    corpus = answers.corpus
    # Both sorts are stable, so equal-precedence versions keep their input order on both sides.
    ours = sorted(corpus.order, key=lambda text: Version.parse(text).precedence_key)
    assert ours == answers.order
    mismatches = [
        f"compare({a!r}, {b!r}): node {expected}, ours {Version.parse(a).compare(Version.parse(b))}"
        for (a, b), expected in zip(corpus.pairs, answers.pairs, strict=True)
        if Version.parse(a).compare(Version.parse(b)) != expected
    ]
    assert not mismatches, _report(mismatches, len(corpus.pairs))


def test_version_parsing_agrees_with_node(node_answers: NodeAnswers | str) -> None:
    answers = _require(node_answers)
    mismatches = []
    for text, expected in zip(answers.corpus.candidates, answers.valid, strict=True):
        # Node also accepts a "v" prefix and surrounding whitespace; strict parsing does not.
        strict_expected = expected if text == text.strip(_JS_SPACES) and text[:1] != "v" else None
        ours = Version.parse(text).core if is_exact(text) else None
        if ours != strict_expected:
            mismatches.append(f"{text!r}: node valid()={expected!r}, ours {ours!r}")
    assert not mismatches, _report(mismatches, len(answers.corpus.candidates))
    assert sum(v is not None for v in answers.valid) > len(answers.valid) // 3
