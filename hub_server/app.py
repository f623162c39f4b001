"""The application factory."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from hub_server import __version__
from hub_server.api import ops, routes
from hub_server.api.cache import ReadCacheMiddleware, StampReader
from hub_server.api.errors import install_error_handlers
from hub_server.api.limits import BodyLimitMiddleware
from hub_server.db import make_engine
from hub_server.deps import AppState, FairGate
from hub_server.memory import HeapTrimmer
from hub_server.oci import ImageResolver
from hub_server.services.pulls import PullCounter
from hub_server.settings import Settings
from hub_server.storage import open_storage
from hub_server.validator import PackageChecker
from hub_server.web import install_catalogue


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the hub's ASGI app from ``settings`` (default: read from the environment).

    The app does not migrate or bootstrap: ``hub serve`` does that once, before any worker
    starts (see :mod:`hub_server.serve`).

    Args:
        settings: the configuration.

    Returns:
        The FastAPI app, serving the API under ``/api/v1``, operations at the root and the
        catalogue's pages (``/``, ``/search``, ``/components/...``, ``/namespaces/...``).
    """
    settings = settings or Settings()
    engine = make_engine(
        settings.resolved_database_url, pool_size=settings.db_pool_size, echo=settings.db_echo
    )
    storage = open_storage(settings.resolved_storage_url, s3_endpoint_url=settings.s3_endpoint_url)
    pulls = PullCounter(engine, settings.pull_flush_seconds)
    stamps = StampReader(engine)
    heap = HeapTrimmer(settings.heap_trim_seconds)
    checker = (
        PackageChecker(timeout=settings.package_check_seconds)
        if settings.package_checker == "process"
        else None
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        pulls.start()
        heap.start()
        if checker is not None:
            checker.start()  # now, not at the first publish: its memory is there from the start
        try:
            yield
        finally:
            if checker is not None:
                await asyncio.to_thread(checker.close)
            await heap.stop()
            await pulls.stop()
            await stamps.aclose()

    app = FastAPI(
        lifespan=lifespan,
        title="Component Hub",
        version=__version__,
        description="A versioned registry of reusable Kubeflow Pipelines components.",
        docs_url="/docs",
        openapi_url="/openapi.json",
    )
    images = (
        ImageResolver(
            timeout=settings.image_resolve_timeout,
            insecure_registries=tuple(settings.insecure_registries),
        )
        if settings.resolve_images
        else None
    )
    app.state.hub = AppState(
        settings=settings,
        engine=engine,
        storage=storage,
        images=images,
        pulls=pulls,
        search_gate=FairGate(settings.search_slots(engine.dialect.name)),
        publish_gate=FairGate(settings.publish_concurrency),
        checker=checker,
    )
    app.state.metrics = ops.Metrics()
    app.state.heap = heap
    install_error_handlers(app)
    # The multipart envelope around an archive is small: 1 MiB over the archive limit is ample.
    app.add_middleware(BodyLimitMiddleware, max_body_size=settings.max_archive_bytes + 1024 * 1024)
    # Inside the observability middleware: cache hits are counted, timed and logged like the rest.
    app.add_middleware(
        ReadCacheMiddleware,
        stamps=stamps,
        pulls=pulls,
        max_bytes=settings.read_cache_mb * 1024 * 1024,
        listing_seconds=settings.listing_cache_seconds,
    )
    app.add_middleware(ops.ObservabilityMiddleware, metrics=app.state.metrics)
    app.include_router(routes.router)
    app.include_router(ops.router)
    install_catalogue(app)
    return app


def create_app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory`` (each worker builds its app from the environment).

    What the process holds once the app is built (modules, the app, its routes and models:
    most of its objects, and all of them for its life) is then moved out of the garbage
    collector's view (``gc.freeze``). A full collection walks every object it can see and holds
    the GIL meanwhile: at 100k components, 67 to 85 ms a worker answered nothing, twice in ten
    seconds of searches; 4 to 12 ms after the freeze.
    """
    app = create_app(Settings())
    gc.collect()  # what building left behind is collected, not kept for good
    gc.freeze()
    return app
