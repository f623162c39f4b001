"""Counting how many calls of a function run at once (for the per-worker gates' tests)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any


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
