"""``hub search``, ``hub info``, ``hub versions``: finding components and looking at them."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from hub_cli.commands._context import JsonOption, RefArgument, open_client
from hub_cli.commands._output import (
    console,
    human_size,
    print_json,
    say,
    short_digest,
    table,
)
from hub_cli.models import VersionInfo
from hub_cli.reference import Reference, SpecKind

app = typer.Typer()


@app.command()
def search(
    query: Annotated[
        str | None, typer.Argument(help="Words to look for in names, descriptions and tags.")
    ] = None,
    category: Annotated[str | None, typer.Option(help="Only this category.")] = None,
    tag: Annotated[
        list[str] | None, typer.Option(help="Only components with this tag (repeatable).")
    ] = None,
    hardware: Annotated[
        str | None, typer.Option(help="gpu: has a GPU variant; cpu: has a CPU-only one.")
    ] = None,
    namespace: Annotated[str | None, typer.Option(help="Only this namespace.")] = None,
    sort: Annotated[
        str | None, typer.Option(help="relevance, updated, created, name or forks.")
    ] = None,
    page: Annotated[int, typer.Option(min=1, help="Page number.")] = 1,
    per_page: Annotated[int, typer.Option(min=1, max=100, help="Results per page.")] = 20,
    json_output: JsonOption = False,
) -> None:
    """Search the hub's components."""
    with open_client() as hub:
        result = hub.list_components(
            query,
            namespace=namespace,
            category=category,
            tags=tag or [],
            hardware=hardware,
            sort=sort,
            page=page,
            per_page=per_page,
        )
    if json_output:
        print_json(result.to_dict())
        return
    if not result.items:
        say("No components match.")
        return
    rows = table("COMPONENT", "LATEST", "CATEGORY", "HARDWARE", "FORKS", "DESCRIPTION")
    for item in result.items:
        rows.add_row(
            item.id,
            item.latest_version or "-",
            item.category,
            ", ".join(item.hardware_variants),
            str(item.forks_count),
            item.description,
        )
    console().print(rows)
    first = (result.page - 1) * result.per_page + 1
    last = first + len(result.items) - 1
    total = f"{result.total:,}+" if result.total_is_lower_bound else f"{result.total:,}"
    say(f"{first}-{last} of {total} components")


def _variants_table(version: VersionInfo) -> Any:
    hardware = version.hardware or {}
    default = hardware.get("default")
    rows = table("VARIANT", "CPU", "MEMORY", "ACCELERATOR", "IMAGE", "ARGUMENTS", title="Hardware")
    for name, spec in (hardware.get("variants") or {}).items():
        spec = spec or {}
        resources = spec.get("resources") or {}
        limits = resources.get("limits") or {}
        accelerator = spec.get("accelerator") or {}

        def amount(key: str, resources: Any = resources, limits: Any = limits) -> str:
            value = str(resources.get(key) or "-")
            return f"{value} (limit {limits[key]})" if limits.get(key) else value

        accel = ""
        if accelerator:
            accel = f"{accelerator.get('count', 1)} x {accelerator.get('type')}"
            if accelerator.get("model"):
                accel += f" ({accelerator['model']})"
        arguments = ", ".join(f"{k}={v}" for k, v in (spec.get("arguments") or {}).items())
        rows.add_row(
            name + (" (default)" if name == default else ""),
            amount("cpu"),
            amount("memory"),
            accel or "-",
            spec.get("image") or "-",
            arguments or "-",
        )
    return rows


def _interface_tables(version: VersionInfo) -> list[Any]:
    inputs = table("INPUT", "TYPE", "DEFAULT", "DESCRIPTION", title="Inputs")
    for item in version.interface.get("inputs") or []:
        default = item.get("default")
        inputs.add_row(
            str(item.get("name")),
            str(item.get("type")),
            "-" if default is None else repr(default),
            str(item.get("description") or ""),
        )
    outputs = table("OUTPUT", "TYPE", "DESCRIPTION", title="Outputs")
    for item in version.interface.get("outputs") or []:
        outputs.add_row(
            str(item.get("name")), str(item.get("type")), str(item.get("description") or "")
        )
    return [inputs, outputs]


@app.command()
def info(ref: RefArgument, json_output: JsonOption = False) -> None:
    """Show a component: its description, a version's hardware variants, inputs and outputs."""
    parsed = Reference.parse(ref)
    with open_client() as hub:
        component = hub.get_component(parsed)
        version = hub.resolve(parsed) if parsed.kind != SpecKind.LATEST else component.latest
    if json_output:
        print_json(
            {
                "component": component.to_dict() | {"latest": None},
                "version": version.to_dict() if version else None,
            }
        )
        return
    say(f"{component.id}  {component.description}")
    facts = [
        ("category", component.category),
        ("tags", ", ".join(component.tags) or "-"),
        ("latest", component.latest_version or "- (no release yet)"),
        ("versions", str(component.versions_count)),
        ("forks", str(component.forks_count)),
        ("pulls", str(component.pulls)),
    ]
    if component.parent:
        facts.append(("forked from", component.parent.ref))
    if version is not None:
        facts += [
            ("version", version.version + (" (YANKED)" if version.yanked else "")),
            ("digest", version.digest),
            ("size", human_size(version.size)),
            ("published", f"{version.published_at:%Y-%m-%d %H:%M} by {version.publisher or '?'}"),
            ("license", version.license or "-"),
            ("authors", ", ".join(version.authors) or "-"),
            ("image", (version.image or "-") + ("" if version.image_pinned else " (not pinned)")),
        ]
        if version.yanked:
            facts.append(("yanked", version.yanked_reason or ""))
    width = max(len(key) for key, _ in facts)
    for key, value in facts:
        say(f"  {key.ljust(width)}  {value}")
    if version is not None:
        out = console()
        out.print(_variants_table(version))
        for rows in _interface_tables(version):
            out.print(rows)


@app.command()
def versions(ref: RefArgument, json_output: JsonOption = False) -> None:
    """List every version of a component, newest first, yanked ones flagged."""
    parsed = Reference.parse(ref)
    with open_client() as hub:
        items = hub.list_versions(parsed)
    if json_output:
        print_json([item.to_dict() for item in items])
        return
    if not items:
        say(f"{parsed.component} has no versions.")
        return
    rows = table("VERSION", "PUBLISHED", "DIGEST", "SIZE", "STATUS")
    for item in items:
        status = "yanked: " + (item.yanked_reason or "") if item.yanked else ""
        if item.prerelease and not item.yanked:
            status = "prerelease"
        published = f"{item.published_at:%Y-%m-%d %H:%M}" if item.published_at else "-"
        rows.add_row(
            item.version, published, short_digest(item.digest), human_size(item.size), status
        )
    console().print(rows)
