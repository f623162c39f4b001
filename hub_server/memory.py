"""Give a worker's freed heap memory back to the operating system.

glibc's malloc keeps memory that Python has freed (the large buffers of a search over a big
index tier, SQLite's page buffers, the lists of a big listing) inside its heap for reuse, and
returns it to the system only from the heap's top. A worker that once answered a large search
keeps that peak as resident memory for its whole life. ``malloc_trim(0)`` releases every free
page of the heap (``madvise(MADV_DONTNEED)``), whatever its place; run every few seconds from a
thread of its own (ctypes releases the GIL for the call), it costs the worker nothing visible.
Elsewhere than glibc, :func:`trimmer` returns None and nothing runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import sys
from collections.abc import Callable

log = logging.getLogger("hub.memory")


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


class HeapTrimmer:
    """Trim the heap every ``interval`` seconds while the app runs (0: never)."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.trim = trimmer() if interval > 0 else None
        self.runs = 0
        self._task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        assert self.trim is not None
        while True:
            await asyncio.sleep(self.interval)
            await asyncio.to_thread(self.trim)
            self.runs += 1

    def start(self) -> None:
        if self.trim is not None and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self.run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
