"""A tiny HTML tree (stdlib ``html.parser``) so page tests can ask structural questions:
which links a list holds, what a table's cells say, whether an attribute exists anywhere."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

VOID = {
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
    "track", "wbr",
}  # fmt: skip
BLOCK = {
    "address", "article", "aside", "blockquote", "br", "dd", "details", "div", "dl", "dt",
    "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav",
    "ol", "p", "pre", "section", "summary", "table", "tbody", "td", "th", "thead", "tr", "ul",
}  # fmt: skip


@dataclass
class Element:
    tag: str
    attrs: dict[str, str | None] = field(default_factory=dict)
    children: list[Element | str] = field(default_factory=list)

    @property
    def text(self) -> str:
        """All text inside as a browser would lay it out in one line, whitespace collapsed."""
        parts: list[str] = []

        def walk(node: Element) -> None:
            for child in node.children:
                if isinstance(child, str):
                    parts.append(child)
                    continue
                block = child.tag in BLOCK
                if block:
                    parts.append(" ")
                walk(child)
                if block:
                    parts.append(" ")

        walk(self)
        return " ".join("".join(parts).split())

    def iter(self) -> list[Element]:
        found: list[Element] = []
        for child in self.children:
            if isinstance(child, Element):
                found.append(child)
                found.extend(child.iter())
        return found

    def find_all(self, tag: str | None = None, **attrs: str) -> list[Element]:
        """Descendants with this tag whose attributes equal ``attrs`` (``class_`` matches one
        class among several; ``_`` in a name stands for ``-``)."""
        wanted = {k.rstrip("_").replace("_", "-"): v for k, v in attrs.items()}
        matches = []
        for element in self.iter():
            if tag is not None and element.tag != tag:
                continue
            ok = True
            for key, value in wanted.items():
                actual = element.attrs.get(key)
                if key == "class":
                    ok = ok and value in (actual or "").split()
                else:
                    ok = ok and actual == value
            if ok:
                matches.append(element)
        return matches

    def find(self, tag: str | None = None, **attrs: str) -> Element:
        matches = self.find_all(tag, **attrs)
        assert matches, f"no <{tag}> with {attrs}"
        return matches[0]

    def by_id(self, element_id: str) -> Element:
        return self.find(None, id=element_id)


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document")
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, dict(attrs))
        self.stack[-1].children.append(element)
        if tag not in VOID:
            self.stack.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].children.append(Element(tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        for index in range(len(self.stack) - 1, 0, -1):
            if self.stack[index].tag == tag:
                del self.stack[index:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def parse(html: str) -> Element:
    builder = _TreeBuilder()
    builder.feed(html)
    builder.close()
    return builder.root
