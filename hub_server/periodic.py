"""Run a short blocking function every few seconds while the app runs."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any


class Periodic:
    """Call ``function`` in a thread every ``interval`` seconds, from :meth:`start` (on the
    app's event loop) until :meth:`stop`. An interval of 0 or less never starts."""

    def __init__(self, function: Callable[[], Any], interval: float) -> None:
        self.function = function
        self.interval = interval
        self.runs = 0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await asyncio.to_thread(self.function)
            self.runs += 1

    def start(self) -> None:
        if self.interval > 0 and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
