"""Pure pieces of the catalogue: tokenizer and index terms, memory quantities, the README
sanitizer against hostile input, snippets, and the little formatters."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest

from hub_server.schemas import ComponentPublic, Page, VersionPublic, VersionUrls
from hub_server.services import search
from hub_server.web import rendering, views
from hub_server.web.readme import render_readme
from hub_server.web.rendering import compact_number, human_bytes, human_date, plural
from tests.web.htmltree import parse

FORBIDDEN_TAGS = {
    "script", "iframe", "object", "embed", "form", "input", "button", "svg", "math", "style",
    "meta", "base", "link", "template", "noscript", "body",
}  # fmt: skip

# ----------------------------------------------------------------------------- search


def test_tokenize_folds_case_and_accents_and_drops_long_tokens() -> None:
    text = "Train-XGBoost: Données 2x faster! sha256:" + "a" * 64 + "aa"

    assert search.tokenize(text) == ["train", "xgboost", "donnees", "2x", "faster", "sha256"]


def test_query_words_are_distinct_and_bounded() -> None:
    assert search.query_words("Train train TRAIN model") == ["train", "model"]
    assert len(search.query_words(" ".join(f"w{i}" for i in range(20)))) == 8
    assert search.query_words("%%% ---") == []
    assert search.query_words(None) == []


def test_document_terms_keep_the_heaviest_field() -> None:
    terms = search.document_terms(
        namespace="ml",
        name="train-xgboost",
        description="Train a model",
        tags=["xgboost", "gbm"],
        readme="# Usage\n\nTrain the model; see gbm docs.",
    )

    assert terms["train"] == search.NAME_WEIGHT
    assert terms["xgboost"] == search.NAME_WEIGHT
    assert terms["gbm"] == search.TAG_WEIGHT
    assert terms["model"] == search.DESCRIPTION_WEIGHT
    assert terms["ml"] == search.NAMESPACE_WEIGHT
    assert terms["usage"] == search.README_WEIGHT


def test_readme_terms_are_capped() -> None:
    readme = " ".join(f"word{i}" for i in range(search.MAX_README_TERMS + 500))

    terms = search.document_terms(namespace="n", name="c", description="d", tags=[], readme=readme)

    assert len(terms) == search.MAX_README_TERMS + 3


@pytest.mark.parametrize(
    ("prefix", "successor"),
    [("abc", "abd"), ("az", "b"), ("a9", "aa"), ("9", "a"), ("zz", None), ("x0z", "x1")],
)
def test_prefix_successor(prefix: str, successor: str | None) -> None:
    assert search._successor(prefix) == successor


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [
        ("512Mi", 512 * 2**20),
        ("16Gi", 16 * 2**30),
        ("1.5Gi", 3 * 2**29),
        ("500M", 500_000_000),
        ("2k", 2000),
        ("1073741824", 2**30),
        ("1Ti", 2**40),
    ],
)
def test_memory_bytes(quantity: str, expected: int) -> None:
    assert search.memory_bytes(quantity) == expected


@pytest.mark.parametrize("quantity", ["", "lots", "16GB", "-1Gi", "1e9"])
def test_memory_bytes_refuses_non_quantities(quantity: str) -> None:
    with pytest.raises(ValueError, match="memory quantity"):
        search.memory_bytes(quantity)


def test_variant_facts() -> None:
    facts = search.variant_facts(
        {
            "default": "cpu",
            "variants": {
                "gpu": {
                    "resources": {"limits": {"memory": "4Gi"}},
                    "accelerator": {"type": "nvidia.com/gpu", "count": 2, "model": "l4"},
                },
                "cpu": {"resources": {"cpu": "1"}},
            },
        }
    )

    assert facts == [
        {
            "variant": "cpu",
            "accelerator_type": None,
            "accelerator_model": None,
            "accelerator_count": 0,
            "memory_bytes": 0,
        },
        {
            "variant": "gpu",
            "accelerator_type": "nvidia.com/gpu",
            "accelerator_model": "l4",
            "accelerator_count": 2,
            "memory_bytes": 4 * 2**30,
        },
    ]


# ----------------------------------------------------------------------------- README


@pytest.mark.parametrize(
    "payload",
    [
        "<script>alert(1)</script>",
        "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
        "[x](javascript:alert(1))",
        "[x](JAVASCRIPT:alert(1))",
        "[x](  javascript:alert(1))",
        '<a href="javascript:alert(1)">x</a>',
        '<a href="jav&#x09;ascript:alert(1)">x</a>',
        '<a href="&#106;&#97;vascript:alert(1)">x</a>',
        '<a href="data:text/html,<script>alert(1)</script>">x</a>',
        '<a href="vbscript:msgbox(1)">x</a>',
        "<img src=x onerror=alert(1)>",
        '<img src="x" ONERROR="alert(1)">',
        "![x](javascript:alert(1))",
        '<div onmouseover="alert(1)">x</div>',
        "<details open ontoggle=alert(1)><summary>s</summary></details>",
        "<svg onload=alert(1)>",
        "<svg><script>alert(1)</script></svg>",
        "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
        '<iframe src="javascript:alert(1)"></iframe>',
        "<iframe srcdoc='<script>alert(1)</script>'></iframe>",
        '<object data="javascript:alert(1)"></object>',
        '<embed src="javascript:alert(1)">',
        '<form action="javascript:alert(1)"><button>x</button></form>',
        '<input autofocus onfocus="alert(1)">',
        '<body onload="alert(1)">',
        '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
        '<base href="javascript:alert(1)//">',
        "<style>@import 'javascript:alert(1)';</style>",
        '<p style="background:url(javascript:alert(1))">x</p>',
        '<a href="https://ok.example/" onclick="alert(1)">x</a>',
        "<!--<script>alert(1)</script>-->",
        '<noscript><p title="</noscript><img src=x onerror=alert(1)>"></noscript>',
        '<template><img src=x onerror="alert(1)"></template>',
        '<link rel="import" href="https://evil.example/x.html">',
    ],
)
def test_render_readme_leaves_nothing_that_runs(payload: str) -> None:
    html = str(render_readme(f"# Title\n\n{payload}\n\ntext after\n"))
    elements = parse(html).iter()

    assert not {e.tag for e in elements} & FORBIDDEN_TAGS, html
    for element in elements:
        for name, value in element.attrs.items():
            assert not name.lower().startswith("on"), html
            assert name.lower() not in ("style", "srcdoc", "action", "formaction"), html
            assert not re.match(r"\s*(javascript|vbscript|data):", value or "", re.I), html
    if "<style>" not in payload or "</style>" in payload:  # an unclosed <style> eats the rest
        assert "text after" in html


def test_render_readme_keeps_ordinary_markdown() -> None:
    html = str(
        render_readme(
            "# Title\n\n## Section\n\nSome **bold** and `code`.\n\n"
            "```python\nprint('hi')\n```\n\n| a | b |\n|:-:|--:|\n| 1 | 2 |\n\n"
            "- one\n- two\n\n> quote\n\n[link](https://example.org) ![img](https://x.example/a.png)\n"
            "\n<details><summary>More</summary>hidden</details>\n\n~~gone~~\n"
        )
    )

    assert "<h2>Title</h2>" in html  # the page owns <h1>: README headings move down one
    assert "<h3>Section</h3>" in html
    assert "<strong>bold</strong>" in html
    assert "<code>code</code>" in html
    assert "<pre><code>print(&#x27;hi&#x27;)" in html or "<pre><code>print('hi')" in html
    assert '<th class="align-center">a</th>' in html
    assert '<td class="align-right">2</td>' in html
    assert '<a href="https://example.org" rel="nofollow noopener noreferrer">link</a>' in html
    assert '<img src="https://x.example/a.png" alt="img">' in html
    assert "<details><summary>More</summary>hidden</details>" in html
    assert "<s>gone</s>" in html
    assert "<blockquote>" in html


# ----------------------------------------------------------------------------- views


def _version(**overrides: Any) -> VersionPublic:
    fields: dict[str, Any] = {
        "version": "1.4.2",
        "digest": "sha256:" + "0" * 64,
        "size": 1,
        "prerelease": False,
        "yanked": False,
        "published_at": datetime(2026, 11, 23, tzinfo=UTC),
        "namespace": "ml",
        "name": "train-xgboost",
        "description": "",
        "category": "training",
        "tags": [],
        "license": "MIT",
        "authors": [],
        "manifest": {},
        "hardware": {"default": "cpu", "variants": {"cpu": {}, "gpu": {}}},
        "interface": {},
        "image": None,
        "image_pinned": False,
        "publisher": None,
        "urls": VersionUrls(archive="/a", component_yaml="/c"),
    }
    fields.update(overrides)
    return VersionPublic(**fields)


def test_snippets_use_a_caret_range_for_a_release() -> None:
    sdk, cli, kfp = views.usage_snippets("ml/train-xgboost", "train-xgboost", _version(), "U")

    assert 'train_xgboost = load_component("ml/train-xgboost@^1.4")' in sdk.code
    assert 'load_component("ml/train-xgboost@^1.4", hardware="gpu")' in sdk.code
    assert cli.code == "hub pull ml/train-xgboost@1.4.2"
    assert 'load_component_from_url(\n    "U"\n)' in kfp.code


@pytest.mark.parametrize(
    ("overrides", "note"),
    [
        ({"version": "2.0.0-rc.1", "prerelease": True}, "prerelease"),
        ({"yanked": True, "yanked_reason": "bad"}, "yanked"),
    ],
)
def test_snippets_name_prereleases_and_yanked_versions_exactly(
    overrides: dict[str, Any], note: str
) -> None:
    version = _version(**overrides)

    sdk, _, _ = views.usage_snippets("ml/x", "x", version, "U")

    assert f'load_component("ml/x@{version.version}")' in sdk.code
    assert note in sdk.note


@pytest.mark.parametrize(
    ("name", "identifier"), [("train-xgboost", "train_xgboost"), ("3d-plot", "component_3d_plot")]
)
def test_python_name(name: str, identifier: str) -> None:
    assert views.python_name(name) == identifier


def test_search_form_urls_reset_the_page_and_drop_empty_fields() -> None:
    form = views.SearchForm(q="gbm tree", tags=["a", "b"], hardware="gpu", page=3)

    assert form.url() == "/search?q=gbm+tree&tag=a&tag=b&hardware=gpu"
    assert form.url(page=4) == "/search?q=gbm+tree&tag=a&tag=b&hardware=gpu&page=4"
    assert form.url(q="", tags=[], hardware="") == "/search"
    assert [chip.label for chip in form.chips] == ["Tag: a", "Tag: b", "Hardware: Needs a GPU"]
    assert form.chips[0].remove_url == "/search?q=gbm+tree&tag=b&hardware=gpu"


def _page(
    total: int, page: int, per_page: int = 10, *, lower_bound: bool = False
) -> Page[ComponentPublic]:
    shown = max(0, min(per_page, total - (page - 1) * per_page))
    item = ComponentPublic(
        namespace="n",
        name="c",
        description="",
        category="other",
        tags=[],
        latest_version=None,
        versions_count=0,
        hardware_variants=[],
        has_gpu=False,
        forks_count=0,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        updated_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    return Page[ComponentPublic](
        items=[item] * shown,
        total=total,
        total_is_lower_bound=lower_bound,
        page=page,
        per_page=per_page,
    )


def test_pagination_window() -> None:
    pages = views.Pagination.of(_page(total=200, page=10), views.SearchForm(q="x"))

    numbers = [link.number for link in pages.links]
    assert numbers == [1, None, 8, 9, 10, 11, 12, None, 20]
    assert [link.current for link in pages.links].index(True) == 4
    assert pages.prev_url == "/search?q=x&page=9"
    assert pages.next_url == "/search?q=x&page=11"
    assert (pages.first_item, pages.last_item) == (91, 100)


def test_pagination_of_a_lower_bound_total_has_no_last_page_link() -> None:
    # "1,000+": page 50 of 20 is the last one known, not the last one there is.
    pages = views.Pagination.of(
        _page(total=1000, page=3, per_page=20, lower_bound=True), views.SearchForm(q="x")
    )

    assert [link.number for link in pages.links] == [1, 2, 3, 4, 5, None]
    assert pages.next_url == "/search?q=x&page=4"
    assert rendering.count_of(_page(1000, 1, lower_bound=True), "component") == (
        "1,000+ components"
    )
    assert rendering.count_of(_page(1, 1), "component") == "1 component"


def test_pagination_of_a_single_page() -> None:
    pages = views.Pagination.of(_page(total=3, page=1), views.SearchForm())

    assert pages.last == 1
    assert pages.prev_url is None
    assert pages.next_url is None


@pytest.mark.parametrize(
    ("size", "text"),
    [(0, "0 B"), (1536, "1.5 KiB"), (8 * 2**30, "8 GiB"), (None, ""), (2**60, "1024 PiB")],
)
def test_human_bytes(size: int | None, text: str) -> None:
    assert human_bytes(size) == text


def test_formatters() -> None:
    assert [compact_number(n) for n in (0, 999, 1000, 12_345, 2_500_000)] == [
        "0",
        "999",
        "1k",
        "12.3k",
        "2.5M",
    ]
    assert plural(1, "pull") == "1 pull"
    assert plural(1234, "pull") == "1,234 pulls"
    assert human_date(datetime(2026, 3, 5, tzinfo=UTC)) == "5 Mar 2026"


@pytest.mark.parametrize(
    ("q", "sort", "options"),
    [
        ("", "", [("", "Newest", True), ("pulls", "Most pulled", False), ("name", "Name", False)]),
        ("", "updated", [("", "Newest", True), ("pulls", "Most pulled", False),
                         ("name", "Name", False)]),
        ("gbm", "", [("", "Relevance", True), ("updated", "Newest", False),
                     ("pulls", "Most pulled", False), ("name", "Name", False)]),
        ("gbm", "pulls", [("", "Relevance", False), ("updated", "Newest", False),
                          ("pulls", "Most pulled", True), ("name", "Name", False)]),
        ("", "forks", [("", "Newest", False), ("pulls", "Most pulled", False),
                       ("name", "Name", False), ("forks", "Forks", True)]),
    ],
)  # fmt: skip
def test_sort_options_leave_the_default_out_of_the_url(
    q: str, sort: str, options: list[tuple[str, str, bool]]
) -> None:
    assert views.SearchForm(q=q, sort=sort).sort_options == options


def test_a_huge_readme_is_cut_and_still_sanitized() -> None:
    readme = "# Big\n\n" + "<img src=x onerror=alert(1)> word\n\n" * 40_000

    html = str(render_readme(readme))

    assert "onerror" not in html
    assert len(html) < 1_000_000
    assert "longer than the catalogue shows" in html
