"""Reading through the real app: list/search, component, versions, resolve, downloads."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import anyio.to_thread
import httpx
import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from hub_server.api import routes
from hub_server.archive import pack, unpack
from tests.factories import make_package

Publish = Callable[..., httpx.Response]
API = "/api/v1/components"


def _ok(response: httpx.Response) -> httpx.Response:
    assert response.status_code == 201, response.text
    return response


@pytest.fixture
def catalogue(client: TestClient, alice: dict[str, str], bob: dict[str, str], publish: Publish):
    """A few components across namespaces, categories, tags and hardware."""
    cpu_only = {"default": "cpu", "variants": {"cpu": {"resources": {"cpu": "1"}}}}
    _ok(publish("alice", alice, name="train-xgboost", tags=["xgboost", "gbm"]))
    _ok(
        publish(
            "alice",
            alice,
            name="split-data",
            category="data-splitting",
            tags=["split"],
            description="Split a data set into train and test",
            hardware=cpu_only,
        )
    )
    _ok(
        publish(
            "bob",
            bob,
            name="evaluate",
            category="evaluation",
            tags=["metrics"],
            description="Evaluate a classifier",
            hardware=cpu_only,
        )
    )
    _ok(
        publish(
            "bob",
            bob,
            name="plot-roc",
            category="visualization",
            tags=["metrics", "plot"],
            description="ROC curves",
            hardware=cpu_only,
        )
    )
    return client


def _names(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [f"{c['namespace']}/{c['name']}" for c in response.json()["items"]]


def test_list_is_newest_first_with_total(catalogue: TestClient) -> None:
    response = catalogue.get(API)

    assert _names(response) == [
        "bob/plot-roc",
        "bob/evaluate",
        "alice/split-data",
        "alice/train-xgboost",
    ]
    assert response.json()["total"] == 4


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"q": "xgboost"}, ["alice/train-xgboost"]),
        ({"q": "SPLIT test"}, ["alice/split-data"]),  # every word, case-insensitive
        ({"q": "metrics"}, ["bob/plot-roc", "bob/evaluate"]),  # tags are searched
        ({"q": "nothing-like-this"}, []),
        ({"q": "100%"}, []),  # LIKE wildcards are escaped
        ({"namespace": "alice"}, ["alice/split-data", "alice/train-xgboost"]),
        ({"category": "evaluation"}, ["bob/evaluate"]),
        ({"tag": "metrics"}, ["bob/plot-roc", "bob/evaluate"]),
        ({"tag": ["metrics", "plot"]}, ["bob/plot-roc"]),
        ({"hardware": "gpu"}, ["alice/train-xgboost"]),
        (
            {"hardware": "cpu"},
            ["bob/plot-roc", "bob/evaluate", "alice/split-data", "alice/train-xgboost"],
        ),
        ({"hardware": "gpu", "namespace": "bob"}, []),
        (
            {"sort": "name"},
            ["bob/evaluate", "bob/plot-roc", "alice/split-data", "alice/train-xgboost"],
        ),
    ],
)
def test_search_filters(
    catalogue: TestClient, params: dict[str, object], expected: list[str]
) -> None:
    assert _names(catalogue.get(API, params=params)) == expected  # type: ignore[arg-type]


def test_relevance_puts_a_name_match_first(catalogue: TestClient) -> None:
    assert _names(catalogue.get(API, params={"q": "evaluate"}))[0] == "bob/evaluate"


def test_pagination(catalogue: TestClient) -> None:
    first = catalogue.get(API, params={"per_page": 3, "page": 1}).json()
    second = catalogue.get(API, params={"per_page": 3, "page": 2}).json()

    assert len(first["items"]) == 3
    assert len(second["items"]) == 1
    assert first["total"] == second["total"] == 4
    names = {c["name"] for c in first["items"]} | {c["name"] for c in second["items"]}
    assert len(names) == 4


@pytest.mark.parametrize(
    "params",
    [
        {"category": "astrology"},
        {"hardware": "tpu"},
        {"sort": "random"},
        {"page": 0},
        {"per_page": 1000},
        {"page": 10_001},
        {"page": 10**20},  # past the database's integers: was a 500
    ],
)
def test_bad_list_parameters_are_400(catalogue: TestClient, params: dict[str, object]) -> None:
    response = catalogue.get(API, params=params)  # type: ignore[arg-type]

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"


def test_non_integer_page_is_a_validation_error(catalogue: TestClient) -> None:
    response = catalogue.get(API, params={"page": "two"})

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"


def test_a_search_takes_one_trip_to_the_thread_pool(
    catalogue: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The search runs in the pool (it can take long; the event loop serves resolves meanwhile),
    in one trip that also writes its JSON: a sync route returning the page took a second trip
    for FastAPI to check it against the response model."""
    trips: list[object] = []
    run_sync = anyio.to_thread.run_sync

    async def counted(function: Callable[..., object], *args: object, **kwargs: object) -> object:
        trips.append(function)
        return await run_sync(function, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counted)
    response = catalogue.get(API, params={"q": "xgboost"}, headers={"Cache-Control": "no-cache"})

    assert _names(response) == ["alice/train-xgboost"]
    assert len(trips) == 1


def test_the_search_route_has_no_dependencies_nor_parameters_for_fastapi_to_solve() -> None:
    """The busiest uncached read reads its query itself, in one call (FastAPI's reading of a
    query model inspected each field's annotation on every request: a tenth of a worker's GIL
    time under uncached searches); its OpenAPI parameters are declared for it (see
    ``test_openapi_documents_each_search_parameter``)."""
    route = next(
        r
        for r in routes.router.routes
        if isinstance(r, APIRoute) and r.path == API and "GET" in r.methods
    )

    assert route.dependant.dependencies == []
    assert route.dependant.query_params == []


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ("q=split&q=xgboost", ["alice/train-xgboost"]),  # a single-valued field: the last value
        ("tag=xgboost&tag=gbm", ["alice/train-xgboost"]),  # a list field: every value
        ("tag=xgboost&tag=split", []),
        ("q=xgboost&colour=blue", ["alice/train-xgboost"]),  # names it does not have: ignored
    ],
)
def test_the_search_query_is_read_as_fastapi_reads_one(
    catalogue: TestClient, query: str, names: list[str]
) -> None:
    assert _names(catalogue.get(f"{API}?{query}")) == names


@pytest.mark.parametrize(
    ("query", "field"),
    [("page=two", "query.page"), ("page=", "query.page"), ("fork=maybe", "query.fork")],
)
def test_a_bad_search_value_names_its_query_field(
    catalogue: TestClient, query: str, field: str
) -> None:
    body = catalogue.get(f"{API}?{query}").json()["error"]

    assert body["code"] == "validation_error"
    assert body["detail"]["errors"][0]["field"] == field


def test_component_detail(catalogue: TestClient) -> None:
    body = catalogue.get(f"{API}/alice/train-xgboost").json()

    assert body["latest_version"] == "1.0.0"
    assert body["hardware_variants"] == ["cpu", "gpu"]
    assert body["has_gpu"] is True
    assert body["forks_count"] == 0
    assert body["parent"] is None
    assert body["latest"]["interface"]["inputs"]


@pytest.mark.parametrize(
    ("path", "code"),
    [
        (f"{API}/alice/nope", "component_not_found"),
        (f"{API}/nobody/nope/versions", "component_not_found"),
        (f"{API}/alice/train-xgboost/versions/9.9.9", "version_not_found"),
        (f"{API}/alice/train-xgboost/versions/9.9.9/archive", "version_not_found"),
        (f"{API}/alice/train-xgboost/versions/9.9.9/component.yaml", "version_not_found"),
        (f"{API}/alice/nope/versions/1.0.0/archive", "component_not_found"),
        ("/api/v1/no/such/route", "no_route"),
    ],
)
def test_unknown_things_are_404_with_a_json_error(
    catalogue: TestClient, path: str, code: str
) -> None:
    response = catalogue.get(path)

    assert response.status_code == 404
    assert response.json()["error"]["code"] == code


def test_wrong_method_is_405_json(catalogue: TestClient) -> None:
    response = catalogue.put(f"{API}/alice/train-xgboost")

    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


# ----------------------------------------------------------------------------- versions


@pytest.fixture
def versions(client: TestClient, alice: dict[str, str], publish: Publish) -> TestClient:
    for version in [
        "1.0.0",
        "1.2.0",
        "1.2.3",
        "1.10.0",
        "2.0.0-beta.1",
        "2.0.0-beta.10",
        "0.9.0",
        "2.0.0-alpha",
    ]:
        _ok(publish("alice", alice, version=version))
    return client


def test_versions_are_listed_by_precedence_newest_first(versions: TestClient) -> None:
    listed = [v["version"] for v in versions.get(f"{API}/alice/train/versions").json()]

    assert listed == [
        "2.0.0-beta.10",
        "2.0.0-beta.1",
        "2.0.0-alpha",
        "1.10.0",
        "1.2.3",
        "1.2.0",
        "1.0.0",
        "0.9.0",
    ]


def test_one_version(versions: TestClient) -> None:
    body = versions.get(f"{API}/alice/train/versions/2.0.0-beta.1").json()

    assert body["version"] == "2.0.0-beta.1"
    assert body["prerelease"] is True
    assert body["manifest"]["version"] == "2.0.0-beta.1"


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("", "1.10.0"),
        ("^1.2", "1.10.0"),
        ("~1.2", "1.2.3"),
        ("1.2.x", "1.2.3"),
        ("1.2.0", "1.2.0"),
        ("<1.0.0", "0.9.0"),
        ("1.0.0 - 1.2.0", "1.2.0"),
        (">=1.2.3 <1.10.0 || 0.x", "1.2.3"),
        ("*", "1.10.0"),
        ("^2.0.0-beta.1", "2.0.0-beta.10"),  # a prerelease range admits its own prereleases
        ("^2.0.0-alpha", "2.0.0-beta.10"),
        (">=2.0.0-beta.2 <2.0.0-beta.5", None),
        ("^2", None),  # prereleases excluded unless named
        ("2.0.0-beta.1", "2.0.0-beta.1"),
    ],
)
def test_resolve_follows_npm(versions: TestClient, spec: str, expected: str | None) -> None:
    response = versions.get(f"{API}/alice/train/resolve", params={"spec": spec})

    if expected is None:
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "no_matching_version"
    else:
        assert response.status_code == 200, response.text
        assert response.json()["version"] == expected


def test_resolve_without_spec_parameter(versions: TestClient) -> None:
    assert versions.get(f"{API}/alice/train/resolve").json()["version"] == "1.10.0"


@pytest.mark.parametrize("spec", ["^^1 garbage", "1.x.3", ">=" * 200 + "1"])
def test_invalid_range_is_400(versions: TestClient, spec: str) -> None:
    response = versions.get(f"{API}/alice/train/resolve", params={"spec": spec})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_range"
    assert response.json()["error"]["message"].startswith(("invalid range", "a version range"))


def test_resolve_by_digest(versions: TestClient) -> None:
    wanted = versions.get(f"{API}/alice/train/versions/1.2.0").json()

    response = versions.get(f"{API}/alice/train/resolve", params={"spec": wanted["digest"]})

    assert response.json()["version"] == "1.2.0"
    other = "sha256:" + "0" * 64
    missing = versions.get(f"{API}/alice/train/resolve", params={"spec": other})
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "no_matching_version"


def test_resolve_unknown_component(versions: TestClient) -> None:
    response = versions.get(f"{API}/alice/nope/resolve", params={"spec": "^1"})

    assert response.json()["error"]["code"] == "component_not_found"


# ----------------------------------------------------------------------------- downloads


def test_archive_download_is_the_published_bytes_with_immutable_caching(
    client: TestClient, alice: dict[str, str], tmp_path: Path
) -> None:
    data = pack(make_package(tmp_path))
    published = client.post(
        f"{API}/alice/train/versions", files={"archive": ("a.tar.gz", data)}, headers=alice
    ).json()

    response = client.get(f"{API}/alice/train/versions/1.0.0/archive")

    assert response.status_code == 200
    assert response.content == data
    assert "sha256:" + hashlib.sha256(response.content).hexdigest() == published["digest"]
    assert response.headers["etag"] == f'"{published["digest"]}"'
    assert "immutable" in response.headers["cache-control"]
    assert response.headers["content-type"] == "application/gzip"
    assert "train-1.0.0.tar.gz" in response.headers["content-disposition"]
    assert set(unpack(response.content)) >= {"hub.yaml", "component.yaml", "README.md"}


def test_archive_304_on_if_none_match(versions: TestClient) -> None:
    url = f"{API}/alice/train/versions/1.2.0/archive"
    etag = versions.get(url).headers["etag"]

    cached = versions.get(url, headers={"If-None-Match": etag})
    other = versions.get(url, headers={"If-None-Match": '"sha256:' + "0" * 64 + '"'})

    assert cached.status_code == 304
    assert cached.content == b""
    assert cached.headers["etag"] == etag
    assert other.status_code == 200


def test_component_yaml_is_the_raw_spec(
    client: TestClient, alice: dict[str, str], tmp_path: Path, publish: Publish
) -> None:
    folder = make_package(tmp_path)
    _ok(publish("alice", alice))

    response = client.get(f"{API}/alice/train/versions/1.0.0/component.yaml")

    assert response.status_code == 200
    assert response.text == (folder / "component.yaml").read_text()
    assert response.headers["content-type"].startswith("application/yaml")
    assert "immutable" in response.headers["cache-control"]
    again = client.get(
        f"{API}/alice/train/versions/1.0.0/component.yaml",
        headers={"If-None-Match": response.headers["etag"]},
    )
    assert again.status_code == 304
