"""README rendering: Markdown to HTML that can never run script.

markdown-it-py renders CommonMark (with tables and strikethrough, raw HTML passed through, as
on GitHub); nh3 (ammonia) then keeps only an allow-list of tags, attributes and URL schemes.
Whatever a README contains — ``<script>``, ``javascript:`` links, ``onerror=`` and other event
handlers, ``<iframe>``, ``<style>``, SVG — what leaves here is inert. The pages also send a
Content-Security-Policy without ``unsafe-inline``, a second fence should the first ever fail.
"""

from __future__ import annotations

import functools

import nh3
from markdown_it import MarkdownIt
from markdown_it.token import Token
from markupsafe import Markup

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "details", "dl", "dt", "em",
    "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li", "mark", "ol", "p",
    "pre", "q", "s", "samp", "small", "span", "strong", "sub", "summary", "sup", "table",
    "tbody", "td", "tfoot", "th", "thead", "tr", "ul", "var", "wbr",
}  # fmt: skip
# Tags whose content goes too (the rest are unwrapped, keeping their text).
DROPPED_WITH_CONTENT = {"script", "style", "iframe", "object", "embed", "noscript", "template"}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "abbr": {"title"},
    "ol": {"start"},
    "th": {"scope", "colspan", "rowspan"},
    "td": {"colspan", "rowspan"},
    "details": {"open"},
}
ALIGN_CLASSES = {"align-left", "align-center", "align-right"}
URL_SCHEMES = {"http", "https", "mailto"}

_markdown = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


def _adjust(tokens: list[Token]) -> None:
    """Fit the README into the page: its headings start at ``h2`` (the page has the ``h1``),
    and table alignment is a class rather than a ``style`` attribute (no inline styles: the
    CSP forbids them)."""
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            level = min(int(token.tag[1]) + 1, 6)
            token.tag = f"h{level}"
        elif token.type in ("th_open", "td_open"):
            style = str(token.attrs.pop("style", ""))
            if style.startswith("text-align:"):
                token.attrSet("class", "align-" + style.removeprefix("text-align:"))


# A README longer than this is shown up to here (archives may hold 10 MB files; a page
# should not render that much on every view).
MAX_RENDERED_CHARS = 300_000
# Only READMEs up to this size are cached, so the cache holds at most ~256 x 2 x 64 KB.
MAX_CACHED_CHARS = 64_000


def render_readme(markdown: str) -> Markup:
    """Render a README to sanitized HTML.

    Args:
        markdown: the README as published.

    Returns:
        HTML safe to insert into a page as is; a README over 300,000 characters is cut there,
        with a note saying so.
    """
    if len(markdown) <= MAX_CACHED_CHARS:
        return _render_cached(markdown)
    html = _render(markdown[:MAX_RENDERED_CHARS])
    if len(markdown) > MAX_RENDERED_CHARS:
        html += Markup(
            '<p class="readme-truncated"><em>The README is longer than the catalogue shows; '
            "the whole file is in the archive.</em></p>"
        )
    return html


@functools.lru_cache(maxsize=256)
def _render_cached(markdown: str) -> Markup:
    # Keyed by content: a version's README never changes, so nothing needs invalidating.
    return _render(markdown)


def _render(markdown: str) -> Markup:
    env: dict[str, object] = {}
    tokens = _markdown.parse(markdown, env)
    _adjust(tokens)
    html = _markdown.renderer.render(tokens, _markdown.options, env)
    return Markup(sanitize(html))  # noqa: S704 - sanitized just now


def sanitize(html: str) -> str:
    """Keep only inert HTML: allow-listed tags, attributes and URL schemes, no handlers."""
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        clean_content_tags=DROPPED_WITH_CONTENT,
        attributes=ALLOWED_ATTRIBUTES,
        allowed_classes={"th": ALIGN_CLASSES, "td": ALIGN_CLASSES},
        url_schemes=URL_SCHEMES,
        link_rel="nofollow noopener noreferrer",
        strip_comments=True,
    )
