"""What the pages show, shaped from the service's Public models: the search form as it lives
in the URL, pagination, and the component page's snippets and tables."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlencode

from markupsafe import Markup

from hub_server import semver
from hub_server.schemas import ComponentDetail, ComponentPublic, Page, VersionPublic
from hub_server.web.readme import render_readme
from hub_server.web.rendering import CATEGORY_LABELS

HARDWARE_LABELS = {"cpu": "CPU only", "gpu": "Needs a GPU"}
MEMORY_CHOICES = ("1Gi", "2Gi", "4Gi", "8Gi", "16Gi", "32Gi", "64Gi", "128Gi")
SORT_LABELS = {
    "relevance": "Relevance",
    "updated": "Newest",
    "pulls": "Most pulled",
    "name": "Name",
}


# ----------------------------------------------------------------------------- search


@dataclass(frozen=True)
class Chip:
    """An active filter, shown with a link that removes it."""

    label: str
    remove_url: str


@dataclass(frozen=True)
class SearchForm:
    """The search as it lives in the URL, so a search can be shared."""

    q: str = ""
    category: str = ""
    tags: list[str] = field(default_factory=list)
    namespace: str = ""
    hardware: str = ""
    accelerator: str = ""
    max_memory: str = ""
    sort: str = ""
    page: int = 1

    def params(self) -> list[tuple[str, str]]:
        pairs = [
            ("q", self.q),
            ("category", self.category),
            *(("tag", t) for t in self.tags),
            ("namespace", self.namespace),
            ("hardware", self.hardware),
            ("accelerator", self.accelerator),
            ("max_memory", self.max_memory),
            ("sort", self.sort),
            ("page", str(self.page) if self.page > 1 else ""),
        ]
        return [(k, v) for k, v in pairs if v]

    def url(self, **changes: Any) -> str:
        """This search with ``changes``; any change but the page starts again at page 1."""
        if "page" not in changes:
            changes["page"] = 1
        params = replace(self, **changes).params()
        return "/search?" + urlencode(params) if params else "/search"

    @property
    def sort_options(self) -> list[tuple[str, str, bool]]:
        """``(value, label, selected)`` for the sort menu.

        The default order has the empty value, so it is not written into the URL: a query
        typed on a page sorted by default is then ranked by relevance, not by date.
        """
        options = [("", "Relevance" if self.q else "Newest")]
        for value, label in SORT_LABELS.items():
            if value == "relevance" or (value == "updated" and not self.q):
                continue
            options.append((value, label))
        default = {"relevance"} if self.q else {"updated", "relevance"}
        selected = "" if self.sort in default else self.sort
        if selected not in {value for value, _ in options}:  # another API sort, kept
            options.append((selected, selected.capitalize()))
        return [(value, label, value == selected) for value, label in options]

    @property
    def memory_choices(self) -> list[str]:
        if self.max_memory and self.max_memory not in MEMORY_CHOICES:
            return [self.max_memory, *MEMORY_CHOICES]
        return list(MEMORY_CHOICES)

    @property
    def chips(self) -> list[Chip]:
        chips = []
        if self.category:
            label = CATEGORY_LABELS.get(self.category, self.category)
            chips.append(Chip(f"Category: {label}", self.url(category="")))
        for tag in self.tags:
            chips.append(Chip(f"Tag: {tag}", self.url(tags=[t for t in self.tags if t != tag])))
        if self.namespace:
            chips.append(Chip(f"Namespace: {self.namespace}", self.url(namespace="")))
        if self.hardware:
            label = HARDWARE_LABELS.get(self.hardware, self.hardware)
            chips.append(Chip(f"Hardware: {label}", self.url(hardware="")))
        if self.accelerator:
            chips.append(Chip(f"Accelerator: {self.accelerator}", self.url(accelerator="")))
        if self.max_memory:
            chips.append(Chip(f"Memory ≤ {self.max_memory}", self.url(max_memory="")))
        return chips

    @property
    def filtered(self) -> bool:
        return bool(self.chips)


@dataclass(frozen=True)
class PageLink:
    number: int | None  # None: an ellipsis
    url: str = ""
    current: bool = False


@dataclass(frozen=True)
class Pagination:
    page: int
    last: int
    """The last page known to exist (with ``total_is_lower_bound`` there may be more)."""
    total: int
    total_is_lower_bound: bool
    first_item: int
    last_item: int
    links: list[PageLink]
    prev_url: str | None
    next_url: str | None

    @classmethod
    def of(cls, results: Page[ComponentPublic], form: SearchForm) -> Pagination:
        return cls._build(results, lambda n: form.url(page=n))

    @classmethod
    def simple(cls, results: Page[ComponentPublic], base: str, param: str) -> Pagination:
        return cls._build(results, lambda n: f"{base}?{param}={n}" if n > 1 else base)

    @classmethod
    def _build(cls, results: Page[ComponentPublic], url: Any) -> Pagination:
        last = max(1, math.ceil(results.total / results.per_page))
        page = results.page
        # With a lower-bound total the real last page is unknown: no link to it, only the
        # pages around this one (and "Next" while there is a next).
        known_last = set() if results.total_is_lower_bound else {last}
        window = sorted({1, *known_last, *range(max(1, page - 2), min(last, page + 2) + 1)})
        links: list[PageLink] = []
        previous = 0
        for number in window:
            if number - previous > 1:
                links.append(PageLink(None))
            links.append(PageLink(number, url(number), number == page))
            previous = number
        if results.total_is_lower_bound:
            links.append(PageLink(None))  # more pages, how many is not counted
        first_item = (page - 1) * results.per_page + 1
        return cls(
            page=page,
            last=last,
            total=results.total,
            total_is_lower_bound=results.total_is_lower_bound,
            first_item=first_item,
            last_item=first_item + len(results.items) - 1,
            links=links,
            prev_url=url(page - 1) if 1 < page <= last else None,
            next_url=url(page + 1) if page < last else None,
        )


# ----------------------------------------------------------------------------- component


@dataclass(frozen=True)
class Snippet:
    id: str
    title: str
    code: str
    note: str = ""


@dataclass(frozen=True)
class VariantRow:
    name: str
    default: bool
    description: str
    cpu: str
    memory: str
    limits: str
    accelerator_type: str
    accelerator_model: str
    accelerator_count: int
    image: str
    image_is_default: bool
    arguments: str


@dataclass(frozen=True)
class InterfaceRow:
    name: str
    type: str
    default: str
    optional: bool
    description: str


@dataclass(frozen=True)
class ComponentPage:
    """The component page's derived content for the selected version."""

    ref: str
    readme: Markup
    snippets: list[Snippet]
    variants: list[VariantRow]
    inputs: list[InterfaceRow]
    outputs: list[InterfaceRow]
    raw_url: str

    @classmethod
    def build(
        cls,
        component: ComponentDetail,
        selected: VersionPublic | None,
        readme: str,
        base_url: str,
    ) -> ComponentPage:
        ref = f"{component.namespace}/{component.name}"
        if selected is None:
            return cls(ref, Markup(""), [], [], [], [], "")
        raw_url = base_url + selected.urls.component_yaml
        interface = selected.interface or {}
        return cls(
            ref=ref,
            readme=render_readme(readme),
            snippets=usage_snippets(ref, component.name, selected, raw_url),
            variants=variant_rows(selected),
            inputs=[_interface_row(item) for item in interface.get("inputs") or []],
            outputs=[_interface_row(item) for item in interface.get("outputs") or []],
            raw_url=raw_url,
        )


def python_name(name: str) -> str:
    """A Python identifier for a component name: ``train-xgboost`` → ``train_xgboost``."""
    identifier = re.sub(r"[^a-z0-9_]", "_", name.lower())
    return identifier if identifier[:1].isalpha() else f"component_{identifier}"


def usage_snippets(ref: str, name: str, selected: VersionPublic, raw_url: str) -> list[Snippet]:
    """The three ways to use the selected version, each ready to copy.

    The SDK snippet names a caret range (``^1.2``: compatible updates) for a normal release,
    and the exact version for a prerelease or a yanked one, which no range would select.
    """
    parsed = semver.Version.parse(selected.version)
    exact = selected.prerelease or selected.yanked
    spec = selected.version if exact else f"^{parsed.major}.{parsed.minor}"
    variable = python_name(name)
    sdk = f'from hub_cli import load_component\n\n{variable} = load_component("{ref}@{spec}")'
    variants = sorted((selected.hardware.get("variants") or {}).keys())
    default = selected.hardware.get("default")
    others = [v for v in variants if v != default]
    if others:
        sdk += (
            "\n# another hardware variant:\n"
            f'# load_component("{ref}@{spec}", hardware="{others[0]}")'
        )
    note = ""
    if selected.yanked:
        note = "This version is yanked: only its exact version loads it."
    elif selected.prerelease:
        note = "A prerelease: only its exact version (or a range naming it) selects it."
    return [
        Snippet("snippet-sdk", "Python (hub SDK)", sdk, note),
        Snippet("snippet-cli", "Command line", f"hub pull {ref}@{selected.version}"),
        Snippet(
            "snippet-kfp",
            "Plain KFP",
            "from kfp import components\n\n"
            f'{variable} = components.load_component_from_url(\n    "{raw_url}"\n)',
        ),
    ]


def variant_rows(selected: VersionPublic) -> list[VariantRow]:
    hardware = selected.hardware or {}
    default = hardware.get("default")
    rows = []
    for name, spec in sorted(
        (hardware.get("variants") or {}).items(), key=lambda item: (item[0] != default, item[0])
    ):
        spec = spec or {}
        resources = spec.get("resources") or {}
        limits = resources.get("limits") or {}
        accelerator = spec.get("accelerator") or {}
        rows.append(
            VariantRow(
                name=name,
                default=name == default,
                description=str(spec.get("description") or ""),
                cpu=str(resources.get("cpu") or ""),
                memory=str(resources.get("memory") or ""),
                limits=", ".join(f"{k} {v}" for k, v in limits.items() if v),
                accelerator_type=str(accelerator.get("type") or ""),
                accelerator_model=str(accelerator.get("model") or ""),
                accelerator_count=int(accelerator.get("count") or 0) if accelerator else 0,
                image=str(spec.get("image") or selected.image or ""),
                image_is_default=not spec.get("image"),
                arguments=", ".join(
                    f"{k}={json.dumps(v)}" for k, v in (spec.get("arguments") or {}).items()
                ),
            )
        )
    return rows


def _interface_row(item: dict[str, Any]) -> InterfaceRow:
    default = item.get("default")
    kind = str(item.get("type") or "")
    if kind in ("Integer", "int") and isinstance(default, float) and default.is_integer():
        default = int(default)  # KFP's IR keeps every number as a float
    return InterfaceRow(
        name=str(item.get("name") or ""),
        type=kind,
        default=""
        if default is None
        else (default if isinstance(default, str) else json.dumps(default)),
        optional=bool(item.get("optional")),
        description=str(item.get("description") or ""),
    )
