"""Every catalogue page through the real app (TestClient), on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from hub_server.web import pages
from tests.factories import pack_package
from tests.web.htmltree import Element, parse
from tests.web.seed import publish_hostile

XGB = "/components/library/train-xgboost"


def _page(client: TestClient, url: str, status: int = 200) -> Element:
    response = client.get(url)
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    return parse(response.text)


def _result_refs(doc: Element) -> list[str]:
    """``ns/name`` of each result card, in order."""
    refs = []
    for card in doc.find_all("li", class_="card"):
        href = card.find("a").attrs["href"] or ""
        refs.append(href.removeprefix("/components/"))
    return refs


def _section(doc: Element, heading_id: str) -> Element:
    return next(s for s in doc.find_all("section") if s.attrs.get("aria-labelledby") == heading_id)


# ----------------------------------------------------------------------------- home


def test_home_has_search_categories_recent_and_most_pulled(seeded: TestClient) -> None:
    doc = _page(seeded, "/")

    assert len(doc.find_all("h1")) == 1
    search = doc.find("form", role="search")
    assert search.attrs["action"] == "/search"
    assert search.find("input", name="q").attrs["type"] == "search"
    assert doc.find("p", class_="hero__stats").text == "7 components · 2 namespaces"
    categories = {a.attrs["href"]: a.text for a in _section(doc, "categories-title").find_all("a")}
    assert categories["/search?category=training"] == "Training 3 components"
    assert categories["/search?category=deployment"] == "Deployment 0 components"
    recent = _result_refs(_section(doc, "recent-title"))
    assert recent[0] == "vision/train-xgboost"  # the fork was made last
    popular = _result_refs(_section(doc, "popular-title"))
    assert popular[:2] == ["library/split-data", "library/train-xgboost"]  # 3 and 2 pulls


def test_home_of_an_empty_hub(client: TestClient) -> None:
    doc = _page(client, "/")

    assert "Nothing is published yet" in doc.text


# ----------------------------------------------------------------------------- search


def test_search_finds_words_that_only_the_readme_has(seeded: TestClient) -> None:
    doc = _page(seeded, "/search?q=confusion+matrix")

    assert _result_refs(doc) == ["library/evaluate-classifier"]
    assert doc.by_id("results-count").text == "1 component"


def test_search_matches_word_prefixes_and_ranks_by_relevance(seeded: TestClient) -> None:
    refs = _result_refs(_page(seeded, "/search?q=xgb"))

    # Same words in both; the original has the pulls.
    assert refs == ["library/train-xgboost", "vision/train-xgboost"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("category=evaluation", ["library/evaluate-classifier"]),
        ("tag=metrics", ["vision/plot-roc", "library/evaluate-classifier"]),
        ("tag=metrics&tag=plot", ["vision/plot-roc"]),
        ("namespace=vision", ["vision/train-xgboost", "vision/plot-roc", "vision/train-resnet"]),
        (
            "hardware=gpu",
            ["vision/train-xgboost", "vision/train-resnet", "library/train-xgboost"],
        ),
        (
            "hardware=cpu&namespace=library",
            [
                "library/evaluate-classifier",
                "library/train-xgboost",
                "library/split-data",
                "library/ingest-csv",
            ],
        ),
        ("accelerator=nvidia-tesla-a100", ["vision/train-resnet"]),
        ("accelerator=nvidia-tesla-t4", ["vision/train-xgboost", "library/train-xgboost"]),
        ("max_memory=1Gi", ["vision/plot-roc", "library/ingest-csv"]),
        # One variant must satisfy every hardware condition: the T4 variant asks 16Gi.
        ("hardware=gpu&max_memory=16Gi", ["vision/train-xgboost", "library/train-xgboost"]),
        ("hardware=gpu&max_memory=8Gi", []),
        (
            "q=train&hardware=gpu&sort=name",
            ["vision/train-resnet", "library/train-xgboost", "vision/train-xgboost"],
        ),
        (
            "q=classifier&category=training",
            ["library/train-xgboost", "vision/train-xgboost", "vision/train-resnet"],
        ),
    ],
)
def test_search_filters(seeded: TestClient, query: str, expected: list[str]) -> None:
    assert _result_refs(_page(seeded, f"/search?{query}")) == expected


@pytest.mark.parametrize(
    ("sort", "first"),
    [
        ("pulls", ["library/split-data", "library/train-xgboost"]),
        ("name", ["library/evaluate-classifier", "library/ingest-csv", "vision/plot-roc"]),
        ("updated", ["vision/train-xgboost", "vision/plot-roc"]),
    ],
)
def test_search_sorts(seeded: TestClient, sort: str, first: list[str]) -> None:
    refs = _result_refs(_page(seeded, f"/search?sort={sort}"))

    assert refs[: len(first)] == first
    assert len(refs) == 7


def test_catalogue_and_api_answer_the_same_query(seeded: TestClient) -> None:
    """One source of truth: the page lists exactly what GET /api/v1/components returns."""
    for query in ["q=train", "hardware=gpu&sort=pulls", "tag=classification", "max_memory=8Gi"]:
        api = seeded.get(f"/api/v1/components?{query}").json()["items"]
        assert _result_refs(_page(seeded, f"/search?{query}")) == [
            f"{c['namespace']}/{c['name']}" for c in api
        ]


def test_the_search_lives_in_the_url(seeded: TestClient) -> None:
    doc = _page(seeded, "/search?q=train&category=training&hardware=gpu&max_memory=16Gi")

    form = doc.by_id("search-form")
    assert form.attrs["method"] == "get"
    assert form.find("input", name="q").attrs["value"] == "train"
    assert "checked" in form.find("input", name="hardware", value="gpu").attrs
    assert "selected" in form.find("option", value="training").attrs
    assert "selected" in form.find("select", name="max_memory").find("option", value="16Gi").attrs
    chips = {
        a.text.removesuffix(" × (remove)"): a.attrs["href"]  # noqa: RUF001
        for a in doc.find_all("a", class_="chip")
    }
    assert chips == {
        "Category: Training": "/search?q=train&hardware=gpu&max_memory=16Gi",
        "Hardware: Needs a GPU": "/search?q=train&category=training&max_memory=16Gi",
        "Memory ≤ 16Gi": "/search?q=train&category=training&hardware=gpu",
    }


def test_pagination_keeps_the_filters(seeded: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pages, "SEARCH_PAGE_SIZE", 2)

    first = _page(seeded, "/search?hardware=cpu&sort=name")
    nav = first.find("nav", class_="pagination")
    second_url = nav.find("a", rel="next").attrs["href"]
    second = _page(seeded, second_url or "")
    last = _page(seeded, "/search?hardware=cpu&sort=name&page=3")

    assert second_url == "/search?hardware=cpu&sort=name&page=2"
    assert _result_refs(first) == ["library/evaluate-classifier", "library/ingest-csv"]
    assert _result_refs(second) == ["vision/plot-roc", "library/split-data"]
    assert second.find("a", rel="prev").attrs["href"] == "/search?hardware=cpu&sort=name"
    current = [a.text for a in second.find_all("a") if a.attrs.get("aria-current") == "page"]
    assert current == ["Page 2"]
    assert len(_result_refs(last)) == 2  # 6 CPU components: pages 1..3
    assert "showing 5–6" in last.by_id("results-count").text  # noqa: RUF001
    beyond = _page(seeded, "/search?hardware=cpu&page=9")
    assert _result_refs(beyond) == []
    assert "Go to the last page" in beyond.text


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("category=astrology", "unknown category 'astrology'"),
        ("hardware=tpu", "unknown hardware filter 'tpu'"),
        ("max_memory=lots", "'lots' is not a memory quantity"),
        ("sort=random", "unknown sort 'random'"),
        ("page=0", "page must be a whole number"),
        ("page=two", "page must be a whole number"),
        ("page=100000000000000000000", "page must be between 1 and 10,000"),  # was a 500
    ],
)
def test_a_bad_filter_is_an_html_400_page(seeded: TestClient, query: str, message: str) -> None:
    doc = _page(seeded, f"/search?{query}", status=400)

    assert message in doc.find("p", class_="error-page__message").text


def test_search_without_searchable_words_finds_nothing(seeded: TestClient) -> None:
    doc = _page(seeded, "/search?q=%25%25%25")

    assert _result_refs(doc) == []
    assert "Nothing matches this search" in doc.text


# ----------------------------------------------------------------------------- component


def test_component_page_shows_the_latest_release(seeded: TestClient) -> None:
    doc = _page(seeded, XGB)
    api = seeded.get("/api/v1/components/library/train-xgboost/versions/1.2.0").json()

    assert doc.find("h1").text == "library/train-xgboost"
    header = doc.find("header", class_="component-header")
    assert header.find("span", class_="version-tag").text == "1.2.0"  # not 2.0.0-rc.1
    assert "latest" in header.text
    # README, rendered and sanitized
    readme = doc.find("div", class_="markdown")
    assert readme.find("h2").text == "Train XGBoost"
    assert readme.find("table").find("td", class_="align-right") is not None
    assert (
        readme.find("a", href="https://xgboost.ai").attrs["rel"] == "nofollow noopener noreferrer"
    )
    # details of the selected version
    details = doc.find("dl", class_="details")
    assert api["digest"] in details.text
    assert "python:3.11-slim" in details.text
    assert "not pinned" in details.text
    assert "by admin" in details.text
    assert doc.find("time").attrs["datetime"]
    assert "2 pulls of 1.2.0" in details.text


def test_version_list_is_newest_first_with_marks(seeded: TestClient) -> None:
    doc = _page(seeded, XGB)

    items = doc.find("ol", class_="version-list").find_all("li")
    assert [li.find("a").text for li in items] == ["2.0.0-rc.1", "1.2.0", "1.1.0", "1.0.0"]
    assert "prerelease" in items[0].text
    assert "latest" in items[1].text
    assert items[1].find("a").attrs["aria-current"] == "page"
    assert "yanked" in items[2].text
    assert "Yanked: wrong default learning rate" in items[2].text
    assert "yanked" not in items[3].text


def test_interface_and_hardware_tables(seeded: TestClient) -> None:
    doc = _page(seeded, XGB)

    inputs, outputs, variants = doc.find_all("table", class_="data-table")
    rows = {tr.find("th").find("code").text: tr for tr in inputs.find("tbody").find_all("tr")}
    assert set(rows) == {"data", "epochs", "device"}
    device = [td.text for td in rows["device"].find_all("td")]
    assert device == ["String", "cpu", "cpu or cuda"]
    # KFP keeps an Integer's default as 10.0; the page shows it as the integer it is.
    assert [td.text for td in rows["epochs"].find_all("td")][:2] == ["Integer", "10"]
    assert "optional" in rows["device"].text
    assert "model" in outputs.text
    cpu, gpu = variants.find("tbody").find_all("tr")
    assert [td.text for td in cpu.find_all("td")][:3] == ["2", "8Gi", "none"]
    assert "default" in cpu.find("th").text
    gpu_cells = [td.text for td in gpu.find_all("td")]
    assert gpu_cells[0] == "4"
    assert gpu_cells[1] == "16Gi limits: memory 24Gi"
    assert gpu_cells[2] == "1 × nvidia.com/gpu nvidia-tesla-t4"  # noqa: RUF001
    assert gpu_cells[3] == "example.org/ml/train-xgboost:1.2.0-cuda12"
    assert 'sets device="cuda"' in gpu.find("th").text


def test_usage_snippets(seeded: TestClient) -> None:
    doc = _page(seeded, XGB)

    sdk = doc.by_id("snippet-sdk").text
    assert 'load_component("library/train-xgboost@^1.2")' in sdk
    assert 'hardware="gpu"' in sdk
    assert doc.by_id("snippet-cli").text == "hub pull library/train-xgboost@1.2.0"
    url = "http://testserver/api/v1/components/library/train-xgboost/versions/1.2.0/component.yaml"
    assert f'"{url}"' in doc.by_id("snippet-kfp").text
    # The URL in the snippet serves the raw spec, which plain kfp loads.
    assert seeded.get(url.removeprefix("http://testserver")).status_code == 200
    # Copy buttons are there for JavaScript to reveal; without it the code stays selectable.
    buttons = doc.find_all("button", class_="copy")
    assert [b.attrs["data-copy"] for b in buttons] == ["snippet-sdk", "snippet-cli", "snippet-kfp"]
    assert all("hidden" in b.attrs for b in buttons)


def test_a_yanked_version_page(seeded: TestClient) -> None:
    doc = _page(seeded, f"{XGB}/1.1.0")

    notice = doc.find("div", class_="notice--danger")
    assert "This version is yanked: wrong default learning rate" in notice.text
    assert notice.find("a").attrs["href"] == f"{XGB}/1.2.0"
    # No range selects a yanked version: the snippet names it exactly.
    assert 'load_component("library/train-xgboost@1.1.0")' in doc.by_id("snippet-sdk").text
    assert [li.text for li in doc.find("nav", class_="breadcrumbs").find_all("li")] == [
        "Home",
        "library",
        "train-xgboost",
        "1.1.0",
    ]


def test_a_prerelease_page(seeded: TestClient) -> None:
    doc = _page(seeded, f"{XGB}/2.0.0-rc.1")

    assert "prerelease" in doc.find("header", class_="component-header").text
    assert 'load_component("library/train-xgboost@2.0.0-rc.1")' in doc.by_id("snippet-sdk").text
    assert "The latest version is 1.2.0" in doc.find("div", class_="notice").text


def test_the_version_picker_works_without_javascript(seeded: TestClient) -> None:
    doc = _page(seeded, XGB)
    picker = doc.find("form", class_="version-picker")
    assert picker.attrs["action"] == XGB
    assert picker.attrs["method"] == "get"
    assert picker.find("select").attrs["name"] == "version"

    response = seeded.get(XGB, params={"version": "1.0.0"}, follow_redirects=False)

    assert response.status_code == 303
    assert response.headers["location"] == f"{XGB}/1.0.0"


def test_parent_and_forks(seeded: TestClient) -> None:
    parent = _page(seeded, XGB)
    fork = _page(seeded, "/components/vision/train-xgboost")

    lineage = _section(parent, "lineage-title")
    assert lineage.find("a").attrs["href"] == "/components/vision/train-xgboost"
    assert "1 fork" in lineage.text
    link = _section(fork, "lineage-title").find("a")
    assert link.text == "library/train-xgboost@1.2.0"
    assert link.attrs["href"] == f"{XGB}/1.2.0"
    assert "1 fork" in parent.find("header", class_="component-header").text


def test_image_pinned_by_digest(client: TestClient, admin: dict[str, str], tmp_path: Path) -> None:
    image = "example.org/ml/pinned@sha256:" + "a" * 64
    data = pack_package(tmp_path, name="pinned", image=image)
    response = client.post(
        "/api/v1/components/library/pinned/versions",
        files={"archive": ("p.tar.gz", data)},
        headers=admin,
    )
    assert response.status_code == 201, response.text

    details = _page(client, "/components/library/pinned").find("dl", class_="details")

    assert image in details.text
    assert "pinned by digest" in details.text


# ----------------------------------------------------------------------------- namespace


def test_namespace_page_lists_components_and_forks(seeded: TestClient) -> None:
    doc = _page(seeded, "/namespaces/vision")

    assert doc.find("h1").text == "vision"
    assert _result_refs(_section(doc, "components-title")) == [
        "vision/plot-roc",
        "vision/train-resnet",
    ]
    forks = _section(doc, "forks-title")
    assert _result_refs(forks) == ["vision/train-xgboost"]
    assert "Fork of library/train-xgboost" in forks.text
    assert "2 components and 1 fork" in doc.find("header", class_="namespace-header").text


# ----------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("url", "message", "query"),
    [
        ("/namespaces/nobody", "no namespace nobody", "nobody"),
        ("/components/library/nope", "no component library/nope", "nope"),
        (f"{XGB}/9.9.9", "library/train-xgboost has no version 9.9.9", "train-xgboost"),
        ("/components/nobody/x/1.0.0", "no component nobody/x", "x"),
        ("/no/such/page", "There is no page at /no/such/page.", ""),
        ("/components/library", "There is no page at /components/library.", ""),
    ],
)
def test_unknown_things_are_html_404_pages(
    seeded: TestClient, url: str, message: str, query: str
) -> None:
    doc = _page(seeded, url, status=404)

    assert doc.find("title").text == "Not found — Component Hub"
    assert doc.find("h1").text == "Not found"
    assert doc.find("p", class_="error-page__message").text == message
    assert doc.by_id("error-q").attrs["value"] == query


@pytest.mark.parametrize(
    ("url", "headers", "code"),
    [
        ("/api/v1/components/library/nope", {}, "component_not_found"),
        ("/api/v1/components/library/nope", {"Accept": "text/html"}, "component_not_found"),
        ("/api/v1/no/such/route", {}, None),
        ("/no/such/page", {"Accept": "application/json"}, None),
    ],
)
def test_the_api_keeps_json_errors(
    seeded: TestClient, url: str, headers: dict[str, str], code: str | None
) -> None:
    response = seeded.get(url, headers=headers)

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == (code or error["code"])
    assert error["message"]


# ----------------------------------------------------------------------------- safety


def test_a_hostile_readme_is_rendered_inert(
    client: TestClient, admin: dict[str, str], tmp_path: Path
) -> None:
    path = publish_hostile(client, admin, tmp_path)

    response = client.get(path)
    doc = parse(response.text)
    readme = doc.find("div", class_="markdown")

    assert response.status_code == 200
    lowered = response.text.lower()
    assert "<script>window" not in lowered
    assert "javascript:" not in lowered.replace("[a javascript link](javascript:", "")
    handlers = [
        (e.tag, name) for e in doc.iter() for name in e.attrs if name.lower().startswith("on")
    ]
    assert handlers == []
    for tag in ("script", "iframe", "object", "svg", "style", "form", "button", "embed"):
        assert readme.find_all(tag) == [], tag
    hrefs = [a.attrs.get("href") for a in readme.find_all("a")]
    assert hrefs == [None, None, None, "https://example.org/"]
    assert readme.find("img").attrs == {"src": "x"}
    assert "Some harmless text that must survive." in readme.text
    # The Markdown link with a javascript: URL is not a link at all, only text.
    assert "[a javascript link](javascript:" in readme.text


def test_pages_are_sent_with_a_strict_content_security_policy(seeded: TestClient) -> None:
    policy = seeded.get(XGB).headers["content-security-policy"]

    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "object-src 'none'" in policy
    assert "frame-ancestors 'none'" in policy


# ----------------------------------------------------------------------------- assets


def test_static_assets_are_content_addressed_and_cached(client: TestClient) -> None:
    doc = parse(client.get("/").text)
    css_url = doc.find("link", rel="stylesheet").attrs["href"] or ""
    js_url = next(s.attrs["src"] for s in doc.find_all("script") if s.attrs.get("src"))

    css = client.get(css_url)
    js = client.get(js_url or "")
    again = client.get(css_url, headers={"If-None-Match": css.headers["etag"]})
    plain = client.get("/static/catalogue.css")

    assert re.fullmatch(r"/static/catalogue\.[0-9a-f]{12}\.css", css_url)
    assert css.status_code == 200
    assert css.headers["content-type"] == "text/css; charset=utf-8"
    assert css.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert js.headers["content-type"].startswith("text/javascript")
    assert again.status_code == 304
    assert plain.headers["cache-control"] == "no-cache"
    assert plain.headers["etag"] == css.headers["etag"]
    assert client.get("/static/nope.css").status_code == 404


# ----------------------------------------------------------------------------- accessibility


@pytest.mark.parametrize(
    "url",
    ["/", "/search?q=train&hardware=gpu", XGB, "/namespaces/vision", "/components/x/y"],
)
def test_pages_have_landmarks_labels_and_one_heading(seeded: TestClient, url: str) -> None:
    response = seeded.get(url)
    doc = parse(response.text)

    assert doc.find("html").attrs["lang"] == "en"
    assert len(doc.find_all("h1")) == 1
    assert doc.find("main").attrs["id"] == "main"
    assert doc.find("a", class_="skip-link").attrs["href"] == "#main"
    assert doc.find("header", class_="site-header")
    assert doc.find("footer")
    for nav in doc.find_all("nav"):
        assert nav.attrs.get("aria-label"), nav.attrs
    labelled = {label.attrs.get("for") for label in doc.find_all("label")}
    for control in doc.find_all("input") + doc.find_all("select"):
        if control.attrs.get("type") in ("hidden", "submit"):
            continue
        inside_label = control.attrs.get("type") == "radio"  # wrapped in its <label>
        assert inside_label or control.attrs.get("id") in labelled, control.attrs
    for button in doc.find_all("button"):
        assert button.text, button.attrs


def test_links_carry_filter_values_url_encoded(
    client: TestClient, admin: dict[str, str], tmp_path: Path
) -> None:
    data = pack_package(tmp_path, name="cpp-tool", tags=["c++"])
    response = client.post(
        "/api/v1/components/library/cpp-tool/versions",
        files={"archive": ("c.tar.gz", data)},
        headers=admin,
    )
    assert response.status_code == 201, response.text

    link = _page(client, "/components/library/cpp-tool").find("a", class_="tag")

    assert link.attrs["href"] == "/search?tag=c%2B%2B"
    assert _result_refs(_page(client, link.attrs["href"] or "")) == ["library/cpp-tool"]
