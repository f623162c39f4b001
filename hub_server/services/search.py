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
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from hub_server.models import ComponentVariant, SearchTerm

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


def match_query(words: list[str]) -> sa.Subquery:
    """The components that contain every word (as a word or a word's prefix), with a score.

    Args:
        words: from :func:`query_words`; not empty.

    Returns:
        A subquery with columns ``component_id`` and ``score`` (higher is better).
    """
    term, weight = col(SearchTerm.term), col(SearchTerm.weight)
    component_id = col(SearchTerm.component_id)
    per_word: list[Any] = [
        sa.select(
            component_id.label("component_id"),
            sa.func.max(sa.case((term == word, weight * EXACT_BONUS), else_=weight)).label("score"),
        )
        .where(_word_condition(word))
        .group_by(component_id)
        for word in words
    ]
    if len(per_word) == 1:
        single: sa.Subquery = per_word[0].subquery("matches")
        return single
    hits = sa.union_all(*per_word).subquery("hits")
    return (
        sa.select(hits.c.component_id, sa.func.sum(hits.c.score).label("score"))
        .group_by(hits.c.component_id)
        .having(sa.func.count() == len(words))
        .subquery("matches")
    )


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


def reindex(
    session: Session,
    component_id: int,
    *,
    namespace: str,
    name: str,
    manifest: Mapping[str, Any],
    readme: str,
) -> None:
    """Replace a component's search terms and hardware facts with its latest version's.

    Runs inside the caller's transaction; the caller commits.
    """
    session.execute(sa.delete(SearchTerm).where(col(SearchTerm.component_id) == component_id))
    session.execute(
        sa.delete(ComponentVariant).where(col(ComponentVariant.component_id) == component_id)
    )
    terms = document_terms(
        namespace=namespace,
        name=name,
        description=str(manifest.get("description") or ""),
        tags=list(manifest.get("tags") or []),
        readme=readme,
    )
    if terms:
        session.execute(
            sa.insert(SearchTerm),
            [{"component_id": component_id, "term": t, "weight": w} for t, w in terms.items()],
        )
    variants = variant_facts(manifest.get("hardware") or {})
    if variants:
        session.execute(
            sa.insert(ComponentVariant), [{"component_id": component_id, **v} for v in variants]
        )
