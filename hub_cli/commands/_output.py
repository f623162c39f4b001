"""How commands print: rich tables for people on stdout, JSON for scripts, notes on stderr."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table


def console() -> Console:
    """A console on the current stdout (looked up at each call: tests swap streams)."""
    from rich.console import Console

    return Console(file=sys.stdout, highlight=False)


def stderr_console() -> Console:
    """A console on the current stderr, for progress bars."""
    from rich.console import Console

    return Console(file=sys.stderr, highlight=False)


def table(*columns: str, title: str | None = None) -> Table:
    """A table in the CLI's style with the given column headers."""
    from rich import box
    from rich.table import Table

    result = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left", pad_edge=False)
    for column in columns:
        result.add_column(column, overflow="fold")
    return result


def print_json(data: Any) -> None:
    """Print JSON to stdout (indented; datetimes and paths as text)."""
    sys.stdout.write(json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n")


def say(message: str) -> None:
    """Print a line for people to stdout, as it is."""
    sys.stdout.write(message.rstrip("\n") + "\n")


def note(message: str) -> None:
    """Print a side note (progress, hints) to stderr, so stdout stays clean for pipes."""
    sys.stderr.write(message.rstrip("\n") + "\n")


def warn(message: str) -> None:
    """Print a warning line to stderr."""
    note(f"warning: {message}")


def one_line(text: str) -> str:
    """Collapse whitespace, so an error is always exactly one line."""
    return " ".join(str(text).split())


def short_digest(digest: str) -> str:
    """``sha256:0123456789ab`` (the first 12 hex digits) for tables."""
    return digest[: len("sha256:") + 12]


def human_size(size: int) -> str:
    """``12.3 kB``-style sizes."""
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")  # pragma: no cover
