"""Results of :mod:`bench.run` as JSON, a Markdown report and a PNG plot of latency by size.

``python -m bench.report RESULTS.json`` renders the Markdown and the plot again from a JSON.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

DB_TITLES = {"sqlite": "SQLite", "postgres": "PostgreSQL"}
MB_PER_MIB = 1.048576
# Issue 6's targets (2 cores, 32 connections, the largest size).
TARGET_CONNECTIONS = 32
TARGET_RESOLVE_RATIO = 0.5
TARGET_RESOLVE_P99_MS = 25.0
TARGET_SEARCH_P99_MS = 100.0
TARGET_PUBLISH_PER_S = 100.0
TARGET_RSS_MB = 200.0
# The calls measured at every size (latency against size).
GROWTH_KEYS = ("resolve", "resolve_uncached", "search", "search_gpu", "search_uncached")


def _at(results: list[dict[str, Any]], connections: int) -> dict[str, Any] | None:
    return next((r for r in results if r["connections"] == connections), None)


def _ceiling_rps(size: dict[str, Any], connections: int) -> float | None:
    ceiling = _at(size.get("ceiling", []), connections)
    return ceiling["rps"] if ceiling else None


def _ratio(result: dict[str, Any], size: dict[str, Any]) -> float | None:
    ceiling = _ceiling_rps(size, result["connections"])
    rps = result.get("versions_per_s", result["rps"])
    return round(rps / ceiling, 3) if ceiling else None


def annotate(results: dict[str, Any]) -> None:
    """Add each figure's ratio to the ceiling of the same size and connections."""
    for run in results["runs"]:
        for size in run["sizes"]:
            for scenario in size["scenarios"].values():
                for result in scenario.get("results", []):
                    result["ratio_to_ceiling"] = _ratio(result, size)


def _fmt(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def _errors(result: dict[str, Any]) -> str:
    parts = []
    if result.get("non_2xx_3xx"):
        parts.append(f"{result['non_2xx_3xx']} non-2xx/3xx")
    if result.get("socket_errors"):
        parts.append(f"{result['socket_errors']} socket")
    if result.get("timeouts"):
        parts.append(f"{result['timeouts']} timeouts")
    if result.get("exhausted"):
        parts.append("ran out of prepared packages")
    return ", ".join(parts) or "0"


def _main_table(results: dict[str, Any], size: dict[str, Any]) -> list[str]:
    titles = results["scenarios"]
    lines = [
        "| call | conns | req/s | p50 ms | p95 ms | p99 ms | x ceiling | errors |",
        "|---|--:|--:|--:|--:|--:|--:|---|",
    ]
    for result in size.get("ceiling", []):
        lines.append(
            f"| **bare FastAPI (ceiling)** | {result['connections']} | {_fmt(result['rps'], 0)} "
            f"| {_fmt(result['p50_ms'], 2)} | {_fmt(result['p95_ms'], 2)} "
            f"| {_fmt(result['p99_ms'], 2)} | 1.00 | {_errors(result)} |"
        )
    for key, scenario in size["scenarios"].items():
        if scenario.get("status") != "ok":
            lines.append(f"| {titles.get(key, key)} | | {scenario.get('status')} | | | | | |")
            continue
        for result in scenario["results"]:
            rate = result.get("versions_per_s", result["rps"])
            lines.append(
                f"| {titles.get(key, key)} | {result['connections']} | {_fmt(rate, 0)} "
                f"| {_fmt(result['p50_ms'], 2)} | {_fmt(result['p95_ms'], 2)} "
                f"| {_fmt(result['p99_ms'], 2)} | {_fmt(result.get('ratio_to_ceiling'), 2)} "
                f"| {_errors(result)} |"
            )
    return lines


def _memory(memory: dict[str, Any] | None) -> str:
    if not memory:
        return "-"
    parts = ", ".join(f"{p['rss_mib']:.0f}" for p in memory["processes"])
    return (
        f"{memory['total_rss_mib']:.0f} MiB now, {memory['total_peak_mib']:.0f} MiB peak "
        f"(processes: {parts} MiB)"
    )


def _growth_table(results: dict[str, Any], run: dict[str, Any]) -> list[str]:
    titles = results["scenarios"]
    sizes = run["sizes"]
    header = "| call | conns | " + " | ".join(
        f"{s['components']:,} comp. / {s.get('versions', 0):,} ver." for s in sizes
    )
    lines = [header + " |", "|---|--:|" + "---|" * len(sizes)]
    keys = [k for k in GROWTH_KEYS if any(k in s["scenarios"] for s in sizes)]
    connections = sorted(
        {r["connections"] for s in sizes for r in s.get("ceiling", [])}
    )  # fmt: skip
    for key in ["ceiling", *keys]:
        for n in connections:
            cells = []
            for size in sizes:
                if key == "ceiling":
                    result = _at(size.get("ceiling", []), n)
                else:
                    scenario = size["scenarios"].get(key, {})
                    result = _at(scenario.get("results", []), n)
                cells.append(
                    f"{_fmt(result['p50_ms'], 2)} / {_fmt(result['p99_ms'], 2)} ms, "
                    f"{_fmt(result['rps'], 0)}/s"
                    if result
                    else "-"
                )
            title = "bare FastAPI (ceiling)" if key == "ceiling" else titles.get(key, key)
            lines.append(f"| {title} | {n} | " + " | ".join(cells) + " |")
    return lines


def targets(run: dict[str, Any]) -> list[tuple[str, str, bool | None]]:
    """Issue 6's targets against the largest size of a run: (target, figure, met)."""
    size = run["sizes"][-1]
    n = TARGET_CONNECTIONS

    def result(key: str) -> dict[str, Any] | None:
        return _at(size["scenarios"].get(key, {}).get("results", []), n)

    rows: list[tuple[str, str, bool | None]] = []
    resolve, publish = result("resolve"), result("publish")
    ratio = resolve.get("ratio_to_ceiling") if resolve else None
    rows.append(
        (
            f"resolve ≥ {TARGET_RESOLVE_RATIO:.0%} of the ceiling's req/s",
            f"{_fmt(resolve['rps'], 0)}/s = {_fmt(ratio, 2)} x ceiling" if resolve else "-",
            ratio >= TARGET_RESOLVE_RATIO if ratio is not None else None,
        )
    )
    rows.append(
        (
            f"resolve p99 < {TARGET_RESOLVE_P99_MS:.0f} ms",
            f"{_fmt(resolve['p99_ms'], 1)} ms" if resolve else "-",
            resolve["p99_ms"] < TARGET_RESOLVE_P99_MS if resolve else None,
        )
    )
    for label, key in (
        ("search", "search"),
        ("search hardware=gpu", "search_gpu"),
        ("search past the read cache", "search_uncached"),
        ("search hardware=gpu past the read cache", "search_gpu_uncached"),
    ):
        found = result(key)
        if found is None and key.endswith("uncached"):
            continue  # runs made before these scenarios existed
        rows.append(
            (
                f"{label} p99 < {TARGET_SEARCH_P99_MS:.0f} ms",
                f"{_fmt(found['p99_ms'], 1)} ms" if found else "-",
                found["p99_ms"] < TARGET_SEARCH_P99_MS if found else None,
            )
        )
    rate = publish.get("versions_per_s") if publish else None
    rows.append(
        (
            f"publish ≥ {TARGET_PUBLISH_PER_S:.0f} versions/s",
            f"{_fmt(rate, 0)} versions/s" if rate is not None else "-",
            rate >= TARGET_PUBLISH_PER_S if rate is not None else None,
        )
    )
    memory = size.get("memory")
    total = memory["total_rss_mib"] * MB_PER_MIB if memory else None
    rows.append(
        (
            f"server RSS < {TARGET_RSS_MB:.0f} MB (all processes, after the reads)",
            f"{_fmt(total, 0)} MB" if total is not None else "-",
            total < TARGET_RSS_MB if total is not None else None,
        )
    )
    return rows


def markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    c = results["config"]
    packages = ", ".join(f"{k} {v}" for k, v in m["packages"].items() if v)
    lines = [
        f"# Component Hub benchmark ({c['label']}), {m['date']}",
        "",
        f"- Machine: {m['cores']} cores ({m['cpu_model']}), {m['memory_mib']:,} MiB, "
        f"Linux {m['kernel']}, Python {m['python']}; SQLite {m['sqlite']}"
        + (f"; PostgreSQL {m['postgresql']}" if m.get("postgresql") else "")
        + f"; {m['wrk']}.",
        f"- Packages: {packages}.",
        f"- Load average at start {m.get('loadavg_at_start')}, at end "
        f"{m.get('loadavg_at_end')} (a shared machine: other work there moves the figures; "
        "the ratios to the ceiling, measured in the same minutes, drift less).",
        f"- Setup: `hub serve --workers {c['workers']}` (HUB_LOG_LEVEL={c['log_level']}) and the "
        f"ceiling (bare FastAPI, uvicorn --workers {c['workers']} --loop uvloop --http httptools)"
        f" on 127.0.0.1; wrk (1 thread) from another process, {c['duration']:g} s per figure "
        f"after a warm-up of at least {c['warmup']:g} s (until each distinct request was sent "
        f"~5 times, at most 30 s); requests rotate over {c['sample']:,} random "
        "components (and ~200 search words), never one hot row.",
        f"- Run time {results.get('elapsed_s', 0) // 60} min.",
        "",
    ]
    for run in results["runs"]:
        title = DB_TITLES.get(run["db"], run["db"])
        largest = run["sizes"][-1]
        database = largest.get("database", {})
        seed = largest.get("seed", {})
        lines += [
            f"## {title}: {largest['components']:,} components, "
            f"{largest.get('versions', 0):,} versions",
            "",
            *_main_table(results, largest),
            "",
            f"- Server memory after the reads: {_memory(largest.get('memory'))}; after the "
            f"publishes: {_memory(largest.get('memory_after_publish'))}. "
            f"Ceiling app: {_memory(run.get('ceiling_memory'))}.",
            f"- Database: {database.get('engine')} {database.get('version')}, "
            f"{database.get('size_mib', 0):,} MiB on disk.",
            "- Seeding (bulk SQL, "
            + (seed.get("method") or "-")
            + "): "
            + ", ".join(
                f"{s['components']:,} comp. in {s.get('seed', {}).get('seconds', 0):.0f} s"
                for s in run["sizes"]
            )
            + " (each size adds to the one before).",
            "",
            f"### {title}: growth (p50 / p99 latency, requests/s)",
            "",
            *_growth_table(results, run),
            "",
            f"### {title}: issue 6's targets ({TARGET_CONNECTIONS} connections, "
            f"{largest['components']:,} components)",
            "",
            "| target | measured | met |",
            "|---|---|---|",
            *(
                f"| {name} | {figure} | {'yes' if met else 'no' if met is not None else '-'} |"
                for name, figure, met in targets(run)
            ),
            "",
        ]
    return "\n".join(lines)


def plot(results: dict[str, Any], path: Path) -> Path | None:
    """Latency (p50 solid, p99 dashed) against size, one panel per call and connections."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # Only the calls this run measured (a run limited by --scenarios may have none of them).
    keys = [
        key
        for key in GROWTH_KEYS
        if any(
            size["scenarios"].get(key, {}).get("results")
            for run in results["runs"]
            for size in run["sizes"]
        )
    ]
    connections = sorted(
        {r["connections"] for run in results["runs"] for s in run["sizes"] for r in s["ceiling"]}
    )
    if not connections or not keys:
        return None
    fig, axes = plt.subplots(
        len(connections), len(keys), figsize=(5 * len(keys), 3.6 * len(connections)), squeeze=False
    )
    colors = {"sqlite": "tab:blue", "postgres": "tab:orange"}
    for row, n in enumerate(connections):
        for column, key in enumerate(keys):
            ax = axes[row][column]
            for run in results["runs"]:
                xs, p50, p99 = [], [], []
                for size in run["sizes"]:
                    result = _at(size["scenarios"].get(key, {}).get("results", []), n)
                    if result:
                        xs.append(size["components"])
                        p50.append(result["p50_ms"])
                        p99.append(result["p99_ms"])
                label = DB_TITLES.get(run["db"], run["db"])
                color = colors.get(run["db"], "tab:gray")
                ax.plot(xs, p50, "o-", color=color, label=f"{label} p50")
                ax.plot(xs, p99, "s--", color=color, label=f"{label} p99")
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_title(f"{results['scenarios'].get(key, key)}, {n} conn.", fontsize=10)
            ax.set_xlabel("components (10 versions each)")
            ax.set_ylabel("latency (ms)")
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=8)
    fig.suptitle(f"Component Hub: latency against size ({results['machine']['date']})")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write(results: dict[str, Any], out: Path, label: str) -> dict[str, str]:
    """Write ``<date>-<label>.json``, ``.md`` and ``.png`` under ``out``."""
    annotate(results)
    out.mkdir(parents=True, exist_ok=True)
    stamp = results["machine"]["date"].replace(":", "").replace("-", "")[:15]
    base = out / f"{stamp}-{label}"
    paths = {"json": base.with_suffix(".json"), "markdown": base.with_suffix(".md")}
    paths["json"].write_text(json.dumps(results, indent=2) + "\n")
    paths["markdown"].write_text(markdown(results))
    png = plot(results, base.with_suffix(".png"))
    if png:
        paths["png"] = png
    return {k: str(v) for k, v in paths.items()}


def main() -> None:
    for name in sys.argv[1:]:
        source = Path(name)
        results = json.loads(source.read_text())
        annotate(results)
        source.with_suffix(".md").write_text(markdown(results))
        plot(results, source.with_suffix(".png"))
        print(source.with_suffix(".md"))


if __name__ == "__main__":
    main()
