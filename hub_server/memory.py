"""Give a worker's freed heap memory back to the operating system.

glibc's malloc keeps memory that Python has freed (the large buffers of a search over a big
index tier, SQLite's page buffers, the lists of a big listing) inside its heap for reuse, and
returns it to the system only from the heap's top. A worker that once answered a large search
keeps that peak as resident memory for its whole life. ``malloc_trim(0)`` releases every free
page of the heap (``madvise(MADV_DONTNEED)``), whatever its place; it runs every few seconds
from a thread of its own (ctypes releases the GIL for the call). Measured with two workers at
100k components after the bench's uncached searches: 268 MiB without, 252 MiB with (most of a
worker's growth was SQLite's prepared statements, see ``hub_server.db``). Elsewhere than glibc,
:func:`trimmer` returns None and nothing runs.
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Callable

from hub_server.periodic import Periodic


def trimmer() -> Callable[[], int] | None:
    """glibc's ``malloc_trim(0)``, or None where there is no such function."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        trim = ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc (musl)
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return lambda: int(trim(0))


class HeapTrimmer(Periodic):
    """Trim the heap every ``interval`` seconds while the app runs (0: never)."""

    def __init__(self, interval: float) -> None:
        trim = trimmer() if interval > 0 else None
        super().__init__(trim or (lambda: 0), interval if trim else 0)
