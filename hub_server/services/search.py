"""Full-text search and hardware facts: what a component is found by.

Search is a small inverted index in a plain table (``search_terms``: component, term, weight)
rather than SQLite FTS5 or a PostgreSQL ``tsvector``: one query serves both databases, the
index is an ordinary table that Alembic can compare with the models, prefix matching (search
as you type) is a B-tree range scan, and ranking weighs *where* a word occurs (name, tags,
description, namespace, README) the same way everywhere. See ``docs/catalogue.md``.

Hardware facts (``component_variants``) hold one row per hardware variant of a component's
latest version, so a filter such as "a GPU variant with an nvidia-tesla-t4 that fits in 16Gi"
is answered by one variant, not by facts mixed from several.

These are pure helpers plus :func:`reindex`; :class:`hub_server.services.components.
ComponentService` calls them whenever a component's latest version changes.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from hub_server.models import Component, ComponentVariant, SearchTerm

# Where a word occurs decides how much it counts; a term keeps the highest weight it has.
NAME_WEIGHT = 16
TAG_WEIGHT = 8
DESCRIPTION_WEIGHT = 4
NAMESPACE_WEIGHT = 2
README_WEIGHT = 1
# An exact word counts double a word it is only the prefix of ("train" vs "training").
EXACT_BONUS = 2

MAX_TERM_LENGTH = 64
MAX_README_CHARS = 200_000
MAX_README_TERMS = 3000
MAX_QUERY_WORDS = 8
# Shorter query words match whole terms only: a one-letter prefix would match half the index.
MIN_PREFIX_LENGTH = 2
# Terms deleted per statement on reindex (SQLite's bound-parameter limit is far above).
_DELETE_CHUNK = 5000

_WORD = re.compile(r"[a-z0-9]+")
_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"

_MEMORY = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|k|K|M|G|T|P|E)?$")
_MEMORY_UNITS = {
    None: 1,
    "k": 10**3,
    "K": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "P": 10**15,
    "E": 10**18,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
}


def tokenize(text: str) -> list[str]:
    """Split text into lower-case ASCII words, accents folded (``Données`` → ``donnees``).

    Args:
        text: any text.

    Returns:
        The words in order, duplicates kept; words longer than 64 characters (hashes,
        base64) are dropped.
    """
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return [w for w in _WORD.findall(folded) if len(w) <= MAX_TERM_LENGTH]


def query_words(q: str | None) -> list[str]:
    """The distinct words of a search query, in order, at most eight."""
    return list(dict.fromkeys(tokenize(q or "")))[:MAX_QUERY_WORDS]


def document_terms(
    *, namespace: str, name: str, description: str, tags: Iterable[str], readme: str
) -> dict[str, int]:
    """The index terms of a component and their weights.

    Args:
        namespace: the component's namespace.
        name: the component's name.
        description: the latest version's description.
        tags: the latest version's tags.
        readme: the latest version's README (Markdown source).

    Returns:
        ``{term: weight}``, each term at the highest weight of the fields it occurs in.
    """
    terms: dict[str, int] = {}
    readme_words = dict.fromkeys(tokenize(readme[:MAX_README_CHARS]))
    fields: list[tuple[Iterable[str], int]] = [
        (list(readme_words)[:MAX_README_TERMS], README_WEIGHT),
        (tokenize(namespace), NAMESPACE_WEIGHT),
        (tokenize(description), DESCRIPTION_WEIGHT),
        (tokenize(" ".join(tags)), TAG_WEIGHT),
        (tokenize(name), NAME_WEIGHT),
    ]
    for words, weight in fields:
        for word in words:
            if terms.get(word, 0) < weight:
                terms[word] = weight
    return terms


def _successor(prefix: str) -> str | None:
    """The smallest [a-z0-9] string greater than every string starting with ``prefix``.

    Terms are [a-z0-9] only, where every collation in use (C, and the usual locale ones)
    orders the same way, so ``prefix <= term < successor`` is exactly "starts with" and a plain
    B-tree index serves it on both databases (``LIKE 'p%'`` would need a special operator
    class on PostgreSQL and a NOCASE column on SQLite).
    """
    chars = list(prefix)
    while chars:
        position = _ALPHABET.index(chars[-1])
        if position + 1 < len(_ALPHABET):
            chars[-1] = _ALPHABET[position + 1]
            return "".join(chars)
        chars.pop()
    return None


def _word_condition(word: str) -> sa.ColumnElement[bool]:
    term = col(SearchTerm.term)
    if len(word) < MIN_PREFIX_LENGTH:
        return term == word
    upper = _successor(word)
    if upper is None:
        return term >= word
    return sa.and_(term >= word, term < upper)


# ----------------------------------------------------------------------------- top-k search
#
# A page of results must cost about the same whether 10 or 100,000 components match. Every
# matching component gets a *level* per query word: the weight of the best field the word
# occurs in, doubled for a whole word (32 = the whole word in the name ... 1 = a prefix in the
# README). Results are ordered by: exact name match; the best level of any word (the *tier*);
# the summed levels (the score); popularity (pulls, updated_at, id). A tier is read in one of
# two ways, chosen by a capped count of its postings:
# - small (fewer than EXACT_LIMIT postings): its postings are read through
#   ``ix_search_terms_weight_term`` (weight, term) — one range per weight — and the candidates
#   are scored and sorted exactly;
# - large: the components are walked in popularity order (``ix_components_popularity``) and
#   each is checked through the primary key (component_id, term), which for one component and
#   one prefix is a range of a few entries; the walk stops when the page is full. Such a tier
#   ignores the score (only multi-word queries notice: one word's score is its level). A walk
#   is bounded to the WALK_LIMIT most popular components that pass the filters; a tier too
#   sparse to fill the page among them is read like a small one (its cost then grows with it).
# When the rarest query word has fewer than EXACT_LIMIT postings, or the filters leave fewer
# than EXACT_LIMIT components, every match is among those: they are all scored and sorted
# exactly, and the total is exact. See docs/catalogue.md for what is approximate.

WEIGHTS = (NAME_WEIGHT, TAG_WEIGHT, DESCRIPTION_WEIGHT, NAMESPACE_WEIGHT, README_WEIGHT)
LEVELS = tuple(sorted({w * b for w in WEIGHTS for b in (1, EXACT_BONUS)}, reverse=True))
"""Every level a word can match at, best first."""
EXACT_LIMIT = 1000
"""Below this many postings a tier (or the rarest word) is scored and sorted exactly."""
TOTAL_LIMIT = 1000
"""Totals above this are reported as "at least" (``total_is_lower_bound``)."""
WALK_LIMIT = 1000
"""A large tier is looked for among at most this many components in popularity order."""
PROBE_LIMIT = 200
"""A large tier of a one-word query is first looked for among this many, one by one."""


@dataclass(frozen=True)
class Hits:
    """One page of component ids, best first, and how many match in all."""

    ids: list[int]
    total: int
    total_is_lower_bound: bool


@dataclass(frozen=True)
class _Scored:
    id: int
    exact_name: bool
    tier: int
    score: int
    pulls: int
    updated_at: Any

    def key(self) -> tuple[Any, ...]:
        return (self.exact_name, self.tier, self.score, self.pulls, self.updated_at, self.id)


def popularity() -> list[sa.ColumnElement[Any]]:
    """The popularity order (most pulled, then most recently updated, then newest id), served
    by ``ix_components_popularity``."""
    return [
        col(Component.pulls).desc(),
        col(Component.updated_at).desc(),
        col(Component.id).desc(),
    ]


_POPULARITY_KEY = (col(Component.pulls), col(Component.updated_at), col(Component.id))


def _term_level(word: str) -> sa.ColumnElement[int]:
    term, weight = col(SearchTerm.term), col(SearchTerm.weight)
    return sa.case((term == word, weight * EXACT_BONUS), else_=weight)


def _word_level(word: str, component_id: Any) -> sa.ScalarSelect[Any]:
    """The level ``word`` matches a component at (NULL: it does not): a range of the primary
    key (component_id, term), a few entries."""
    return (
        sa.select(sa.func.max(_term_level(word)))
        .where(col(SearchTerm.component_id) == component_id, _word_condition(word))
        .scalar_subquery()
    )


def _has_word(word: str, component_id: Any) -> sa.Exists:
    return sa.exists().where(col(SearchTerm.component_id) == component_id, _word_condition(word))


def _postings(word: str, level: int | None = None) -> list[sa.Select[Any]]:
    """Selects of the component ids of a word's postings (at one level, or at any), each a
    range of ``ix_search_terms_weight_term``."""
    term, weight = col(SearchTerm.term), col(SearchTerm.weight)
    component_id = col(SearchTerm.component_id)
    if level is None:
        # The weight list makes the (weight, term) index usable: one range per weight.
        return [sa.select(component_id).where(weight.in_(WEIGHTS), _word_condition(word))]
    parts = []
    if level % EXACT_BONUS == 0 and level // EXACT_BONUS in WEIGHTS:
        parts.append(sa.select(component_id).where(weight == level // EXACT_BONUS, term == word))
    if level in WEIGHTS and len(word) >= MIN_PREFIX_LENGTH:
        parts.append(
            sa.select(component_id).where(weight == level, _word_condition(word), term != word)
        )
    return parts


def _capped_counts(session: Session, selects: Sequence[sa.Select[Any]], cap: int) -> list[int]:
    """How many rows each select has, counting at most ``cap`` of each, in one statement."""
    if not selects:
        return []
    counts = [
        sa.select(sa.func.count()).select_from(s.limit(cap).subquery()).scalar_subquery()
        for s in selects
    ]
    row = session.execute(sa.select(*(c.label(f"c{i}") for i, c in enumerate(counts)))).one()
    return [int(n) for n in row]


def _union(selects: Sequence[sa.Select[Any]]) -> Any:
    return selects[0] if len(selects) == 1 else sa.union_all(*selects)


def _raw_updated_at() -> Any:
    """``updated_at`` as the driver returns it, for sorting only: SQLite's fixed-format text
    orders as the time does, and skipping its parse into a datetime saves more than the rest
    of a candidate's cost."""
    return sa.type_coerce(col(Component.updated_at), sa.String)


def _score(
    session: Session,
    words: Sequence[str],
    where: Sequence[Any],
    candidates: Sequence[sa.Select[Any]] | None,
) -> list[_Scored]:
    """Score the components that satisfy ``where`` (among ``candidates``, component-id
    selects), keeping those that match every word."""
    joined = "-".join(words)
    levels = [_word_level(w, Component.id).label(f"l{i}") for i, w in enumerate(words)]
    query = sa.select(
        col(Component.id), col(Component.name), col(Component.pulls), _raw_updated_at(),
        *levels,
    ).where(*where)  # fmt: skip
    if candidates is not None:
        query = query.where(col(Component.id).in_(_union(candidates)))
    scored = []
    for row in session.execute(query):
        found = [level for level in row[4:] if level is not None]
        if len(found) < len(words):
            continue
        scored.append(_Scored(row[0], row[1] == joined, max(found), sum(found), row[2], row[3]))
    scored.sort(key=_Scored.key, reverse=True)
    return scored


def _rank_one_word(
    session: Session, word: str, where: Sequence[Any], offset: int, limit: int
) -> Hits:
    """The exact page and total of one word with few postings (under EXACT_LIMIT), ranked by
    the database: its postings grouped into one level per component, joined to the components
    that pass ``where``, sorted, counted by a window over the same rows. Only the page's ids
    cross the wire."""
    component_id = col(SearchTerm.component_id)
    levels = (
        sa.select(component_id.label("id"), sa.func.max(_term_level(word)).label("level"))
        .where(col(SearchTerm.weight).in_(WEIGHTS), _word_condition(word))
        .group_by(component_id)
        .subquery()
    )
    # Both databases materialise the grouped postings and look up each one's component by its
    # primary key (EXPLAIN, at 100k, with and without hardware=gpu).
    joined = sa.join(levels, Component, col(Component.id) == levels.c.id, full=False)
    query = (
        sa.select(levels.c.id, sa.func.count().over().label("total"))
        .select_from(joined)
        .where(*where)
        .order_by((col(Component.name) == word).desc(), levels.c.level.desc(), *popularity())
        .offset(offset)
        .limit(limit)
    )
    rows = session.execute(query).all()
    if rows:
        return Hits([row[0] for row in rows], int(rows[0][1]), False)
    if offset == 0:
        return Hits([], 0, False)
    # A page past the end: the window saw no row; count the matches alone.
    total = session.execute(
        sa.select(sa.func.count()).select_from(joined).where(*where)
    ).scalar_one()
    return Hits([], int(total), False)


def _above(word: str, level: int) -> list[sa.Select[Any]]:
    """Selects of the component ids with a posting of ``word`` at a level above ``level``."""
    return [part for higher in LEVELS if higher > level for part in _postings(word, higher)]


def _one_word_tier(
    session: Session,
    word: str,
    where: Sequence[Any],
    level: int,
    dense: bool,
    skip: int,
    wanted: int,
) -> tuple[list[int], int | None]:
    """Members ``skip`` to ``skip + wanted`` of a tier of a one-word query, in popularity order,
    and how many it has (None when the page ends in this tier: not needed, nor counted).

    A component is in the tier when it has a posting at this level and none above: two sets of
    ids, each ranges of ``ix_search_terms_weight_term``, that the database builds and probes;
    no id crosses the wire but the page's, and no component is checked one by one.
    ``dense`` (at least EXACT_LIMIT postings) walks the popularity index and stops at the last
    member wanted: among 100k components a tier of 1,000 has one in a hundred. A sparse tier is
    read by primary key (SQLite: rowid) and sorted.
    """
    postings = _union(_postings(word, level))
    in_tier: sa.ColumnElement[bool] = col(Component.id).in_(postings)
    if dense:
        # ``IS TRUE`` keeps the membership a filter of the walk in popularity order (or the
        # filter's index) that stops at the last member wanted: SQLite would otherwise read
        # every posting's row by its rowid and sort them, PostgreSQL hash-join them all.
        in_tier = in_tier.is_(True)
    elif session.get_bind().dialect.name == "postgresql":
        # Read by primary key and sorted. PostgreSQL estimates (weight, term) from the two
        # columns' statistics apart: a name word's one posting of "data", a common README
        # word, looks like two thousand, and it would walk all components for it (0.4 s at
        # 100k). An array of the postings it cannot join to; it looks up each element.
        in_tier = col(Component.id) == sa.any_(sa.func.array(postings.scalar_subquery()))
    members = [*where, in_tier]
    above = _above(word, level)
    if above:
        members.append(col(Component.id).not_in(_union(above)))
    query = sa.select(col(Component.id)).where(*members)
    page = list(session.execute(query.order_by(*popularity()).offset(skip).limit(wanted)).scalars())
    if len(page) == wanted:
        return page, None
    if page or skip == 0:
        return page, skip + len(page)  # the tier ended within the page
    count = session.execute(sa.select(sa.func.count()).select_from(query.subquery()))
    return page, int(count.scalar_one())


def _exact(scored: list[_Scored], offset: int, limit: int) -> Hits:
    return Hits([s.id for s in scored[offset : offset + limit]], len(scored), False)


def _count_postings(session: Session, words: Sequence[str]) -> tuple[list[int], list[int]]:
    """Per word, capped at EXACT_LIMIT, in one statement: its postings (at least as many as the
    components it matches), and its whole-word postings (exactly the components that have the
    word: a component has a term once). A capped count reads at most that many index entries;
    ``count(DISTINCT)`` would not stop early on PostgreSQL."""
    whole = [
        sa.select(col(SearchTerm.component_id)).where(
            col(SearchTerm.weight).in_(WEIGHTS), col(SearchTerm.term) == w
        )
        for w in words
    ]
    counts = _capped_counts(session, [*(_postings(w)[0] for w in words), *whole], EXACT_LIMIT)
    return counts[: len(words)], counts[len(words) :]


def _lower_bound(
    seen: int, words: Sequence[str], where: Sequence[Any], whole: Sequence[int]
) -> int:
    """A total to report as "at least": what the page has seen, or, for one word and no
    filter (then every component with the word matches), the capped count of the components
    that have it as a whole word."""
    if len(words) == 1 and not where:
        return max(seen, whole[0])
    return seen


def _walk(
    session: Session,
    words: Sequence[str],
    where: Sequence[Any],
    level: int,
    skip: int,
    wanted: int,
    cutoff: Sequence[Any] | None,
) -> list[int] | None:
    """The members ``skip`` to ``skip + wanted`` of a large tier, in popularity order, found
    by walking the components that satisfy ``where`` in that order, down to ``cutoff`` (the
    popularity key of the WALK_LIMIT-th; None: walk them all). The walk stops at the last one
    wanted. Returns None when the walk does not find them all (the tier is sparse)."""
    levels = [_word_level(w, Component.id) for w in words]
    in_tier = [found == level for found in levels]
    if len(words) > 1:
        in_tier = [*(found <= level for found in levels), sa.or_(*in_tier)]
    bound = [] if cutoff is None else [sa.tuple_(*_POPULARITY_KEY) >= sa.tuple_(*cutoff)]
    query = (
        sa.select(col(Component.id))
        .where(*where, *bound, *in_tier)
        .order_by(*popularity())
        .offset(skip)
        .limit(wanted)
    )
    found = list(session.execute(query).scalars())
    return found if len(found) == wanted else None


def _cutoff(session: Session, where: Sequence[Any], walk: int = WALK_LIMIT) -> Sequence[Any] | None:
    """The popularity key of the ``walk``-th component that satisfies ``where`` (None: there
    are fewer): an index-only read of that many entries."""
    row = session.execute(
        sa.select(*_POPULARITY_KEY).where(*where).order_by(*popularity()).offset(walk - 1).limit(1)
    ).first()
    return None if row is None else tuple(row)


def _no_parallel_workers(session: Session) -> None:
    """PostgreSQL: plan this transaction's statements without parallel workers. Starting
    them costs tens of milliseconds, more than any of these statements is worth; the planner
    otherwise picks them for a walk it overestimates."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text("SET LOCAL max_parallel_workers_per_gather = 0"))


def rank(
    session: Session, words: Sequence[str], *, where: Sequence[Any], offset: int, limit: int
) -> Hits:
    """One page of the components that match every word and ``where``, by relevance.

    Args:
        session: the database session.
        words: from :func:`query_words`; not empty.
        where: conditions on :class:`~hub_server.models.Component` (the filters).
        offset: matches to skip.
        limit: matches to return.

    Returns:
        The page's component ids, best first, and the total: exact, or (with
        ``total_is_lower_bound``) at least that many when the matches are too many to count
        cheaply.
    """
    _no_parallel_workers(session)
    counts, whole = _count_postings(session, words)
    rarest = min(range(len(words)), key=counts.__getitem__)
    if counts[rarest] < EXACT_LIMIT:
        if len(words) == 1:
            return _rank_one_word(session, words[0], where, offset, limit)
        return _exact(_score(session, words, where, _postings(words[rarest])), offset, limit)
    if (
        where
        and _capped_counts(session, [sa.select(col(Component.id)).where(*where)], EXACT_LIMIT)[0]
        < EXACT_LIMIT
    ):
        return _exact(_score(session, words, where, None), offset, limit)  # few pass the filters

    joined = "-".join(words)
    # By name first: with a filter too, SQLite (no statistics) may prefer the filter's index.
    named_ids = list(
        session.execute(sa.select(col(Component.id)).where(col(Component.name) == joined)).scalars()
    )
    named = (
        _score(session, words, [*where, col(Component.id).in_(named_ids)], None)
        if named_ids
        else []
    )
    page = [s.id for s in named[offset : offset + limit + 1]]  # one more: is there a next?
    before = len(named)  # matches in the tiers read so far
    exact = True
    # The exact-name matches are excluded by id, not by name: the popularity index holds the
    # id, so a walk without filters never reads the (wide) component rows.
    others = [*where, col(Component.id).not_in([s.id for s in named])] if named else list(where)
    cutoffs: dict[int, Sequence[Any] | None] = {}
    for level in LEVELS:
        wanted = limit + 1 - len(page)
        if wanted <= 0:
            exact = False  # the tiers after the page are not read, nor counted
            break
        candidates = [part for w in words for part in _postings(w, level)]
        postings = sum(_capped_counts(session, candidates, EXACT_LIMIT))
        if not postings:
            continue
        skip = max(0, offset - before)
        dense = postings >= EXACT_LIMIT
        if dense:
            # Several words: walk up to WALK_LIMIT components. One word: its tier is read in SQL
            # from sets of ids below, so only a tier of most components (a common README word)
            # is worth a short walk: it is found among the first few, for less than its sets
            # would cost to build.
            walk = PROBE_LIMIT if len(words) == 1 else WALK_LIMIT
            if walk not in cutoffs:
                cutoffs[walk] = _cutoff(session, others, walk)
            found = _walk(session, words, others, level, skip, wanted, cutoffs[walk])
            if found is not None:
                page += found
                exact = False  # the page ends inside this tier: its size is unknown
                break
        if len(words) == 1:
            found, size = _one_word_tier(session, words[0], others, level, dense, skip, wanted)
            page += found
            if size is None:
                exact = False
                break
            before += size
            continue
        # A small tier, or one the walk found too sparse: score all its candidates.
        tier = [s for s in _score(session, words, others, candidates) if s.tier == level]
        page += [s.id for s in tier[skip : skip + wanted]]
        before += len(tier)
    if exact:
        return Hits(page[:limit], before, False)
    return Hits(page[:limit], _lower_bound(offset + len(page), words, where, whole), True)


def filter_sorted(
    session: Session,
    words: Sequence[str],
    *,
    where: Sequence[Any],
    order_by: Sequence[Any],
    offset: int,
    limit: int,
) -> Hits:
    """One page of the components that match every word (if any) and ``where``, in
    ``order_by`` (an order an index serves, ending in a unique column).

    Args:
        session: the database session.
        words: from :func:`query_words`; may be empty (a plain listing).
        where: conditions on :class:`~hub_server.models.Component` (the filters).
        order_by: the listing's order.
        offset: matches to skip.
        limit: matches to return.

    Returns:
        The page's component ids and the total (exact up to TOTAL_LIMIT, else a lower bound).
    """
    conditions = [*where, *(_has_word(w, Component.id) for w in words)]
    _no_parallel_workers(session)
    counts: list[int] = []
    whole: list[int] = []
    if words:
        counts, whole = _count_postings(session, words)
        rarest = min(range(len(words)), key=counts.__getitem__)
        if counts[rarest] < EXACT_LIMIT:
            conditions.append(col(Component.id).in_(_union(_postings(words[rarest]))))
    matching = sa.select(col(Component.id)).where(*conditions)
    ids = list(
        session.execute(matching.order_by(*order_by).offset(offset).limit(limit + 1)).scalars()
    )
    seen = offset + len(ids)
    if counts and min(counts) >= EXACT_LIMIT:
        # Counting the matches among all components could read them all.
        return Hits(ids[:limit], _lower_bound(seen, words, where, whole), True)
    counted = _capped_counts(session, [matching], TOTAL_LIMIT + 1)[0]
    if counted <= TOTAL_LIMIT:
        return Hits(ids[:limit], max(counted, seen) if ids else counted, False)
    return Hits(ids[:limit], max(TOTAL_LIMIT, seen), True)


# ----------------------------------------------------------------------------- hardware


def memory_bytes(quantity: str) -> int:
    """A Kubernetes memory quantity in bytes (``8Gi`` → 8589934592, ``500M`` → 500000000).

    Raises:
        ValueError: not a quantity.
    """
    match = _MEMORY.match(quantity.strip())
    if not match:
        raise ValueError(f"{quantity!r} is not a memory quantity such as 512Mi or 16Gi")
    try:
        number = Decimal(match.group(1))
    except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
        raise ValueError(f"{quantity!r} is not a memory quantity") from None
    return int(number * _MEMORY_UNITS[match.group(2)])


def variant_facts(hardware: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per hardware variant: accelerator and the memory the scheduler reserves.

    The memory is the request, else the limit (Kubernetes then requests the limit), else 0.

    Args:
        hardware: the manifest's ``hardware`` mapping.

    Returns:
        Dicts with ``variant``, ``accelerator_type``, ``accelerator_model``,
        ``accelerator_count`` and ``memory_bytes``.
    """
    rows = []
    for variant, spec in sorted((hardware.get("variants") or {}).items()):
        spec = spec or {}
        resources = spec.get("resources") or {}
        memory = resources.get("memory") or (resources.get("limits") or {}).get("memory")
        accelerator = spec.get("accelerator") or {}
        rows.append(
            {
                "variant": variant,
                "accelerator_type": accelerator.get("type"),
                "accelerator_model": accelerator.get("model"),
                "accelerator_count": int(accelerator.get("count") or 0) if accelerator else 0,
                "memory_bytes": memory_bytes(str(memory)) if memory else 0,
            }
        )
    return rows


def version_terms(
    *, namespace: str, name: str, manifest: Mapping[str, Any], readme: str
) -> dict[str, int]:
    """The index terms of a component whose latest version has this manifest and README."""
    return document_terms(
        namespace=namespace,
        name=name,
        description=str(manifest.get("description") or ""),
        tags=list(manifest.get("tags") or []),
        readme=readme,
    )


def reindex(
    session: Session,
    component_id: int,
    *,
    namespace: str,
    name: str,
    manifest: Mapping[str, Any],
    readme: str,
    terms: dict[str, int] | None = None,
    same_text: bool = False,
    same_hardware: bool = False,
) -> None:
    """Replace a component's search terms and hardware facts with its latest version's.

    Only the terms that changed are written: a new version usually keeps most of its README,
    and a component has a few hundred terms. Runs inside the caller's transaction; the caller
    commits.

    Args:
        terms: :func:`version_terms` of the same version when the caller has them already
            (publish computes them before its write transaction, where they cost no one a wait).
        same_text: the caller knows the terms stored are this text's (the previous latest
            version had the same description, tags and README): only the hardware facts are
            replaced.
        same_hardware: the caller knows the hardware facts stored are this manifest's (the
            previous latest version had the same ``hardware``): they are not replaced.
    """
    if not same_hardware:
        _replace_variants(session, component_id, manifest)
    if same_text:
        return
    if terms is None:
        terms = version_terms(namespace=namespace, name=name, manifest=manifest, readme=readme)
    term, weight = col(SearchTerm.term), col(SearchTerm.weight)
    owner = col(SearchTerm.component_id) == component_id
    old: dict[str, int] = {t: w for t, w in session.execute(sa.select(term, weight).where(owner))}
    # A term whose weight changed is deleted and inserted again: two statements in all.
    gone = [t for t, w in old.items() if terms.get(t) != w]
    added = [{"component_id": component_id, "term": t, "weight": w}
             for t, w in terms.items() if old.get(t) != w]  # fmt: skip
    for start in range(0, len(gone), _DELETE_CHUNK):
        session.execute(
            sa.delete(SearchTerm).where(owner, term.in_(gone[start : start + _DELETE_CHUNK]))
        )
    if added:
        session.execute(sa.insert(SearchTerm), added)


def _replace_variants(session: Session, component_id: int, manifest: Mapping[str, Any]) -> None:
    session.execute(
        sa.delete(ComponentVariant).where(col(ComponentVariant.component_id) == component_id)
    )
    variants = variant_facts(manifest.get("hardware") or {})
    if variants:
        session.execute(
            sa.insert(ComponentVariant), [{"component_id": component_id, **v} for v in variants]
        )
