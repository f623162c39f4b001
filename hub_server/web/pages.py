"""The catalogue's pages (DESIGN §3 "Catalogue pages").

Like the API's routes these only parse, ask :class:`ComponentService` (the very queries the
API answers with) and render; what a page shows is shaped in :mod:`hub_server.web.views`.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import RedirectResponse

from hub_server.deps import ReadComponentsDep
from hub_server.errors import BadRequest
from hub_server.web import views
from hub_server.web.rendering import ASSETS, render

router = APIRouter(include_in_schema=False)

SEARCH_PAGE_SIZE = 20
HOME_LIST_SIZE = 6
NAMESPACE_PAGE_SIZE = 30


def _page_number(raw: str | None, field: str = "page") -> int:
    if raw is None or raw == "":
        return 1
    if not raw.isdigit() or int(raw) < 1:
        raise BadRequest(f"{field} must be a whole number from 1 up", field=field)
    return int(raw)


@router.get("/")
def home(request: Request, components: ReadComponentsDep) -> Response:
    return render(
        "home.html",
        request=request,
        facets=components.facets(),
        recent=components.list_components(sort="updated", per_page=HOME_LIST_SIZE).items,
        popular=components.list_components(sort="pulls", per_page=HOME_LIST_SIZE).items,
    )


@router.get("/search")
def search(
    request: Request,
    components: ReadComponentsDep,
    q: str = "",
    category: str = "",
    tag: Annotated[list[str] | None, Query()] = None,
    namespace: str = "",
    hardware: str = "",
    accelerator: str = "",
    max_memory: str = "",
    sort: str = "",
    page: str = "",
) -> Response:
    form = views.SearchForm(
        q=q.strip(),
        category=category,
        tags=[t.strip().lower() for t in tag or [] if t.strip()],
        namespace=namespace.strip(),
        hardware=hardware,
        accelerator=accelerator.strip(),
        max_memory=max_memory.strip(),
        sort=sort,
        page=_page_number(page),
    )
    results = components.list_components(
        q=form.q or None,
        namespace=form.namespace or None,
        category=form.category or None,
        tags=form.tags,
        hardware=form.hardware or None,
        accelerator=form.accelerator or None,
        max_memory=form.max_memory or None,
        sort=form.sort or None,
        page=form.page,
        per_page=SEARCH_PAGE_SIZE,
    )
    return render(
        "search.html",
        request=request,
        form=form,
        results=results,
        pages=views.Pagination.of(results, form),
        facets=components.facets(),
    )


@router.get("/components/{namespace}/{name}")
def component(
    request: Request,
    namespace: str,
    name: str,
    components: ReadComponentsDep,
    version: str | None = None,
) -> Response:
    if version:
        # The version picker's no-JavaScript path: a GET form lands here.
        target = quote(version.strip(), safe="+")
        return RedirectResponse(f"/components/{namespace}/{name}/{target}", status_code=303)
    return _component_page(request, components, namespace, name, None)


@router.get("/components/{namespace}/{name}/{version}")
def component_version(
    request: Request, namespace: str, name: str, version: str, components: ReadComponentsDep
) -> Response:
    return _component_page(request, components, namespace, name, version)


def _component_page(
    request: Request,
    components: ReadComponentsDep,
    namespace: str,
    name: str,
    version: str | None,
) -> Response:
    detail = components.get_component(namespace, name)
    versions = components.list_versions(namespace, name)
    if version is not None:
        selected = components.get_version(namespace, name, version)
    elif detail.latest is not None:
        selected = detail.latest
    elif versions:  # every version yanked: show the newest, marked
        selected = components.get_version(namespace, name, versions[0].version)
    else:
        selected = None
    readme = components.version_readme(namespace, name, selected.version) if selected else ""
    forks = components.list_components(fork_of=f"{namespace}/{name}", sort="pulls", per_page=10)
    base_url = str(request.base_url).rstrip("/")
    return render(
        "component.html",
        request=request,
        component=detail,
        versions=versions,
        selected=selected,
        is_latest_page=version is None,
        page=views.ComponentPage.build(detail, selected, readme, base_url),
        forks=forks,
    )


@router.get("/namespaces/{namespace}")
def namespace_page(
    request: Request,
    namespace: str,
    components: ReadComponentsDep,
    page: str = "",
    forks_page: str = "",
) -> Response:
    info = components.get_namespace(namespace)
    originals = components.list_components(
        namespace=namespace,
        is_fork=False,
        sort="name",
        page=_page_number(page),
        per_page=NAMESPACE_PAGE_SIZE,
    )
    forks = components.list_components(
        namespace=namespace,
        is_fork=True,
        sort="name",
        page=_page_number(forks_page, "forks_page"),
        per_page=NAMESPACE_PAGE_SIZE,
    )
    return render(
        "namespace.html",
        request=request,
        namespace=info,
        originals=originals,
        forks=forks,
        originals_pages=views.Pagination.simple(originals, f"/namespaces/{namespace}", "page"),
        forks_pages=views.Pagination.simple(forks, f"/namespaces/{namespace}", "forks_page"),
    )


@router.get("/static/{filename}")
def static(filename: str, if_none_match: Annotated[str | None, Header()] = None) -> Response:
    asset = ASSETS.get(filename)
    if asset is None:
        return Response("no such file", status_code=404, media_type="text/plain")
    headers = {"ETag": asset.etag, "Cache-Control": asset.cache_control}
    if if_none_match and asset.etag in {t.strip() for t in if_none_match.split(",")}:
        return Response(status_code=304, headers=headers)
    return Response(asset.body, media_type=asset.media_type, headers=headers)
