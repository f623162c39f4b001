"""The REST API, ``/api/v1`` (DESIGN §3). Each route parses, calls one service method, returns
a Public model."""

from __future__ import annotations

import hashlib
from typing import Annotated

from fastapi import APIRouter, File, Header, Query, Request, Response, UploadFile, status
from starlette.concurrency import run_in_threadpool

from hub_server.api.query import openapi_parameters, read_query
from hub_server.deps import (
    AppState,
    AuthDep,
    ComponentsDep,
    CurrentUser,
    ReadComponentsDep,
    StateDep,
    get_state,
)
from hub_server.errors import PayloadTooLarge
from hub_server.schemas import (
    ComponentDetail,
    ComponentPublic,
    ErrorResponse,
    ForkRequest,
    Page,
    SearchParams,
    TokenCreate,
    TokenPublic,
    UserCreate,
    UserPublic,
    VersionPublic,
    VersionSummary,
    YankRequest,
)

# The prefix lives on the router (not on include_router) so each route's own path, which the
# metrics use as their label, is the full template.
# Reads of one row (component, versions, resolve, component.yaml) are async routes calling the
# service directly: a short indexed query on the event loop costs less than a hop through the
# thread pool. On PostgreSQL the loop then waits for the database's round trips: resolve past
# the read cache (100k, one worker, 32 connections) answered 549-571/s with a p99 of 417-434 ms
# this way, 391-406/s with a p99 of 179-187 ms in the pool (the worker's CPU a request 1.6 ->
# 2.3 ms). Neither is good; what would help is a cheaper resolve, not where it runs.
# Calls that can take long or leave the machine (search, publish, archive bytes that may come
# from S3, writes) run in the pool: sync routes, but search sends itself there (below).
router = APIRouter(prefix="/api/v1", responses={"4XX": {"model": ErrorResponse}})

IMMUTABLE = "public, max-age=31536000, immutable"
ComponentPath = "/components/{namespace}/{name}"
VersionPath = ComponentPath + "/versions/{version}"


def _etag_matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    candidates = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return etag in candidates or "*" in candidates


@router.post(
    ComponentPath + "/versions",
    status_code=status.HTTP_201_CREATED,
    response_model=VersionPublic,
    summary="Publish a version (multipart field 'archive': the package .tar.gz)",
)
async def publish(
    namespace: str,
    name: str,
    archive: Annotated[UploadFile, File(description="the package archive (.tar.gz)")],
    user: CurrentUser,
    components: ComponentsDep,
    state: StateDep,
    response: Response,
) -> VersionPublic:
    limit = state.settings.max_archive_bytes
    data = await archive.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(
            f"the archive is larger than the hub's limit of {limit} bytes",
            code="archive_too_large",
            limit=limit,
        )
    # The steps of ComponentService.publish, each in the thread pool, with the publish turns
    # awaited here on the event loop, not in a thread (see FairGate).
    async with state.publish_gate.turn():
        pending = await run_in_threadpool(components.check_publish, user, namespace, name, data)
    images = await run_in_threadpool(components.store_publish, pending)
    async with state.publish_gate.turn():
        published = await run_in_threadpool(components.write_publish, pending, images)
    response.headers["Location"] = (
        f"/api/v1/components/{namespace}/{name}/versions/{published.version}"
    )
    return published


@router.get(
    "/components",
    response_model=Page[ComponentPublic],
    summary="List and search",
    openapi_extra={"parameters": openapi_parameters(SearchParams)},
)
async def list_components(request: Request) -> Response:
    # The busiest uncached read, kept lean: its query read as one model (not field by field),
    # no dependencies to solve, its turn at the search gate awaited on the event loop (not in
    # a thread of the pool, see FairGate), and one trip to the pool that opens the session,
    # searches and writes the JSON (the page is built from validated models: checking it again
    # against the response model, as FastAPI does with a returned model, would redo that work).
    params = read_query(SearchParams, request)
    state = await get_state(request)
    async with state.search_gate.turn():
        body = await run_in_threadpool(_search, state, params)
    return Response(body, media_type="application/json")


def _search(state: AppState, params: SearchParams) -> bytes:
    with state.read_session() as session:
        page = state.components(session, holds_search_turn=True).list_components(
            q=params.q,
            namespace=params.namespace,
            category=params.category,
            tags=params.tag or [],
            hardware=params.hardware,
            accelerator=params.accelerator,
            max_memory=params.max_memory,
            fork_of=params.fork_of,
            is_fork=params.fork,
            sort=params.sort,
            page=params.page,
            per_page=params.per_page,
        )
    return page.model_dump_json(by_alias=True).encode()


@router.get(ComponentPath, response_model=ComponentDetail)
async def get_component(
    namespace: str, name: str, components: ReadComponentsDep
) -> ComponentDetail:
    return components.get_component(namespace, name)


@router.get(ComponentPath + "/versions", response_model=list[VersionSummary])
async def list_versions(
    namespace: str, name: str, components: ReadComponentsDep
) -> list[VersionSummary]:
    return components.list_versions(namespace, name)


@router.get(VersionPath, response_model=VersionPublic)
async def get_version(
    namespace: str, name: str, version: str, components: ReadComponentsDep
) -> VersionPublic:
    return components.get_version(namespace, name, version)


@router.get(ComponentPath + "/resolve", response_model=VersionPublic)
async def resolve(
    namespace: str,
    name: str,
    components: ReadComponentsDep,
    spec: Annotated[str, Query(description="exact version, npm range, or sha256:<hex>")] = "",
) -> VersionPublic:
    return components.resolve(namespace, name, spec)


@router.get(
    VersionPath + "/archive",
    response_class=Response,
    responses={200: {"content": {"application/gzip": {}}}, 304: {"description": "not modified"}},
)
def download_archive(
    namespace: str,
    name: str,
    version: str,
    components: ReadComponentsDep,
    state: StateDep,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    digest = components.version_digest(namespace, name, version)
    etag = f'"{digest}"'
    headers = {"ETag": etag, "Cache-Control": IMMUTABLE}
    if _etag_matches(if_none_match, etag):
        return Response(status_code=304, headers=headers)
    blob = components.read_blob(digest)
    state.pulls.add(namespace, name, version)
    headers["Content-Disposition"] = f'attachment; filename="{namespace}-{name}-{version}.tar.gz"'
    return Response(content=blob.data, media_type="application/gzip", headers=headers)


@router.get(
    VersionPath + "/component.yaml",
    response_class=Response,
    responses={200: {"content": {"application/yaml": {}}}},
)
async def download_component_yaml(
    namespace: str,
    name: str,
    version: str,
    components: ReadComponentsDep,
    state: StateDep,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    spec_yaml, _digest = components.component_yaml(namespace, name, version)
    etag = f'"sha256:{hashlib.sha256(spec_yaml.encode()).hexdigest()}"'
    headers = {"ETag": etag, "Cache-Control": IMMUTABLE}
    if _etag_matches(if_none_match, etag):
        return Response(status_code=304, headers=headers)
    state.pulls.add(namespace, name, version)
    return Response(content=spec_yaml, media_type="application/yaml", headers=headers)


@router.post(
    ComponentPath + "/fork", status_code=status.HTTP_201_CREATED, response_model=ComponentDetail
)
def fork(
    namespace: str,
    name: str,
    request: ForkRequest,
    user: CurrentUser,
    components: ComponentsDep,
) -> ComponentDetail:
    return components.fork(user, namespace, name, request)


@router.post(VersionPath + "/yank", response_model=VersionPublic)
def yank(
    namespace: str,
    name: str,
    version: str,
    request: YankRequest,
    user: CurrentUser,
    components: ComponentsDep,
) -> VersionPublic:
    return components.yank(user, namespace, name, version, request.reason)


@router.delete(VersionPath + "/yank", response_model=VersionPublic, summary="Un-yank")
def unyank(
    namespace: str, name: str, version: str, user: CurrentUser, components: ComponentsDep
) -> VersionPublic:
    return components.yank(user, namespace, name, version, None)


@router.get("/whoami", response_model=UserPublic)
def whoami(user: CurrentUser, auth: AuthDep) -> UserPublic:
    return UserPublic(name=user.name, is_admin=user.is_admin, namespaces=auth.namespaces_of(user))


@router.post("/users", status_code=status.HTTP_201_CREATED, response_model=TokenPublic)
def create_user(body: UserCreate, user: CurrentUser, auth: AuthDep) -> TokenPublic:
    """Create a user (administrators only), its namespace, and a first token."""
    created, token = auth.create_user(user, body.name, is_admin=body.is_admin)
    return TokenPublic(user=created.name, name="default", token=token)


@router.post("/tokens", status_code=status.HTTP_201_CREATED, response_model=TokenPublic)
def create_token(body: TokenCreate, user: CurrentUser, auth: AuthDep) -> TokenPublic:
    """Create another token for the caller."""
    return TokenPublic(user=user.name, name=body.name, token=auth.create_token(user, body.name))
