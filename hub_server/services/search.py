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

import functools
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple, Protocol

import sqlalchemy as sa
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from hub_server.models import Component, ComponentTag, ComponentVariant, SearchTerm

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


# ----------------------------------------------------------------------------- filters


class FilterShape(NamedTuple):
    """Which filters a listing sets (and the hardware and fork choices), not their values:
    what the SQL of its statements depends on."""

    namespace: bool
    category: bool
    tags: int
    hardware: str | None
    accelerator: bool
    max_memory: bool
    fork_of: bool
    is_fork: bool | None

    @property
    def gpu(self) -> bool:
        """Only components with a GPU variant pass: their postings are read from
        ``ix_search_terms_gpu``, not from all components' (see :func:`_postings`)."""
        return self.hardware == "gpu"


@dataclass(frozen=True)
class Filters:
    """What a listing or search keeps: the components that satisfy every filter set."""

    namespace: str | None = None
    category: str | None = None
    tags: tuple[str, ...] = ()
    """Every one of these tags (any case)."""
    hardware: str | None = None
    """``gpu`` (a variant with an accelerator) or ``cpu`` (a variant without)."""
    accelerator: str | None = None
    """A variant uses this accelerator model."""
    max_memory: int | None = None
    """A variant requests at most this many bytes."""
    fork_of: tuple[str, str] | None = None
    """Forks of this (namespace, name)."""
    is_fork: bool | None = None
    """Only forks (True) or only components that are not forks (False)."""

    @property
    def shape(self) -> FilterShape:
        return FilterShape(
            self.namespace is not None,
            self.category is not None,
            len(self.tags),
            self.hardware,
            self.accelerator is not None,
            self.max_memory is not None,
            self.fork_of is not None,
            self.is_fork,
        )

    def params(self) -> dict[str, Any]:
        """The values of the bound parameters of :func:`filter_conditions`."""
        params: dict[str, Any] = {f"f_tag{i}": tag.lower() for i, tag in enumerate(self.tags)}
        if self.namespace is not None:
            params["f_namespace"] = self.namespace
        if self.category is not None:
            params["f_category"] = self.category
        if self.accelerator is not None:
            params["f_accelerator"] = self.accelerator
        if self.max_memory is not None:
            params["f_max_memory"] = self.max_memory
        if self.fork_of is not None:
            params["f_parent_namespace"], params["f_parent_name"] = self.fork_of
        return params


_NO_FILTERS = Filters().shape


def filter_conditions(shape: FilterShape) -> list[sa.ColumnElement[bool]]:
    """Conditions on :class:`~hub_server.models.Component` for filters of this shape, their
    values bound parameters (:meth:`Filters.params`)."""
    conditions: list[sa.ColumnElement[bool]] = []
    if shape.namespace:
        conditions.append(col(Component.namespace) == sa.bindparam("f_namespace"))
    if shape.category:
        conditions.append(col(Component.category) == sa.bindparam("f_category"))
    for i in range(shape.tags):
        conditions.append(
            sa.exists().where(
                col(ComponentTag.component_id) == Component.id,
                col(ComponentTag.tag) == sa.bindparam(f"f_tag{i}"),
            )
        )
    if shape.accelerator or shape.max_memory:
        # One variant must satisfy every hardware condition at once.
        variant: list[sa.ColumnElement[bool]] = [col(ComponentVariant.component_id) == Component.id]
        if shape.hardware == "gpu":
            variant.append(col(ComponentVariant.accelerator_type).is_not(None))
        elif shape.hardware == "cpu":
            variant.append(col(ComponentVariant.accelerator_type).is_(None))
        if shape.accelerator:
            variant.append(col(ComponentVariant.accelerator_model) == sa.bindparam("f_accelerator"))
        if shape.max_memory:
            variant.append(col(ComponentVariant.memory_bytes) <= sa.bindparam("f_max_memory"))
        conditions.append(sa.exists().where(*variant))
    elif shape.hardware == "gpu":
        conditions.append(col(Component.has_gpu).is_(True))
    elif shape.hardware == "cpu":
        conditions.append(col(Component.has_cpu_only).is_(True))
    if shape.fork_of:
        parent = aliased(Component)
        parent_id = (
            sa.select(col(parent.id))
            .where(
                col(parent.namespace) == sa.bindparam("f_parent_namespace"),
                col(parent.name) == sa.bindparam("f_parent_name"),
            )
            .scalar_subquery()
        )
        conditions.append(col(Component.parent_id) == parent_id)
    if shape.is_fork is not None:
        forked = col(Component.parent_id)
        conditions.append(forked.is_not(None) if shape.is_fork else forked.is_(None))
    return conditions


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
#
# Under ``hardware=gpu`` every postings read above is of ``ix_search_terms_gpu``, the GPU
# components' postings only: whether a word is rare, and how large a tier is, is then measured
# among the components that can match. A word common among CPU components and rare among GPU
# ones (``read``: 18,865 postings, one GPU component) was a walk over every GPU component, per
# tier (23 ms at 100k, SQLite); it is a read of that one posting.
#
# Every statement is built once per *shape* (the kinds of the words, the level, the filters'
# shape, the dialect where the SQL differs), with a bound parameter for every value, and kept:
# a search only binds its values. Building a statement and computing its cache key cost
# SQLAlchemy more CPU than SQLite's work on it, and a search runs 3 to 9 of them: at 100k
# components a one-word search took 4.2 ms in process on SQLite (p50, bench.search_times),
# 3.0 ms with its statements kept.

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
"""A large tier of a one-word query is first looked for among this many, one by one, when its
postings say it should be found there (see :func:`_probe_postings`)."""

ORDERS: dict[str, tuple[Any, ...]] = {
    "relevance": (col(Component.updated_at).desc(), col(Component.id).desc()),
    "updated": (col(Component.updated_at).desc(), col(Component.id).desc()),
    "created": (col(Component.created_at).desc(), col(Component.id).desc()),
    "name": (col(Component.name), col(Component.namespace)),
    "forks": (col(Component.forks_count).desc(), col(Component.name), col(Component.namespace)),
    "pulls": (col(Component.pulls).desc(), col(Component.name), col(Component.namespace)),
}
"""The listing orders of :func:`filter_sorted`: each ends in a unique column (pages never
overlap) and is served by an index of ``components``; "relevance" without words is
"updated"."""

# The kinds of query word, by how it matches terms (see _word_condition).
WHOLE = "whole"
"""Too short for a prefix: whole terms only."""
PREFIX = "prefix"
"""The start of terms: a range with an upper bound (:func:`_successor`)."""
OPEN = "open"
"""The start of terms, with no upper bound (only 'z's)."""

_Row = tuple[Any, ...]
_STATEMENTS = 128
"""Statements kept per builder: shapes in use are far fewer; a bound keeps odd requests
(many tags, many words) from growing the memory."""


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


@dataclass(frozen=True)
class _Query:
    """A search's words and filters: the shape its statements are built for, and the values
    they are run with."""

    words: tuple[str, ...]
    kinds: tuple[str, ...]
    filters: FilterShape
    filtered: bool
    params: dict[str, Any]

    @classmethod
    def of(cls, words: Sequence[str], filters: Filters) -> _Query:
        params = filters.params()
        kinds = []
        for i, word in enumerate(words):
            upper = _successor(word)
            if len(word) < MIN_PREFIX_LENGTH:
                kinds.append(WHOLE)
            elif upper is None:
                kinds.append(OPEN)
            else:
                kinds.append(PREFIX)
                params[f"u{i}"] = upper
            params[f"w{i}"] = word
        params["joined"] = "-".join(words)
        shape = filters.shape
        return cls(tuple(words), tuple(kinds), shape, shape != _NO_FILTERS, params)

    def run(self, session: Session, statement: Any, **values: Any) -> _Result:
        return execute(session, statement, {**self.params, **values})


def execute(session: Session, statement: Any, params: dict[str, Any]) -> _Result:
    """Run a select of the search (or of a listing's page) on the session's connection: the
    ORM's layer has nothing to add to them. On PostgreSQL, by the driver (:class:`_DriverForm`)
    unless someone listens to the engine's statements (tests, ``bench.profile``)."""
    connection = session.connection()
    form = _driver_form(statement, connection.dialect)
    if form is None or connection.dispatch.before_cursor_execute:
        return connection.execute(statement, params)
    return form.run(connection, params)


class _Result(Protocol):
    """What the search reads of a statement's result (SQLAlchemy's ``Result`` has it)."""

    def __iter__(self) -> Iterator[Any]: ...
    def one(self) -> Any: ...
    def first(self) -> Any: ...
    def all(self) -> Sequence[Any]: ...
    def scalar_one(self) -> Any: ...
    def scalars(self) -> Iterable[Any]: ...


class _Rows:
    """A statement's rows (named tuples), fetched by the driver's cursor (:class:`_DriverForm`)."""

    __slots__ = ("_rows",)

    def __init__(self, rows: list[tuple[Any, ...]]) -> None:
        self._rows = rows

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return iter(self._rows)

    def one(self) -> tuple[Any, ...]:
        if len(self._rows) != 1:
            raise sa.exc.InvalidRequestError(f"expected one row, got {len(self._rows)}")
        return self._rows[0]

    def first(self) -> tuple[Any, ...] | None:
        return self._rows[0] if self._rows else None

    def all(self) -> list[tuple[Any, ...]]:
        return self._rows

    def scalar_one(self) -> Any:
        return self.one()[0]

    def scalars(self) -> list[Any]:
        return [row[0] for row in self._rows]


_EXPANDING = re.compile(r"(NOT )?IN \(__\[POSTCOMPILE_(\w+)\]\)")


@dataclass(frozen=True)
class _DriverForm:
    """A search statement compiled once for PostgreSQL, run on the driver's cursor.

    A search runs four or five short statements and then reads its page's rows. SQLAlchemy's
    execution of each (an execution context, the id lists rendered into the SQL text at every
    run, the rows processed) cost the worker more than psycopg's own work. In process, over the
    bench's 183 words at 100k components: 1,430 µs of the worker's CPU per search through
    SQLAlchemy, 890 µs this way, with the same pages. Live, one worker, 32 connections:
    2,180 → 1,620 µs of the worker's CPU per uncached search, 366 → 435 searches/s. The id
    lists become one array parameter each (``= ANY(%(named)s)``), so the SQL text is fixed and
    psycopg prepares it.
    """

    sql: str
    defaults: dict[str, Any]
    """The values bound in the statement itself (``weight IN (16, 8, ...)``)."""

    def run(self, connection: sa.Connection, params: dict[str, Any]) -> _Rows:
        from psycopg.rows import namedtuple_row  # here: only PostgreSQL's workers load psycopg

        dbapi: Any = connection.connection.dbapi_connection
        with dbapi.cursor(row_factory=namedtuple_row) as cursor:
            cursor.execute(self.sql, {**self.defaults, **params})
            return _Rows(cursor.fetchall())


@functools.lru_cache(maxsize=4 * _STATEMENTS)
def _driver_form(statement: Any, dialect: sa.Dialect) -> _DriverForm | None:
    """``statement`` for the driver, or None: not on PostgreSQL, or a statement this does not
    handle, which SQLAlchemy runs (one with values SQLAlchemy converts on their way in or out,
    or that it renders at each run in another way than an id list)."""
    if dialect.name != "postgresql":
        return None
    compiled = statement.compile(dialect=dialect)
    columns = [column.type for column in statement.selected_columns]
    binds = [bind.type for bind in compiled.binds.values()]
    if any(t.dialect_impl(dialect).result_processor(dialect, None) for t in columns) or any(
        t.dialect_impl(dialect).bind_processor(dialect) for t in binds
    ):
        return None
    sql = _EXPANDING.sub(lambda m: f"{'<> ALL' if m[1] else '= ANY'}(%({m[2]})s)", compiled.string)
    if "POSTCOMPILE" in sql:
        return None
    defaults = {name: value for name, value in compiled.params.items() if value is not None}
    return _DriverForm(sql, defaults)


def popularity() -> list[sa.ColumnElement[Any]]:
    """The popularity order (most pulled, then most recently updated, then newest id), served
    by ``ix_components_popularity``."""
    return [
        col(Component.pulls).desc(),
        col(Component.updated_at).desc(),
        col(Component.id).desc(),
    ]


_POPULARITY_KEY = (col(Component.pulls), col(Component.updated_at), col(Component.id))


def _bound(name: str) -> Any:
    """An integer bound parameter (a limit, an offset, a cap)."""
    return sa.bindparam(name, type_=sa.Integer)


def _word(i: int) -> sa.BindParameter[str]:
    return sa.bindparam(f"w{i}", type_=sa.String)


def _upper(i: int) -> sa.BindParameter[str]:
    """Word ``i``'s :func:`_successor`: the end of the terms it is a prefix of."""
    return sa.bindparam(f"u{i}", type_=sa.String)


def _word_condition(i: int, kind: str) -> sa.ColumnElement[bool]:
    """The terms word ``i`` matches: itself, or (a prefix) the range ``w <= term < u``, ``u``
    its :func:`_successor`."""
    term = col(SearchTerm.term)
    if kind == WHOLE:
        return term == _word(i)
    if kind == OPEN:
        return term >= _word(i)
    return sa.and_(term >= _word(i), term < _upper(i))


def _term_level(i: int) -> sa.ColumnElement[int]:
    term, weight = col(SearchTerm.term), col(SearchTerm.weight)
    return sa.case((term == _word(i), weight * EXACT_BONUS), else_=weight)


def _word_level(i: int, kind: str) -> sa.ScalarSelect[Any]:
    """The level word ``i`` matches a component at (NULL: it does not): a range of the primary
    key (component_id, term), a few entries."""
    return (
        sa.select(sa.func.max(_term_level(i)))
        .where(col(SearchTerm.component_id) == Component.id, _word_condition(i, kind))
        .scalar_subquery()
    )


def _has_word(i: int, kind: str) -> sa.Exists:
    return sa.exists().where(col(SearchTerm.component_id) == Component.id, _word_condition(i, kind))


def _gpu_only(gpu: bool) -> list[sa.ColumnElement[bool]]:
    """The condition of ``ix_search_terms_gpu`` (the GPU components' postings), or none."""
    return [col(SearchTerm.has_gpu) == sa.true()] if gpu else []


def _postings(
    i: int, kind: str, level: int | None = None, *, gpu: bool = False
) -> list[sa.Select[Any]]:
    """Selects of the component ids of word ``i``'s postings (at one level, or at any), each
    a range of ``ix_search_terms_weight_term``, or with ``gpu`` of ``ix_search_terms_gpu``:
    only the postings of components with a GPU variant, for a search that keeps only those."""
    term, weight = col(SearchTerm.term), col(SearchTerm.weight)
    component_id = col(SearchTerm.component_id)
    only = _gpu_only(gpu)
    if level is None:
        # The weight list makes the (weight, term) index usable: one range per weight.
        return [sa.select(component_id).where(weight.in_(WEIGHTS), _word_condition(i, kind), *only)]
    parts = []
    if level % EXACT_BONUS == 0 and level // EXACT_BONUS in WEIGHTS:
        whole = weight == level // EXACT_BONUS
        parts.append(sa.select(component_id).where(whole, term == _word(i), *only))
    if level in WEIGHTS and kind != WHOLE:
        # The terms the word is a proper prefix of: past the word itself in the index (a
        # ``term != word`` condition would step over every posting of the whole word).
        longer = [term > _word(i)]
        if kind == PREFIX:
            longer.append(term < _upper(i))
        parts.append(sa.select(component_id).where(weight == level, *longer, *only))
    return parts


def _level_postings(kinds: Sequence[str], level: int, gpu: bool) -> list[sa.Select[Any]]:
    """The postings of every word at ``level``."""
    return [part for i, kind in enumerate(kinds) for part in _postings(i, kind, level, gpu=gpu)]


def _capped(selects: Sequence[sa.Select[Any]]) -> sa.Select[Any]:
    """How many rows each select has, counting at most ``cap`` of each, in one statement."""
    counts = [
        sa.select(sa.func.count()).select_from(s.limit(_bound("cap")).subquery()).scalar_subquery()
        for s in selects
    ]
    return sa.select(*(c.label(f"c{i}") for i, c in enumerate(counts)))


def _union(selects: Sequence[sa.Select[Any]]) -> Any:
    return selects[0] if len(selects) == 1 else sa.union_all(*selects)


def _raw_updated_at() -> Any:
    """``updated_at`` as the driver returns it, for sorting only: SQLite's fixed-format text
    orders as the time does, and skipping its parse into a datetime saves more than the rest
    of a candidate's cost."""
    return sa.type_coerce(col(Component.updated_at), sa.String)


def _named(named: str | None) -> list[sa.ColumnElement[bool]]:
    """``in``: only the components of the id list ``named``; ``out``: not those."""
    ids = col(Component.id)
    if named == "in":
        return [ids.in_(sa.bindparam("named", expanding=True))]
    if named == "out":
        return [ids.not_in(sa.bindparam("named", expanding=True))]
    return []


@dataclass(frozen=True)
class _Counts:
    postings: list[int]
    """Per word, its postings, up to EXACT_LIMIT."""
    whole: list[int]
    """Per word, its whole-word postings, up to EXACT_LIMIT."""
    named: int
    """Components named as the words joined by "-"."""
    components: int
    """About how many components there are: the highest id (an index's last entry, where a
    count would read them all)."""


@functools.lru_cache(maxsize=_STATEMENTS)
def _count_postings_statement(kinds: tuple[str, ...], gpu: bool) -> sa.Select[Any]:
    whole = [
        sa.select(col(SearchTerm.component_id)).where(
            col(SearchTerm.weight).in_(WEIGHTS), col(SearchTerm.term) == _word(i), *_gpu_only(gpu)
        )
        for i in range(len(kinds))
    ]
    postings = [_postings(i, kind, gpu=gpu)[0] for i, kind in enumerate(kinds)]
    counts = _capped([*postings, *whole])
    named = (
        sa.select(sa.func.count())
        .where(col(Component.name) == sa.bindparam("joined", type_=sa.String))
        .scalar_subquery()
    )
    newest = sa.select(sa.func.max(col(Component.id))).scalar_subquery()
    return counts.add_columns(named.label("named"), newest.label("components"))


def _count_postings(session: Session, query: _Query) -> _Counts:
    """In one statement: per word, capped at EXACT_LIMIT, its postings (at least as many as
    the components it matches) and its whole-word postings (exactly the components that have
    the word: a component has a term once); and the components named as the words. A capped
    count reads at most that many index entries; ``count(DISTINCT)`` would not stop early on
    PostgreSQL."""
    statement = _count_postings_statement(query.kinds, query.filters.gpu)
    row = query.run(session, statement, cap=EXACT_LIMIT).one()
    n = len(query.kinds)
    return _Counts(
        [int(c) for c in row[:n]], [int(c) for c in row[n : 2 * n]], int(row[-2]), int(row[-1] or 0)
    )


@functools.lru_cache(maxsize=_STATEMENTS)
def _level_count_statement(kinds: tuple[str, ...], level: int, gpu: bool) -> sa.Select[Any] | None:
    selects = _level_postings(kinds, level, gpu)
    return _capped(selects) if selects else None


def _count_level(session: Session, query: _Query, level: int, cap: int = EXACT_LIMIT) -> int:
    """The postings of the words at ``level``, each part counted up to ``cap``."""
    statement = _level_count_statement(query.kinds, level, query.filters.gpu)
    if statement is None:
        return 0
    return sum(int(n) for n in query.run(session, statement, cap=cap).one())


def _probe_postings(members: int, components: int) -> int | None:
    """The postings a one-word tier needs for a walk of PROBE_LIMIT components (in popularity
    order) to find ``members`` of it, were they spread evenly; None: no walk that short could
    (``members`` is over half of it). Below that the walk finds too few and the tier's sets are
    built anyway: at 100k components, the bench's words walked 133 times and found their page
    4 times (SQLite 0.65 ms, PostgreSQL 2 ms a walk)."""
    if 2 * members > PROBE_LIMIT:
        return None
    return max(EXACT_LIMIT, -(-members * components // PROBE_LIMIT))


@functools.lru_cache(maxsize=_STATEMENTS)
def _filtered_count_statement(filters: FilterShape) -> sa.Select[Any]:
    return _capped([sa.select(col(Component.id)).where(*filter_conditions(filters))])


@functools.lru_cache(maxsize=_STATEMENTS)
def _score_statement(
    kinds: tuple[str, ...],
    filters: FilterShape,
    named: str | None,
    candidates: tuple[str, int] | None,
) -> sa.Select[Any]:
    levels = [_word_level(i, kind).label(f"l{i}") for i, kind in enumerate(kinds)]
    query = sa.select(
        col(Component.id), col(Component.name), col(Component.pulls), _raw_updated_at(),
        *levels,
    ).where(*filter_conditions(filters), *_named(named))  # fmt: skip
    if candidates is not None:
        source, which = candidates
        if source == "word":
            selects = _postings(which, kinds[which], gpu=filters.gpu)
        else:
            selects = _level_postings(kinds, which, filters.gpu)
        query = query.where(col(Component.id).in_(_union(selects)))
    return query


def _score(
    session: Session,
    query: _Query,
    *,
    named: str | None = None,
    named_ids: Sequence[int] = (),
    candidates: tuple[str, int] | None = None,
) -> list[_Scored]:
    """Score the components that pass the filters (and ``named``; among ``candidates``: the
    postings of one word, ``("word", i)``, or of every word at one level, ``("level", L)``),
    keeping those that match every word."""
    statement = _score_statement(query.kinds, query.filters, named, candidates)
    joined = "-".join(query.words)
    scored = []
    for row in query.run(session, statement, named=list(named_ids)):
        found = [level for level in row[4:] if level is not None]
        if len(found) < len(query.words):
            continue
        scored.append(_Scored(row[0], row[1] == joined, max(found), sum(found), row[2], row[3]))
    scored.sort(key=_Scored.key, reverse=True)
    return scored


@functools.lru_cache(maxsize=_STATEMENTS)
def _rank_one_word_statements(
    kind: str, filters: FilterShape
) -> tuple[sa.Select[Any], sa.Select[Any]]:
    """The page (with the total by a window) and the total alone."""
    component_id = col(SearchTerm.component_id)
    levels = (
        sa.select(component_id.label("id"), sa.func.max(_term_level(0)).label("level"))
        .where(
            col(SearchTerm.weight).in_(WEIGHTS), _word_condition(0, kind), *_gpu_only(filters.gpu)
        )
        .group_by(component_id)
        .subquery()
    )
    # Both databases materialise the grouped postings and look up each one's component by its
    # primary key (EXPLAIN, at 100k, with and without hardware=gpu).
    joined = sa.join(levels, Component, col(Component.id) == levels.c.id, full=False)
    where = filter_conditions(filters)
    page = (
        sa.select(levels.c.id, sa.func.count().over().label("total"))
        .select_from(joined)
        .where(*where)
        .order_by((col(Component.name) == _word(0)).desc(), levels.c.level.desc(), *popularity())
        .offset(_bound("skip"))
        .limit(_bound("wanted"))
    )
    total = sa.select(sa.func.count()).select_from(joined).where(*where)
    return page, total


def _rank_one_word(session: Session, query: _Query, offset: int, limit: int) -> Hits:
    """The exact page and total of one word with few postings (under EXACT_LIMIT), ranked by
    the database: its postings grouped into one level per component, joined to the components
    that pass the filters, sorted, counted by a window over the same rows. Only the page's ids
    cross the wire."""
    page, total = _rank_one_word_statements(query.kinds[0], query.filters)
    rows = query.run(session, page, skip=offset, wanted=limit).all()
    if rows:
        return Hits([row[0] for row in rows], int(rows[0][1]), False)
    if offset == 0:
        return Hits([], 0, False)
    # A page past the end: the window saw no row; count the matches alone.
    return Hits([], int(query.run(session, total).scalar_one()), False)


def _above(kind: str, level: int, gpu: bool) -> list[sa.Select[Any]]:
    """Selects of the component ids with a posting of word 0 at a level above ``level``."""
    return [
        part for higher in LEVELS if higher > level for part in _postings(0, kind, higher, gpu=gpu)
    ]


@functools.lru_cache(maxsize=_STATEMENTS)
def _one_word_tier_statements(
    kind: str, filters: FilterShape, named: str | None, level: int, dense: bool, dialect: str
) -> tuple[sa.Select[Any], sa.Select[Any]]:
    """A page of the tier's members in popularity order, and how many it has."""
    postings = _union(_postings(0, kind, level, gpu=filters.gpu))
    in_tier: sa.ColumnElement[bool] = col(Component.id).in_(postings)
    if dense:
        # ``IS TRUE`` keeps the membership a filter of the walk in popularity order (or the
        # filter's index) that stops at the last member wanted: SQLite would otherwise read
        # every posting's row by its rowid and sort them, PostgreSQL hash-join them all.
        in_tier = in_tier.is_(True)
    elif dialect == "postgresql":
        # Read by primary key and sorted. PostgreSQL estimates (weight, term) from the two
        # columns' statistics apart: a name word's one posting of "data", a common README
        # word, looks like two thousand, and it would walk all components for it (0.4 s at
        # 100k). An array of the postings it cannot join to; it looks up each element.
        in_tier = col(Component.id) == sa.any_(sa.func.array(postings.scalar_subquery()))
    members = [*filter_conditions(filters), *_named(named), in_tier]
    above = _above(kind, level, filters.gpu)
    if above:
        members.append(col(Component.id).not_in(_union(above)))
    query = sa.select(col(Component.id)).where(*members)
    page = query.order_by(*popularity()).offset(_bound("skip")).limit(_bound("wanted"))
    return page, sa.select(sa.func.count()).select_from(query.subquery())


def _one_word_tier(
    session: Session,
    query: _Query,
    named: Sequence[int],
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
    dialect = session.get_bind().dialect.name
    page_statement, count_statement = _one_word_tier_statements(
        query.kinds[0], query.filters, "out" if named else None, level, dense, dialect
    )
    values = {"named": list(named)}
    page = list(query.run(session, page_statement, skip=skip, wanted=wanted, **values).scalars())
    if len(page) == wanted:
        return page, None
    if page or skip == 0:
        return page, skip + len(page)  # the tier ended within the page
    return page, int(query.run(session, count_statement, **values).scalar_one())


def _exact(scored: list[_Scored], offset: int, limit: int) -> Hits:
    return Hits([s.id for s in scored[offset : offset + limit]], len(scored), False)


def _lower_bound(seen: int, query: _Query, whole: Sequence[int]) -> int:
    """A total to report as "at least": what the page has seen, or, for one word and no
    filter (then every component with the word matches), the capped count of the components
    that have it as a whole word."""
    if len(query.words) == 1 and not query.filtered:
        return max(seen, whole[0])
    return seen


@functools.lru_cache(maxsize=_STATEMENTS)
def _walk_statement(
    kinds: tuple[str, ...], filters: FilterShape, named: str | None, level: int, bounded: bool
) -> sa.Select[Any]:
    levels = [_word_level(i, kind) for i, kind in enumerate(kinds)]
    in_tier = [found == level for found in levels]
    if len(kinds) > 1:
        in_tier = [*(found <= level for found in levels), sa.or_(*in_tier)]
    bound = []
    if bounded:
        cutoff = (  # typed as the columns
            sa.bindparam("cut0", type_=sa.Integer),
            sa.bindparam("cut1", type_=sa.DateTime(timezone=True)),
            sa.bindparam("cut2", type_=sa.Integer),
        )
        bound.append(sa.tuple_(*_POPULARITY_KEY) >= sa.tuple_(*cutoff))
    return (
        sa.select(col(Component.id))
        .where(*filter_conditions(filters), *_named(named), *bound, *in_tier)
        .order_by(*popularity())
        .offset(_bound("skip"))
        .limit(_bound("wanted"))
    )


def _walk(
    session: Session,
    query: _Query,
    named: Sequence[int],
    level: int,
    skip: int,
    wanted: int,
    cutoff: Sequence[Any] | None,
) -> list[int] | None:
    """The members ``skip`` to ``skip + wanted`` of a large tier, in popularity order, found
    by walking the components that pass the filters (and are not ``named``) in that order,
    down to ``cutoff`` (the popularity key of the WALK_LIMIT-th; None: walk them all). The
    walk stops at the last one wanted. Returns None when the walk does not find them all (the
    tier is sparse)."""
    statement = _walk_statement(
        query.kinds, query.filters, "out" if named else None, level, cutoff is not None
    )
    values = {f"cut{i}": value for i, value in enumerate(cutoff or ())}
    found = list(
        query.run(session, statement, named=list(named), skip=skip, wanted=wanted, **values)
        .scalars()
    )  # fmt: skip
    return found if len(found) == wanted else None


@functools.lru_cache(maxsize=_STATEMENTS)
def _cutoff_statement(filters: FilterShape, named: str | None) -> sa.Select[*_Row]:
    return (
        sa.select(*_POPULARITY_KEY)
        .where(*filter_conditions(filters), *_named(named))
        .order_by(*popularity())
        .offset(_bound("skip"))
        .limit(1)
    )


def _cutoff(
    session: Session, query: _Query, named: Sequence[int], walk: int
) -> Sequence[Any] | None:
    """The popularity key of the ``walk``-th component that passes the filters and is not
    ``named`` (None: there are fewer): an index-only read of that many entries."""
    statement = _cutoff_statement(query.filters, "out" if named else None)
    row = query.run(session, statement, named=list(named), skip=walk - 1).first()
    return None if row is None else tuple(row)


_BY_NAME = sa.select(col(Component.id)).where(col(Component.name) == sa.bindparam("joined"))


def rank(
    session: Session, words: Sequence[str], *, filters: Filters, offset: int, limit: int
) -> Hits:
    """One page of the components that match every word and the filters, by relevance.

    Args:
        session: the database session.
        words: from :func:`query_words`; not empty.
        filters: what the components must satisfy.
        offset: matches to skip.
        limit: matches to return.

    Returns:
        The page's component ids, best first, and the total: exact, or (with
        ``total_is_lower_bound``) at least that many when the matches are too many to count
        cheaply.
    """
    query = _Query.of(words, filters)
    counts = _count_postings(session, query)
    rarest = min(range(len(words)), key=counts.postings.__getitem__)
    if counts.postings[rarest] < EXACT_LIMIT:
        if len(words) == 1:
            return _rank_one_word(session, query, offset, limit)
        return _exact(_score(session, query, candidates=("word", rarest)), offset, limit)
    if query.filtered:
        statement = _filtered_count_statement(query.filters)
        if query.run(session, statement, cap=EXACT_LIMIT).scalar_one() < EXACT_LIMIT:
            return _exact(_score(session, query), offset, limit)  # few pass the filters

    # By name first: with a filter too, SQLite (no statistics) may prefer the filter's index.
    named_ids = list(query.run(session, _BY_NAME).scalars()) if counts.named else []
    named = _score(session, query, named="in", named_ids=named_ids) if named_ids else []
    page = [s.id for s in named[offset : offset + limit + 1]]  # one more: is there a next?
    before = len(named)  # matches in the tiers read so far
    exact = True
    # The exact-name matches are excluded by id, not by name: the popularity index holds the
    # id, so a walk without filters never reads the (wide) component rows.
    excluded = [s.id for s in named]
    cutoffs: dict[int, Sequence[Any] | None] = {}
    for level in LEVELS:
        wanted = limit + 1 - len(page)
        if wanted <= 0:
            exact = False  # the tiers after the page are not read, nor counted
            break
        skip = max(0, offset - before)
        # One word: its tier is read in SQL from sets of ids below, so only a tier common
        # enough to fill the page among the first PROBE_LIMIT components (a common README
        # word) is worth a short walk, for less than its sets would cost to build. Its
        # postings are counted up to what that takes (a range of the index, read up to there).
        probe = _probe_postings(skip + wanted, counts.components) if len(words) == 1 else None
        postings = _count_level(session, query, level, probe or EXACT_LIMIT)
        if not postings:
            continue
        dense = postings >= EXACT_LIMIT
        if dense and (len(words) > 1 or (probe is not None and postings >= probe)):
            # Several words: walk up to WALK_LIMIT components, else score the tier.
            walk = PROBE_LIMIT if len(words) == 1 else WALK_LIMIT
            if walk not in cutoffs:
                cutoffs[walk] = _cutoff(session, query, excluded, walk)
            found = _walk(session, query, excluded, level, skip, wanted, cutoffs[walk])
            if found is not None:
                page += found
                exact = False  # the page ends inside this tier: its size is unknown
                break
        if len(words) == 1:
            found, size = _one_word_tier(session, query, excluded, level, dense, skip, wanted)
            page += found
            if size is None:
                exact = False
                break
            before += size
            continue
        # A small tier, or one the walk found too sparse: score all its candidates.
        tier = [
            s
            for s in _score(
                session,
                query,
                named="out" if excluded else None,
                named_ids=excluded,
                candidates=("level", level),
            )
            if s.tier == level
        ]
        page += [s.id for s in tier[skip : skip + wanted]]
        before += len(tier)
    if exact:
        return Hits(page[:limit], before, False)
    return Hits(page[:limit], _lower_bound(offset + len(page), query, counts.whole), True)


@functools.lru_cache(maxsize=_STATEMENTS)
def _matching_statements(
    kinds: tuple[str, ...], filters: FilterShape, rarest: int | None, order: str
) -> tuple[sa.Select[Any], sa.Select[Any]]:
    """A page of the matches in ``order``, and their number, capped."""
    conditions = [*filter_conditions(filters), *(_has_word(i, k) for i, k in enumerate(kinds))]
    if rarest is not None:
        rarest_postings = _postings(rarest, kinds[rarest], gpu=filters.gpu)
        conditions.append(col(Component.id).in_(_union(rarest_postings)))
    matching = sa.select(col(Component.id)).where(*conditions)
    page = matching.order_by(*ORDERS[order]).offset(_bound("skip")).limit(_bound("wanted"))
    return page, _capped([matching])


def filter_sorted(
    session: Session,
    words: Sequence[str],
    *,
    filters: Filters,
    order: str,
    offset: int,
    limit: int,
) -> Hits:
    """One page of the components that match every word (if any) and the filters, in
    ``order``.

    Args:
        session: the database session.
        words: from :func:`query_words`; may be empty (a plain listing).
        filters: what the components must satisfy.
        order: a key of :data:`ORDERS`.
        offset: matches to skip.
        limit: matches to return.

    Returns:
        The page's component ids and the total (exact up to TOTAL_LIMIT, else a lower bound).
    """
    query = _Query.of(words, filters)
    counts = _count_postings(session, query) if words else None
    rarest = None
    if counts is not None:
        fewest = min(range(len(words)), key=counts.postings.__getitem__)
        if counts.postings[fewest] < EXACT_LIMIT:
            rarest = fewest
    page, count = _matching_statements(query.kinds, query.filters, rarest, order)
    ids = list(query.run(session, page, skip=offset, wanted=limit + 1).scalars())
    seen = offset + len(ids)
    if counts is not None and min(counts.postings) >= EXACT_LIMIT:
        # Counting the matches among all components could read them all.
        return Hits(ids[:limit], _lower_bound(seen, query, counts.whole), True)
    counted = int(query.run(session, count, cap=TOTAL_LIMIT + 1).scalar_one())
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
    has_gpu: bool = False,
    had_gpu: bool = False,
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
        has_gpu: the component's ``has_gpu`` now, which each of its terms carries.
        had_gpu: its ``has_gpu`` before (what its stored terms carry).
    """
    if not same_hardware:
        _replace_variants(session, component_id, manifest)
    owner = col(SearchTerm.component_id) == component_id
    if has_gpu != had_gpu:
        session.execute(sa.update(SearchTerm).where(owner).values(has_gpu=has_gpu))
    if same_text:
        return
    if terms is None:
        terms = version_terms(namespace=namespace, name=name, manifest=manifest, readme=readme)
    term, weight = col(SearchTerm.term), col(SearchTerm.weight)
    old: dict[str, int] = {t: w for t, w in session.execute(sa.select(term, weight).where(owner))}
    # A term whose weight changed is deleted and inserted again: two statements in all.
    gone = [t for t, w in old.items() if terms.get(t) != w]
    added = [{"component_id": component_id, "term": t, "weight": w, "has_gpu": has_gpu}
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
