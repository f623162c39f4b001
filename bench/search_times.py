"""Per-query search service time, in-process, on a seeded database (issue 6, search).

Runs ``ComponentService.list_components`` for every word of the bench's search list
(:func:`bench.run.search_words`), alone and with ``hardware=gpu``, a few times each, and prints
p50/p99/max and the slowest words: the spread matters here, since a few README words match
every component.

Usage::

    python -m bench.search_times --data-dir /tmp/hub [--database-url postgresql://...] [--rounds 3]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from pathlib import Path
from typing import Any

from sqlmodel import Session

from bench import run as suite
from hub_server.db import make_engine
from hub_server.services.components import ComponentService
from hub_server.settings import Settings
from hub_server.storage import open_storage


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--database-url")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--worst", type=int, default=8)
    parser.add_argument("--page", type=int, default=1)
    args = parser.parse_args()
    settings = Settings(data_dir=args.data_dir, database_url=args.database_url)
    engine = make_engine(settings.resolved_database_url)
    storage = open_storage(settings.resolved_storage_url)
    words = suite.search_words(random.Random(3))
    for label, extra in (("search", {}), ("search_gpu", {"hardware": "gpu"})):
        times: dict[str, list[float]] = {w: [] for w in words}
        totals: dict[str, Any] = {}
        for _round in range(args.rounds + 1):  # the first round warms the cache, untimed
            for word in words:
                with Session(engine) as session:
                    service = ComponentService(session, storage, settings.archive_limits)
                    start = time.perf_counter()
                    page = service.list_components(q=word, page=args.page, **extra)
                    elapsed = time.perf_counter() - start
                if _round:
                    times[word].append(elapsed * 1000)
                totals[word] = (page.total, getattr(page, "total_is_lower_bound", False))
        flat = [t for values in times.values() for t in values]
        print(
            f"{label} ({engine.dialect.name}, {len(words)} words x {args.rounds}, page "
            f"{args.page}): p50 {statistics.median(flat):.2f} ms, "
            f"p99 {_percentile(flat, 0.99):.2f} ms, max {max(flat):.2f} ms"
        )
        worst = sorted(words, key=lambda w: -statistics.median(times[w]))[: args.worst]
        for word in worst:
            total, bound = totals[word]
            print(
                f"  {word:<16} median {statistics.median(times[word]):8.2f} ms"
                f"  total {total}{'+' if bound else ''}"
            )
    engine.dispose()


if __name__ == "__main__":
    main()
