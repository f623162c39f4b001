"""Jinja2 templates, their filters, and the one function that turns a template into a page."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from hub_server.manifest import Category
from hub_server.web.assets import Assets

TEMPLATES_DIR = Path(__file__).parent / "templates"

# No inline script or style anywhere (README alignment is a class), so the policy can forbid
# both: a README that somehow slipped past the sanitizer still could not run anything.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' https: data:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    # Pages show live counts; browsers revalidate them (assets are cached, pages are cheap).
    "Cache-Control": "no-cache",
}

CATEGORY_LABELS = {
    Category.DATA_INGESTION.value: "Data ingestion",
    Category.DATA_SPLITTING.value: "Data splitting",
    Category.PREPROCESSING.value: "Preprocessing",
    Category.TRAINING.value: "Training",
    Category.EVALUATION.value: "Evaluation",
    Category.VISUALIZATION.value: "Visualization",
    Category.DEPLOYMENT.value: "Deployment",
    Category.OTHER.value: "Other",
}

_BINARY_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def human_bytes(size: int | None) -> str:
    """``8589934592`` → ``8 GiB``; ``1536`` → ``1.5 KiB``."""
    if size is None:
        return ""
    value = float(size)
    for unit in _BINARY_UNITS:
        if value < 1024 or unit == _BINARY_UNITS[-1]:
            text = f"{value:.1f}".removesuffix(".0")
            return f"{text} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def compact_number(count: int) -> str:
    """``950`` → ``950``; ``12345`` → ``12.3k``; ``2500000`` → ``2.5M``."""
    for threshold, suffix in ((1_000_000, "M"), (1_000, "k")):
        if count >= threshold:
            return f"{count / threshold:.1f}".removesuffix(".0") + suffix
    return str(count)


def human_date(moment: datetime | None) -> str:
    """``23 Nov 2026``."""
    return f"{moment.day} {moment:%b %Y}" if moment else ""


def iso(moment: datetime | None) -> str:
    return moment.isoformat() if moment else ""


def plural(count: int, word: str, words: str | None = None) -> str:
    """``1 pull``, ``2 pulls``."""
    return f"{count:,} {word if count == 1 else (words or word + 's')}"


def count_of(results: Any, word: str, words: str | None = None) -> str:
    """A listing's total: ``1 component``, ``20 components``, or ``1,000+ components`` when the
    hub reported a lower bound (too many matches to count cheaply)."""
    if not results.total_is_lower_bound:
        return plural(results.total, word, words)
    return f"{results.total:,}+ {words or word + 's'}"


def count_number(results: Any) -> str:
    """A listing's total as a bare number: ``20`` or ``1,000+``."""
    return f"{results.total:,}{'+' if results.total_is_lower_bound else ''}"


ASSETS = Assets()

environment = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
environment.globals.update(
    static_url=ASSETS.url,
    category_labels=CATEGORY_LABELS,
)
environment.filters.update(
    human_bytes=human_bytes,
    compact=compact_number,
    date=human_date,
    iso=iso,
    plural=plural,
    count_of=count_of,
    count_number=count_number,
    category_label=lambda value: CATEGORY_LABELS.get(value, value),
)


def render(template: str, *, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render ``template`` into an HTML response with the catalogue's security headers."""
    html = environment.get_template(template).render(**context)
    return HTMLResponse(html, status_code=status_code, headers=PAGE_HEADERS)
