"""Search is top-k: ranking, filters, pagination and totals on both databases, and a page's cost
that does not grow with the number of matches (``hub_server.services.search``)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from hub_server.db import make_engine
from hub_server.models import Component, ComponentTag, ComponentVariant, Namespace, SearchTerm
from hub_server.schemas import ComponentPublic, Page
from hub_server.services import search
from hub_server.services.components import ComponentService
from hub_server.settings import Settings
from hub_server.storage import open_storage

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def engine(settings: Settings, app: Any) -> Iterator[Engine]:
    """The migrated database of ``settings`` (``app`` migrated it)."""
    engine = make_engine(settings.resolved_database_url)
    yield engine
    engine.dispose()


def _insert(
    engine: Engine, components: list[dict[str, Any]], terms: dict[str, dict[str, int]]
) -> None:
    """Components (``name``, ``pulls``, optional ``namespace``/``has_gpu``) and their index
    terms ``{name: {term: weight}}``, written directly: thousands in a second."""
    with Session(engine) as session:
        known = set(session.execute(sa.select(Namespace.name)).scalars())
        namespaces = sorted({c.get("namespace", "ns") for c in components} - known)
        if namespaces:
            session.execute(sa.insert(Namespace), [{"name": n} for n in namespaces])
        rows = []
        for i, c in enumerate(components):
            stamp = EPOCH + timedelta(minutes=i)
            rows.append(
                {
                    "namespace": c.get("namespace", "ns"),
                    "name": c["name"],
                    "description": "",
                    "category": "other",
                    "tags": [],
                    "search_text": "",
                    "latest_version": "1.0.0",
                    "versions_count": 1,
                    "hardware_variants": ["gpu"] if c.get("has_gpu") else ["cpu"],
                    "has_gpu": bool(c.get("has_gpu")),
                    "has_cpu_only": not c.get("has_gpu"),
                    "forks_count": 0,
                    "pulls": c["pulls"],
                    "created_at": stamp,
                    "updated_at": stamp,
                }
            )
        session.execute(sa.insert(Component), rows)
        ids = dict(
            session.execute(sa.select(Component.name, Component.id)).all()  # type: ignore[arg-type]
        )
        gpu = {c["name"] for c in components if c.get("has_gpu")}
        rows = [
            {"component_id": ids[name], "term": term, "weight": weight, "has_gpu": name in gpu}
            for name, found in terms.items()
            for term, weight in found.items()
        ]
        if rows:
            session.execute(sa.insert(SearchTerm), rows)
        session.commit()


def _search(engine: Engine, settings: Settings, **params: Any) -> Page[ComponentPublic]:
    with Session(engine) as session:
        service = ComponentService(
            session, open_storage(settings.resolved_storage_url), settings.archive_limits
        )
        return service.list_components(**params)


def _names(page: Page[ComponentPublic]) -> list[str]:
    return [c.name for c in page.items]


# ----------------------------------------------------------------------------- ranking


@pytest.fixture
def ranked(engine: Engine) -> Engine:
    """One component per way of matching "data", and popularity to break ties."""
    weights = {"tag": 8, "desc": 4, "ns": 2, "readme": 1}
    components = [
        {"name": "data", "pulls": 0},  # the exact name: first, though least pulled
        {"name": "data-loader", "pulls": 5},  # whole word in the name (32)
        {"name": "load-data", "pulls": 50},  # whole word in the name, more pulls
        {"name": "database-tool", "pulls": 900},  # prefix in the name (16)
        *({"name": f"by-{field}", "pulls": 10} for field in weights),
        {"name": "readme-popular", "pulls": 1000},  # whole word, README only (2)
        {"name": "readme-prefix", "pulls": 2000},  # prefix, README only (1)
        {"name": "unrelated", "pulls": 10**6},
    ]
    terms = {
        "data": {"data": 16},
        "data-loader": {"data": 16, "loader": 16},
        "load-data": {"load": 16, "data": 16},
        "database-tool": {"database": 16, "tool": 16},
        **{f"by-{field}": {"data": weight, "by": 16} for field, weight in weights.items()},
        "readme-popular": {"data": 1},
        "readme-prefix": {"datasets": 1},
        "unrelated": {"other": 16},
    }
    _insert(engine, components, terms)
    return engine


EXPECTED = [
    "data",
    "load-data",
    "data-loader",
    "database-tool",
    "by-tag",
    "by-desc",
    "by-ns",
    "readme-popular",
    "by-readme",
    "readme-prefix",
]


def test_ranking_exact_name_then_field_then_popularity(ranked: Engine, settings: Settings) -> None:
    page = _search(ranked, settings, q="data")

    assert _names(page) == EXPECTED
    assert (page.total, page.total_is_lower_bound) == (len(EXPECTED), False)


@pytest.mark.parametrize("limits", [(1000, 1000), (2, 3)], ids=["exact", "tiers-walked"])
def test_pages_concatenate_to_the_ranking(
    ranked: Engine, settings: Settings, monkeypatch: pytest.MonkeyPatch, limits: tuple[int, int]
) -> None:
    # With tiny limits every tier is "large": read by walking popularity, as at 100k.
    monkeypatch.setattr(search, "EXACT_LIMIT", limits[0])
    monkeypatch.setattr(search, "TOTAL_LIMIT", limits[1])
    names: list[str] = []
    for number in range(1, 6):
        page = _search(ranked, settings, q="data", per_page=3, page=number)
        names += _names(page)
        assert page.total >= min(len(EXPECTED), number * 3)

    assert names == EXPECTED
    last = _search(ranked, settings, q="data", per_page=3, page=4)
    assert last.total == len(EXPECTED) or last.total_is_lower_bound


def test_two_words_must_both_match_and_rank_by_score(ranked: Engine, settings: Settings) -> None:
    page = _search(ranked, settings, q="load data")

    # "load" is a whole name word of load-data, the prefix of a name word of data-loader.
    assert _names(page) == ["load-data", "data-loader"]
    assert page.total == 2


def test_filters_apply_to_every_tier(ranked: Engine, settings: Settings) -> None:
    assert _names(_search(ranked, settings, q="data", namespace="nobody")) == []
    page = _search(ranked, settings, q="data", sort="pulls")
    assert _names(page)[:3] == ["readme-prefix", "readme-popular", "database-tool"]
    assert page.total == len(EXPECTED)


# ----------------------------------------------------------------------------- top-k


def _pg_stat(engine: Engine, query: str) -> int:
    """A figure of PostgreSQL's statistics views, with this backend's pending counts flushed
    and the snapshot fresh."""
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT pg_stat_force_next_flush()"))
        conn.commit()
        conn.execute(sa.text("SELECT pg_stat_clear_snapshot()"))
        return int(conn.execute(sa.text(query)).scalar_one())


@contextmanager
def _work(engine: Engine) -> Iterator[Callable[[], int]]:
    """How much the database did meanwhile: SQLite virtual machine steps (a progress handler
    counts them), or PostgreSQL index and table tuples read (the statistics views)."""
    if engine.dialect.name == "sqlite":
        steps = [0]

        def tick() -> int:
            steps[0] += 1
            return 0

        def on_connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.set_progress_handler(tick, 100)

        engine.dispose()
        sa.event.listen(engine, "connect", on_connect)
        try:
            yield lambda: steps[0] * 100
        finally:
            sa.event.remove(engine, "connect", on_connect)
        return

    def read() -> int:
        return _pg_stat(
            engine,
            "SELECT coalesce(sum(coalesce(idx_tup_fetch, 0) + seq_tup_read), 0) + "
            "(SELECT coalesce(sum(idx_tup_read), 0) FROM pg_stat_user_indexes) "
            "FROM pg_stat_user_tables",
        )

    start = read()
    result = [0]
    yield lambda: result[0]
    result[0] = read() - start


def _crowd(engine: Engine, count: int) -> None:
    """``count`` components whose READMEs all say "common"; every other one has a GPU variant."""
    components = [
        {"name": f"c{i}", "pulls": (i * 7919) % 1000, "has_gpu": i % 2 == 0} for i in range(count)
    ]
    terms = {f"c{i}": {f"c{i}": 16, "common": 1, "commons": 1} for i in range(count)}
    _insert(engine, components, terms)


def _page_work(engine: Engine, settings: Settings, **params: Any) -> int:
    if engine.dialect.name == "postgresql":  # statistics, as autovacuum keeps them
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("ANALYZE"))
    _search(engine, settings, **params)  # warm: the first statement compiles and caches
    with _work(engine) as done:
        page = _search(engine, settings, **params)
    assert len(page.items) == params.get("per_page", 20)
    return done()


@pytest.mark.parametrize(
    "params",
    [
        {"q": "common"},
        {"q": "comm"},
        {"q": "common", "hardware": "gpu"},
        {"q": "common c1"},
        {"sort": "updated"},
        {"sort": "pulls", "hardware": "gpu"},
    ],
    ids=["word", "prefix", "word-gpu", "two-words", "listing", "listing-gpu"],
)
def test_a_page_costs_the_same_for_ten_times_the_matches(
    engine: Engine, settings: Settings, monkeypatch: pytest.MonkeyPatch, params: dict[str, Any]
) -> None:
    """The database work for one page of 20 when 300 components match, then 3,000: with the
    limits scaled down to the fixture's size (as 1,000 is to 100k components), reading every
    match does ten times the work; top-k does about the same."""
    for limit in ("EXACT_LIMIT", "TOTAL_LIMIT", "WALK_LIMIT"):
        monkeypatch.setattr(search, limit, 100)
    _crowd(engine, 300)
    small = _page_work(engine, settings, **params)
    with Session(engine) as session:  # 2,700 more, none better ranked than the first 300
        session.execute(sa.update(Component).values(pulls=Component.pulls + 1000))
        session.commit()
    more = [{"name": f"d{i}", "pulls": i % 1000, "has_gpu": i % 2 == 0} for i in range(2700)]
    _insert(engine, more, {f"d{i}": {"common": 1, "commons": 1} for i in range(2700)})
    large = _page_work(engine, settings, **params)

    # Reading every match would be about 10x; a small fixed part (the filters' capped count,
    # the walk's cutoff) still grows until it reaches its limit.
    assert large < 3 * small, f"{small} → {large}: the work grows with the matches"


def test_a_gpu_search_reads_the_gpu_components_postings(
    engine: Engine, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A word common among CPU components and rare among GPU ones: 25 GPU components have it,
    the least popular. Read from all postings, the page would walk every GPU component in
    popularity order to find them; read from the GPU components' postings, it reads those 25,
    however many GPU components do not have the word."""
    for limit in ("EXACT_LIMIT", "TOTAL_LIMIT", "WALK_LIMIT"):
        monkeypatch.setattr(search, limit, 100)
    cpu = [{"name": f"cpu{i}", "pulls": 500} for i in range(300)]
    rare = [{"name": f"rare{i}", "pulls": i, "has_gpu": True} for i in range(25)]
    _insert(engine, cpu + rare, {c["name"]: {"common": 1} for c in cpu + rare})

    def gpu_page_work(count: int, first: int) -> int:
        others = [{"name": f"g{i}", "pulls": 100 + i, "has_gpu": True} for i in range(first, count)]
        _insert(engine, others, {c["name"]: {"other": 1} for c in others})
        work = _page_work(engine, settings, q="common", hardware="gpu")
        page = _search(engine, settings, q="common", hardware="gpu", per_page=25)
        assert (page.total, page.total_is_lower_bound) == (25, False)
        assert _names(page) == [f"rare{i}" for i in reversed(range(25))]
        return work

    small = gpu_page_work(300, 0)
    large = gpu_page_work(3000, 300)

    assert large < 2 * small, f"{small} → {large}: the work grows with the GPU components"


def test_a_large_total_is_a_lower_bound(
    engine: Engine, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search, "EXACT_LIMIT", 100)
    monkeypatch.setattr(search, "TOTAL_LIMIT", 100)
    _crowd(engine, 300)

    found = _search(engine, settings, q="common")
    listed = _search(engine, settings)
    few = _search(engine, settings, q="c17")  # c17, c170 ... c179

    assert (found.total, found.total_is_lower_bound) == (100, True)
    assert (listed.total, listed.total_is_lower_bound) == (100, True)
    assert (few.total, few.total_is_lower_bound) == (11, False)
    deep = _search(engine, settings, q="common", page=10)
    assert deep.total >= 200
    assert deep.total_is_lower_bound


@contextmanager
def _executed(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """The SQL and bound parameters of each statement run meanwhile."""
    seen: list[tuple[str, Any]] = []

    def grab(_conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        seen.append((statement, params))

    sa.event.listen(engine, "before_cursor_execute", grab)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", grab)


@pytest.mark.parametrize(
    ("query", "matching"), [("rare", 150), ("scarce", 90)], ids=["large-tier", "few-postings"]
)
def test_one_word_pages_are_ranked_by_the_database_without_id_lists(
    engine: Engine,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    query: str,
    matching: int,
) -> None:
    """A tier of a one-word query too large to score, whose members are all among the least
    popular (so no short walk finds them), and a word with few postings, are ranked and paged
    in SQL: no statement carries a list of candidate ids (it used to carry them all)."""
    for limit in ("EXACT_LIMIT", "TOTAL_LIMIT", "WALK_LIMIT"):
        monkeypatch.setattr(search, limit, 100)
    monkeypatch.setattr(search, "PROBE_LIMIT", 20)
    # 400 components; the word is in the READMEs of the `matching` least pulled; one of them
    # (the least pulled) also has it in its name, which ranks it first.
    components = [{"name": f"c{i}", "pulls": 10 * i, "has_gpu": i % 2 == 0} for i in range(400)]
    terms = {f"c{i}": {f"c{i}": 16, "other": 1} for i in range(400)}
    for i in range(matching):
        terms[f"c{i}"][query] = 1
    terms["c0"][query] = 16
    _insert(engine, components, terms)
    expected = ["c0", *(f"c{i}" for i in range(matching - 1, 0, -1))]
    gpu = ["c0", *(f"c{i}" for i in range(matching - 1, 0, -1) if i % 2 == 0)]

    with _executed(engine) as executed:
        pages = [_search(engine, settings, q=query, page=n, per_page=25) for n in (1, 2, 3)]
        gpu_page = _search(engine, settings, q=query, hardware="gpu", per_page=25)
        beyond = _search(engine, settings, q=query, page=20, per_page=25)

    assert [_names(p) for p in pages] == [expected[:25], expected[25:50], expected[50:75]]
    assert _names(gpu_page) == gpu[:25]
    assert _names(beyond) == []
    if matching < 100:  # read in full: the totals are exact
        assert [p.total for p in pages] == [matching] * 3
        assert (gpu_page.total, beyond.total) == (len(gpu), matching)
    else:
        assert all(p.total >= 25 * n for n, p in enumerate(pages, 1))
    most = max(len(params) for _, params in executed)
    assert most < 40, f"a statement carried {most} parameters"


@pytest.mark.parametrize(("matching", "walks"), [(60, 0), (400, 1)], ids=["sparse", "common"])
def test_a_one_word_tier_is_walked_only_when_a_walk_can_fill_the_page(
    engine: Engine,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    matching: int,
    walks: int,
) -> None:
    """A walk of the PROBE_LIMIT most popular components can find a one-word tier's page only
    if the tier is common enough: a tier under that share of the components is read from its
    sets at once (at 100k components the bench's words walked 133 times, to find their page
    4 times); a tier of every component is still found by the walk."""
    monkeypatch.setattr(search, "EXACT_LIMIT", 50)
    monkeypatch.setattr(search, "PROBE_LIMIT", 100)  # 21 wanted of 400: walk from 84 postings
    components = [{"name": f"c{i}", "pulls": 10 * i} for i in range(400)]
    terms = {f"c{i}": {f"c{i}": 16, "other": 1} for i in range(400)}
    for i in range(matching):
        terms[f"c{i}"]["word"] = 1
    _insert(engine, components, terms)
    calls: list[int] = []
    walk = search._walk

    def counted(*args: Any, **kwargs: Any) -> list[int] | None:
        calls.append(1)
        return walk(*args, **kwargs)

    monkeypatch.setattr(search, "_walk", counted)
    page = _search(engine, settings, q="word", per_page=20)

    assert _names(page) == [f"c{i}" for i in range(matching - 1, matching - 21, -1)]
    assert len(calls) == walks


def _component_reads(engine: Engine) -> int:
    """PostgreSQL: the entries of ``components``' indexes and its rows read so far."""
    if engine.dialect.name != "postgresql":
        return 0
    return _pg_stat(
        engine,
        "SELECT (SELECT coalesce(sum(idx_tup_read), 0) FROM pg_stat_user_indexes"
        " WHERE relname = 'components') + (SELECT coalesce(seq_tup_read, 0)"
        " FROM pg_stat_user_tables WHERE relname = 'components')",
    )


def test_a_tier_of_one_posting_of_a_common_word_is_read_from_its_posting(
    engine: Engine, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ "data" is in every README and in one name. PostgreSQL estimates the name tier's postings
    from the two columns' statistics apart (half the rows have the name weight, half the term)
    and, if let, walks every component to find its one member; the tier is read from its
    posting instead."""
    for limit in ("EXACT_LIMIT", "TOTAL_LIMIT", "WALK_LIMIT"):
        monkeypatch.setattr(search, limit, 100)
    monkeypatch.setattr(search, "PROBE_LIMIT", 20)
    count = 3000
    components = [{"name": f"c{i}", "pulls": i} for i in range(count)]
    terms = {f"c{i}": {f"c{i}": 16, "data": 1} for i in range(count)}
    terms["c5"]["data"] = 16
    _insert(engine, components, terms)

    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("ANALYZE"))
    _search(engine, settings, q="data", per_page=20)  # warm
    before = _component_reads(engine)
    page = _search(engine, settings, q="data", per_page=20)
    read = _component_reads(engine) - before

    assert _names(page) == ["c5", *(f"c{i}" for i in range(count - 1, count - 20, -1))]
    if engine.dialect.name == "postgresql":
        # A walk of every component would read 3,000 entries of the popularity index.
        assert read < 300, f"{read} component index entries or rows read for one page"


def _builders() -> dict[str, Any]:
    """The statement builders of the search module that keep what they built."""
    return {name: value for name, value in vars(search).items() if hasattr(value, "cache_info")}


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ({"q": "data"}, {"q": "load"}),
        (
            {"q": "data", "namespace": "ns", "tags": ["a"]},
            {"q": "by", "namespace": "x", "tags": ["b"]},
        ),
        ({"q": "data loader", "hardware": "gpu"}, {"q": "by tag", "hardware": "gpu"}),
        ({"q": "data", "sort": "pulls"}, {"q": "tool", "sort": "pulls"}),
        ({"sort": "name", "is_fork": False}, {"sort": "name", "is_fork": False, "page": 2}),
    ],
    ids=["word", "filters", "two-words-gpu", "sorted", "listing"],
)
def test_a_search_of_a_known_shape_builds_no_statement(
    ranked: Engine, settings: Settings, first: dict[str, Any], second: dict[str, Any]
) -> None:
    """Statements are built once per shape (the kinds of words, the filters set) and kept: a
    search of other words and filter values of the same shape only binds its values."""
    _search(ranked, settings, **first)
    builders = _builders()
    assert builders, "no statement builder keeps what it built"
    built = {name: builder.cache_info().misses for name, builder in builders.items()}

    _search(ranked, settings, **second)

    assert {name: b.cache_info().misses for name, b in builders.items()} == built


def test_a_search_asks_for_the_named_components_only_when_there_are_some(
    ranked: Engine, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whether a component bears the words' name is counted with the postings, in the first
    statement: a search looks up the named ones only when the count says there are any."""
    monkeypatch.setattr(search, "EXACT_LIMIT", 2)  # both words are common: ranked by tiers
    with _executed(ranked) as plain:
        _search(ranked, settings, q="load")  # no component is named "load"
    with _executed(ranked) as named:
        _search(ranked, settings, q="data")

    by_name = re.compile(r"WHERE components\.name = \S+\s*$")
    assert not [sql for sql, _ in plain if by_name.search(sql)]
    assert len([sql for sql, _ in named if by_name.search(sql)]) == 1


def test_a_page_is_read_as_plain_rows_of_what_a_listing_shows(
    ranked: Engine, settings: Settings
) -> None:
    """The page's components are plain rows, not ORM objects (building and then expiring
    twenty of them cost more than the page's SQL), without the index text no listing shows;
    and the page shows them all the same."""
    loaded: list[Any] = []

    def on_load(target: Any, _context: Any) -> None:
        loaded.append(target)

    sa.event.listen(Component, "load", on_load)
    try:
        with _executed(ranked) as statements:
            page = _search(ranked, settings, q="data")
    finally:
        sa.event.remove(Component, "load", on_load)

    assert page.items
    assert not loaded
    assert not [sql for sql, _ in statements if "search_text" in sql]
    with Session(ranked) as session:
        stored = {c.name: c for c in session.exec(sa.select(Component)).scalars()}
    for item in page.items:
        component = stored[item.name]
        assert item.tags == component.tags
        assert item.hardware_variants == component.hardware_variants
        assert item.updated_at == component.updated_at
        assert item.pulls == component.pulls


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.parametrize("limits", [(1000, 1000), (2, 3)], ids=["exact", "tiers-walked"])
def test_postgresql_runs_the_searches_on_the_driver_with_the_same_pages(
    ranked: Engine, settings: Settings, monkeypatch: pytest.MonkeyPatch, limits: tuple[int, int]
) -> None:
    """On PostgreSQL the search's statements (and the page's rows) are run by psycopg's cursor,
    their id lists one array parameter each; the pages are those SQLAlchemy's execution gives
    (which still runs them when someone listens to the engine's statements)."""
    monkeypatch.setattr(search, "EXACT_LIMIT", limits[0])
    monkeypatch.setattr(search, "TOTAL_LIMIT", limits[1])
    driven: list[str] = []
    run = search._DriverForm.run

    def spy(form: search._DriverForm, connection: Any, params: dict[str, Any]) -> Any:
        driven.append(form.sql)
        return run(form, connection, params)

    monkeypatch.setattr(search._DriverForm, "run", spy)
    cases: list[dict[str, Any]] = [
        {"q": "data"},
        *({"q": "data", "per_page": 3, "page": n} for n in range(1, 5)),
        {"q": "load data"},
        {"q": "data", "hardware": "gpu"},
        {"q": "data", "namespace": "ns", "sort": "pulls"},
        {"q": "dat", "sort": "updated"},
        {"sort": "pulls", "per_page": 4, "page": 2},
    ]
    everything: list[str] = []
    for params in cases:
        driven.clear()
        by_driver = _search(ranked, settings, **params)
        assert driven, params
        everything += driven
        with _executed(ranked) as statements:
            by_sqlalchemy = _search(ranked, settings, **params)
        assert statements
        assert by_driver.model_dump() == by_sqlalchemy.model_dump(), params
        assert by_driver.items or params.get("hardware") == "gpu"
    assert _names(_search(ranked, settings, q="data")) == EXPECTED
    assert any("components.id = ANY(%(ids)s)" in sql for sql in everything)  # the page's rows
    if limits[0] == 2:  # the walks leave the exact name out
        assert any("components.id <> ALL(%(named)s)" in sql for sql in everything)


def test_postgresql_connections_plan_without_parallel_workers(postgres_server_url: str) -> None:
    """Set once per connection (a round trip per search before): the hub's statements are
    index reads that stop at a page, worth less than starting parallel workers."""
    engine = make_engine(postgres_server_url)
    try:
        with engine.connect() as conn:
            show = sa.text("SHOW max_parallel_workers_per_gather")
            assert conn.execute(show).scalar_one() == "0"
            conn.rollback()  # not undone with the transaction it was set in
            assert conn.execute(show).scalar_one() == "0"
    finally:
        engine.dispose()


# ----------------------------------------------------------------------------- reindex


def test_reindex_writes_only_the_terms_that_changed(engine: Engine) -> None:
    _insert(engine, [{"name": "train", "pulls": 0}], {})
    manifest = {"description": "fits a model", "tags": ["xgboost"]}
    with Session(engine) as session:
        component_id = session.execute(sa.select(Component.id)).scalar_one()
        search.reindex(
            session, component_id, namespace="ns", name="train", manifest=manifest, readme="a b"
        )
        session.commit()
        statements: list[str] = []
        sa.event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
        changed = {**manifest, "description": "fits a big model"}
        search.reindex(
            session, component_id, namespace="ns", name="train", manifest=changed, readme="a c"
        )
        session.commit()
        terms = dict(
            session.execute(
                sa.select(SearchTerm.term, SearchTerm.weight).where(
                    SearchTerm.component_id == component_id
                )
            ).all()
        )

    assert terms == search.document_terms(
        namespace="ns", name="train", description="fits a big model", tags=["xgboost"],
        readme="a c",
    )  # fmt: skip
    written = [s for s in statements if "search_terms" in s and not s.startswith("SELECT")]
    assert len(written) == 2  # one delete ("b"), one insert ("big", "c"), nothing else


def test_publish_reads_no_terms_when_the_text_is_unchanged_and_the_index_stays_exact(
    app: Any, client: Any, engine: Engine, alice: dict[str, str], publish: Callable[..., Any]
) -> None:
    """A new version with its component's description, tags and README changes no search term:
    publish then does not read the stored terms at all. Any change to that text, and a yank
    that makes an older text the latest again, rewrite them as before."""

    def stored() -> dict[str, int]:
        with Session(engine) as session:
            rows = session.execute(sa.select(SearchTerm.term, SearchTerm.weight)).all()
        return dict(rows)  # type: ignore[arg-type]

    def expected(readme: str, description: str = "Trains a model") -> dict[str, int]:
        return search.document_terms(
            namespace="alice", name="train", description=description, tags=["training"],
            readme=readme,
        )  # fmt: skip

    statements: list[str] = []
    app_engine = app.state.hub.engine
    sa.event.listen(app_engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    common = {"description": "Trains a model", "tags": ["training"]}
    assert publish("alice", alice, readme="alpha beta", **common).status_code == 201
    assert stored() == expected("alpha beta")

    statements.clear()
    assert (
        publish("alice", alice, version="1.1.0", readme="alpha beta", **common).status_code == 201
    )
    assert not [s for s in statements if "search_terms" in s], "the terms were read or written"
    assert stored() == expected("alpha beta")

    assert (
        publish("alice", alice, version="1.2.0", readme="alpha gamma", **common).status_code == 201
    )
    assert stored() == expected("alpha gamma")
    changed = {**common, "description": "Fits a model"}
    assert (
        publish("alice", alice, version="1.3.0", readme="alpha gamma", **changed).status_code == 201
    )
    assert stored() == expected("alpha gamma", "Fits a model")

    base = "/api/v1/components/alice/train/versions"
    for version in ("1.3.0", "1.2.0"):
        yank = client.post(f"{base}/{version}/yank", json={"reason": "x"}, headers=alice)
        assert yank.status_code == 200
    assert stored() == expected("alpha beta")  # 1.1.0 is the latest again
    assert client.delete(f"{base}/1.2.0/yank", headers=alice).status_code == 200
    assert stored() == expected("alpha gamma")
    found = client.get("/api/v1/components", params={"q": "gamma"}).json()["items"]
    assert [c["name"] for c in found] == ["train"]


def test_publish_writes_only_what_the_new_version_changes(
    app: Any, client: Any, engine: Engine, alice: dict[str, str], publish: Callable[..., Any]
) -> None:
    """A new version with its component's tags, hardware and text writes the version, one
    UPDATE of the component row (its revision, counts and display fields together) and the
    catalogue's stamp: no tag rows, hardware facts or terms are read or written. A version
    that changes its tags or hardware rewrites them, and a yank that makes an older version
    the latest again brings that version's back."""

    def stored() -> tuple[set[str], set[tuple[Any, ...]]]:
        with Session(engine) as session:
            tags = set(session.execute(sa.select(ComponentTag.tag)).scalars())
            variants = session.execute(
                sa.select(
                    ComponentVariant.variant,
                    ComponentVariant.accelerator_model,
                    ComponentVariant.memory_bytes,
                )
            ).all()
        return tags, {tuple(v) for v in variants}

    def gpu_names() -> list[str]:
        page = client.get("/api/v1/components", params={"hardware": "gpu"}).json()
        return [c["name"] for c in page["items"]]

    gib = 1024**3
    with_gpu = ({"xgboost", "classification"},
                {("cpu", None, 8 * gib), ("gpu", "nvidia-tesla-t4", 16 * gib)})  # fmt: skip
    assert publish("alice", alice, readme="alpha").status_code == 201
    assert stored() == with_gpu

    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(args[2])

    app_engine = app.state.hub.engine
    sa.event.listen(app_engine, "before_cursor_execute", record)
    assert publish("alice", alice, version="1.1.0", readme="alpha").status_code == 201
    sa.event.remove(app_engine, "before_cursor_execute", record)
    touched = [s for s in statements if any(t in s for t in ("component_tags",
               "component_variants", "search_terms"))]  # fmt: skip
    assert touched == []
    updates = [s for s in statements if s.lstrip().startswith("UPDATE components")]
    assert len(updates) == 1
    assert "revision" in updates[0]
    assert "latest_version" in updates[0]
    assert stored() == with_gpu
    assert client.get("/api/v1/components/alice/train").json()["latest_version"] == "1.1.0"

    cpu_only = {"default": "cpu", "variants": {"cpu": {"resources": {"cpu": "1", "memory": "2Gi"}}}}
    assert (
        publish(
            "alice", alice, version="1.2.0", readme="alpha", hardware=cpu_only,
            tags=["xgboost", "tabular"],
        ).status_code
        == 201
    )  # fmt: skip
    assert stored() == ({"xgboost", "tabular"}, {("cpu", None, 2 * gib)})
    assert gpu_names() == []
    for tag, found in (("tabular", ["train"]), ("classification", [])):
        page = client.get("/api/v1/components", params={"tag": tag}).json()
        assert [c["name"] for c in page["items"]] == found

    base = "/api/v1/components/alice/train/versions"
    assert client.post(f"{base}/1.2.0/yank", json={"reason": "x"}, headers=alice).status_code == 200
    assert stored() == with_gpu
    assert gpu_names() == ["train"]
