"""The kfp side of ``load_component``; imported only when a component is loaded (kfp is heavy)."""

from __future__ import annotations

from typing import Any

from kfp.components import load_component_from_text
from kfp.dsl import pipeline_task, yaml_component

from hub_cli.errors import InvalidPackageError
from hub_cli.variants import HardwareSettings

__all__ = ["HubComponent", "make_component"]


class HubComponent(yaml_component.YamlComponent):  # type: ignore[misc]  # kfp is untyped
    """A kfp component loaded from the hub; each task it makes gets the variant's hardware.

    Attributes:
        hub_ref: ``namespace/name@version`` it was loaded from.
        digest: The archive digest it was loaded from.
        hardware: The variant's settings.
    """

    def __init__(
        self,
        component_spec: Any,
        component_yaml: str,
        *,
        hub_ref: str,
        digest: str,
        hardware: HardwareSettings,
    ) -> None:
        super().__init__(component_spec=component_spec, component_yaml=component_yaml)
        self.hub_ref = hub_ref
        self.digest = digest
        self.hardware = hardware

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Make a task (inside a pipeline) or run the component (outside one, with kfp.local).

        Returns:
            The ``PipelineTask``; inside a pipeline, with the variant's hardware set.
        """
        task = super().__call__(*args, **kwargs)
        # A task run locally right away (outside a pipeline) is final: resources mean
        # nothing to the local runners and kfp would warn about each one.
        if task.state == pipeline_task.TaskState.FUTURE and task.container_spec is not None:
            self.hardware.apply(task)
        return task

    def __repr__(self) -> str:
        return f"<HubComponent {self.hub_ref} variant={self.hardware.variant!r}>"


def make_component(
    spec_text: str, *, hub_ref: str, digest: str, hardware: HardwareSettings
) -> HubComponent:
    """Load a spec with kfp into a :class:`HubComponent`.

    Args:
        spec_text: The KFP spec (v2 IR or v1), the variant already written into it.
        hub_ref: ``namespace/name@version``.
        digest: The archive digest.
        hardware: The variant's settings.

    Returns:
        The component.

    Raises:
        InvalidPackageError: kfp cannot load the spec.
    """
    try:
        loaded = load_component_from_text(spec_text)
    except Exception as exc:  # kfp raises many types for a spec it cannot load
        raise InvalidPackageError(
            f"kfp cannot load the spec of {hub_ref}: {exc}", code="invalid_component_spec"
        ) from exc
    return HubComponent(
        loaded.component_spec, spec_text, hub_ref=hub_ref, digest=digest, hardware=hardware
    )
