"""Counting how many calls of a function run at once (for the per-worker gates' tests)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio.to_thread
import httpx

from hub_server.deps import FairGate


class MostAtOnce:
    """Wraps ``function``: each call first holds for ``hold`` seconds, and ``most`` is the
    largest number of calls that were running at the same time."""

    def __init__(self, function: Callable[..., Any], hold: float = 0.1) -> None:
        self.function = function
        self.hold = hold
        self.running = 0
        self.most = 0
        self._lock = threading.Lock()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            self.running += 1
            self.most = max(self.most, self.running)
        time.sleep(self.hold)
        with self._lock:
            self.running -= 1
        return self.function(*args, **kwargs)


def threads_held_while_queued(
    app: Any,
    gate: FairGate,
    slots: int,
    send: Callable[[httpx.AsyncClient], Awaitable[httpx.Response]],
    count: int,
) -> tuple[list[int], int]:
    """Hold every slot of ``gate``, send ``count`` requests to ``app`` with ``send`` and wait
    until all of them queue at the gate; then let them in. Returns their status codes and how
    many threads of the app's pool were taken while they queued."""

    async def scenario() -> tuple[list[int], int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hub") as hub:
            for _ in range(slots):
                gate.__enter__()
            sent = [asyncio.ensure_future(send(hub)) for _ in range(count)]
            deadline = time.monotonic() + 10
            while gate.waiting < count:
                assert time.monotonic() < deadline, f"{gate.waiting} of {count} queued"
                await asyncio.sleep(0.005)
            taken = anyio.to_thread.current_default_thread_limiter().borrowed_tokens
            for _ in range(slots):
                gate.__exit__(None, None, None)
            answers = await asyncio.gather(*sent)
            return [answer.status_code for answer in answers], int(taken)

    return asyncio.run(scenario())
