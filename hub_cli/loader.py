"""``load_component``: a component from the hub as a kfp component with its hardware applied."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from hub_cli.cache import Cache
from hub_cli.client import HubClient
from hub_cli.download import LockArg, PulledPackage, pull
from hub_cli.errors import InvalidPackageError
from hub_cli.variants import HardwareSettings, apply_to_spec, select_variant

if TYPE_CHECKING:
    from hub_cli._kfp import HubComponent

__all__ = ["load_component"]

log = logging.getLogger("hub_cli")


def _manifest(files: dict[str, bytes], pulled: PulledPackage) -> dict[str, Any]:
    from hub_server.archive import load_yaml
    from hub_server.errors import HubError as ServerError

    if "hub.yaml" not in files:
        raise InvalidPackageError(f"{pulled.ref} has no hub.yaml", code="manifest_missing")
    try:
        document = load_yaml(files["hub.yaml"], filename="hub.yaml")
    except ServerError as exc:
        raise InvalidPackageError(f"{pulled.ref}: {exc.message}", code=exc.code) from None
    if not isinstance(document, dict):
        raise InvalidPackageError(f"{pulled.ref}: hub.yaml is not a mapping", code="manifest")
    return document


def load_component(
    ref: str,
    hardware: str | None = None,
    lock: LockArg = None,
    *,
    client: HubClient | None = None,
    cache: Cache | None = None,
) -> HubComponent:
    """Load a component from the hub as a kfp component, with a hardware variant applied.

    The reference is resolved (through ``hub.lock`` when it has it), the archive is pulled
    into the cache and checked against its digest, the variant's image and argument defaults
    are written into the spec, and ``kfp`` loads it. Calling the result inside a
    ``@dsl.pipeline`` returns a ``PipelineTask`` whose CPU and memory requests/limits,
    accelerator type and count, and accelerator node selector follow the variant.

    Example::

        from kfp import dsl
        from hub_cli import load_component

        train = load_component("ml/train-xgboost@^1.2", hardware="gpu")

        @dsl.pipeline
        def pipeline(data: str):
            train(data=data)        # 4 CPUs, 16Gi, 1 nvidia.com/gpu on a T4 node

    Args:
        ref: ``namespace/name``, ``...@1.2.3``, ``...@^1.2`` (any npm range) or
            ``...@sha256:<hex>``.
        hardware: The variant to use; None for the manifest's default.
        lock: Which ``hub.lock`` to follow: None (default) for the one in the current folder
            or a parent, if any; a path or a :class:`~hub_cli.lockfile.Lockfile`; False to
            ignore lockfiles.
        client: The hub client. Default: one from ``HUB_URL``/``HUB_TOKEN``/config file.
        cache: The cache. Default: the user's cache.

    Returns:
        A kfp component (a ``YamlComponent``); ``hub_ref``, ``digest`` and ``hardware`` say
        what was loaded.

    Raises:
        InvalidReferenceError: ``ref`` is malformed.
        UnknownVariantError: no variant ``hardware``; the message lists the known ones.
        ComponentNotFoundError, VersionNotFoundError, NoMatchingVersionError: nothing fits.
        LockfileError: the lockfile is unreadable or pins a version ``ref`` does not allow.
        OfflineError: the hub cannot be reached and the cache cannot stand in.
        DigestMismatchError: a cached or downloaded archive does not have its digest.
        InvalidPackageError: the package's spec cannot be loaded with this variant.
    """
    pulled = pull(ref, client=client, cache=cache, lock=lock)
    files = pulled.files()
    manifest = _manifest(files, pulled)
    settings: HardwareSettings = select_variant(
        dict(manifest.get("hardware") or {}), hardware, component=pulled.ref
    )
    spec_path = str(manifest.get("component") or "component.yaml")
    if spec_path not in files:
        raise InvalidPackageError(
            f"{pulled.ref} has no component spec {spec_path!r}", code="component_spec_missing"
        )
    spec_text = apply_to_spec(
        files[spec_path].decode("utf-8"), image=settings.image, arguments=settings.arguments
    )
    from hub_cli._kfp import make_component

    component = make_component(
        spec_text, hub_ref=pulled.ref, digest=pulled.digest, hardware=settings
    )
    log.debug("loaded %s (%s) with the %s variant", pulled.ref, pulled.digest, settings.variant)
    return component
