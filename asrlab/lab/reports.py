"""What a person opens after a run: report.md and report.html, and the comparison written into them.

A sweep's report (`write_reports`) has its counts, one line per point, the section across points
(`asrlab.lab.summaries`) and every PNG figure; `asrlab compare` adds its table as a section of run
B's report (`write_comparison`). Links are relative, so a run folder can be moved, zipped or served
as it is.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from asrlab.errors import ConfigError
from asrlab.lab import notebooks
from asrlab.lab.experiment import cell

if TYPE_CHECKING:
    from asrlab.lab.compare import Comparison
    from asrlab.lab.experiment import Experiment
    from asrlab.lab.sweep import SweepResult


REPORT = """# Sweep {e.name}

{e.description}

Notebook `{e.notebook}`; {r.wall_s:.1f} s wall, jobs {r.jobs}.

## Summary

| points | run | cached | failed |
|---|---|---|---|
| {n} | {r.n_run} | {r.n_cached} | {r.n_failed} |
{across}
## Points

| point | repeat | parameters | status | cached | seconds | error |
|---|---|---|---|---|---|---|
{points}

## Figures

{figures}
"""


def write_reports(experiment: Experiment, result: SweepResult) -> None:
    """report.md and report.html (the same text): counts, one line per point, every PNG figure.

    Links are relative, so the run folder can be moved, zipped or served as it is.
    """
    points, figures = [], []
    for o in result.outcomes:
        folder = f"points/{o.point.point_id}"
        params = ", ".join(f"{k}={cell(v)}" for k, v in o.point.params.items())
        link = f"[{o.point.point_id}]({folder}/executed.html)"
        cells = [link, o.point.repeat, params, o.status, o.cached, f"{o.point_seconds:.1f}"]
        cells.append(o.error or "")
        points.append("| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |")
        for png in sorted((result.out_dir / folder).rglob("*.png")):
            src = png.relative_to(result.out_dir).as_posix()
            figures.append(f"### {o.point.point_id}: {png.name}\n\n![{png.name}]({src})\n")
    from asrlab.lab.summaries import across_points

    lists = {"points": "\n".join(points), "figures": "\n".join(figures)}
    name = notebooks.summary_name(experiment.notebook)
    summary = across_points(name, result.results, result.out_dir)
    lists["across"] = f"\n## Across points\n\n{summary}\n" if summary else ""
    text = REPORT.format(e=experiment, r=result, n=len(result.outcomes), **lists)
    (result.out_dir / "report.md").write_text(text, encoding="utf-8")
    (result.out_dir / "report.html").write_text(report_html(text, experiment.name), "utf-8")


def report_html(markdown: str, experiment: str) -> str:
    """report.md's text as report.html: the page `write_reports` and `asrlab compare` write."""
    import mistune  # nbconvert's Markdown renderer

    body = mistune.create_markdown(escape=True, plugins=["table"])(markdown)
    return f"<!doctype html><meta charset='utf-8'><title>Sweep {experiment}</title>\n{body}"


SECTION = "## Compared with "  # the heading of the section written into run B's report.md


def write_comparison(comparison: Comparison, out: Path | None = None) -> list[Path]:
    """compare.md and compare.json into run B, the table as a section of its report.md (and
    report.html, re-rendered); `out` gets a copy of the Markdown. Returns the files written.

    A second comparison replaces the section rather than adding another.
    """
    folder = comparison.b.path
    body = comparison.markdown()
    section = f"{SECTION}`{comparison.a.path}`\n\n{body}"
    blob = json.dumps(_jsonable(comparison.to_json()), indent=2, default=str, allow_nan=False)
    written = {folder / "compare.md": f"# asrlab compare\n\n{body}", folder / "compare.json": blob}
    if out is not None:
        written[out] = f"# asrlab compare\n\n{body}"
    from asrlab.lab.reports import report_html

    report = folder / "report.md"
    try:
        if report.is_file():
            text = _without_section(report.read_text(encoding="utf-8"))
            written[report] = text.rstrip("\n") + "\n\n" + section
            written[folder / "report.html"] = report_html(written[report], comparison.b.experiment)
        for path, text in written.items():
            path.write_text(text, encoding="utf-8")
    except OSError as e:
        raise ConfigError("run", str(folder), f"cannot write the comparison: {e}") from e
    return list(written)


def _jsonable(value: Any) -> Any:
    """NaN as null and infinities as "inf" / "-inf": JSON has neither."""
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else str(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def _without_section(text: str) -> str:
    """report.md without an earlier comparison's section (from its heading to the next one)."""
    start = text.find(f"\n{SECTION}")
    if start < 0:
        return text
    end = text.find("\n## ", start + 1)
    return text[:start] + ("\n" + text[end + 1 :] if end >= 0 else "\n")
