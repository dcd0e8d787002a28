"""What a person opens after a run: report.md and report.html, and the comparison written into them.

A sweep's report (`write_reports`) opens with its answer, the section across points that the
notebook names (`asrlab.lab.summaries`), and only then shows the machinery: its counts, one line
per point and every PNG figure. `asrlab compare` adds its table as a section of run B's report
(`write_comparison`). Links are relative, so a run folder can be moved, zipped or served as it is.
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
    from asrlab.lab.outcomes import SweepResult


# The answer first: a reader opens the report for what the sweep found, not for how it ran.
REPORT = """# Sweep {e.name}
{answer}
## The sweep

{e.description}

Notebook `{e.notebook}`; {r.wall_s:.1f} s wall, jobs {r.jobs}.

| points | run | cached | failed |
|---|---|---|---|
| {n} | {r.n_run} | {r.n_cached} | {r.n_failed} |

## Points

| point | repeat | parameters | status | cached | seconds | error |
|---|---|---|---|---|---|---|
{points}

## Figures

{figures}
"""


def write_reports(experiment: Experiment, result: SweepResult) -> None:
    """report.md and report.html (the same text): the answer across points, then the counts,
    one line per point and every PNG figure.

    Links are relative, so the run folder can be moved, zipped or served as it is.
    """
    points, figures = [], []
    varying = _varying(result)
    for o in result.outcomes:
        folder = f"points/{o.point.point_id}"
        params = ", ".join(f"{k}={_shown(v)}" for k, v in o.point.params.items())
        link = f"[{o.point.point_id}]({folder}/executed.html)"
        cells = [link, o.point.repeat, params, o.status, o.cached, f"{o.point_seconds:.1f}"]
        cells.append(o.error or "")
        points.append("| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |")
        label = ", ".join(f"{k}={_shown(o.point.params.get(k))}" for k in varying)
        label = f" ({label})" if label else ""
        for png in sorted((result.out_dir / folder).rglob("*.png")):
            src = png.relative_to(result.out_dir).as_posix()
            head = f"### {o.point.point_id}{label}: {png.name}"
            figures.append(f"{head}\n\n![{png.name}]({src})\n")
    from asrlab.lab.summaries import across_points

    lists = {"points": "\n".join(points), "figures": "\n".join(figures)}
    name = notebooks.summary_name(experiment.notebook)
    summary = across_points(name, result.results, result.out_dir)
    lists["answer"] = f"\n## Answer\n\n{summary.rstrip()}\n" if summary else ""
    text = REPORT.format(e=experiment, r=result, n=len(result.outcomes), **lists)
    (result.out_dir / "report.md").write_text(text, encoding="utf-8")
    (result.out_dir / "report.html").write_text(report_html(text, experiment.name), "utf-8")


def _shown(value: Any) -> Any:
    """A parameter as a reader wants it: a calibrated 0.6756201860000004 as 0.6756."""
    return f"{value:.4g}" if isinstance(value, float) else cell(value)


def _varying(result: SweepResult) -> list[str]:
    """The parameters whose values differ between points: what tells one point's figure from
    another's (a point id does not)."""
    seen: dict[str, set[str]] = {}
    for o in result.outcomes:
        for k, v in o.point.params.items():
            seen.setdefault(k, set()).add(str(_shown(v)))
    return [k for k, values in seen.items() if len(values) > 1]


# One small stylesheet for every page the lab writes: readable text, tables that line up, figures
# that fit the window. No external fonts or scripts: a run folder opens offline.
STYLE = """
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d2330;
  max-width: 1180px; margin: 2em auto; padding: 0 1.5em; background: #fbfbfd; }
h1 { font-size: 1.7em; border-bottom: 2px solid #3b5bdb; padding-bottom: .2em; }
h2 { font-size: 1.3em; margin-top: 2em; border-bottom: 1px solid #d0d4dc; }
h3 { font-size: 1.05em; color: #3b4252; }
table { border-collapse: collapse; margin: 1em 0; font-size: 13px; display: block;
  overflow-x: auto; max-width: 100%; }
th, td { border: 1px solid #d0d4dc; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #e9ecf5; position: sticky; top: 0; }
tr:nth-child(even) td { background: #f3f4f8; }
td:has(> a) { white-space: nowrap; }
img { max-width: 100%; height: auto; border: 1px solid #e1e4ea; background: white; }
code { background: #eef0f5; padding: 0 3px; border-radius: 3px; font-size: 92%; }
a { color: #3b5bdb; }
"""


def page(title: str, body_html: str) -> str:
    """A whole HTML page with the lab's stylesheet."""
    head = f"<!doctype html><html lang='en'><meta charset='utf-8'><title>{title}</title>"
    return f"{head}\n<style>{STYLE}</style>\n<body>\n{body_html}\n</body></html>\n"


def markdown_html(markdown: str) -> str:
    import mistune  # nbconvert's Markdown renderer

    return str(mistune.create_markdown(escape=True, plugins=["table"])(markdown))


def report_html(markdown: str, experiment: str) -> str:
    """report.md's text as report.html: the page `write_reports` and `asrlab compare` write."""
    return page(f"Sweep {experiment}", markdown_html(markdown))


def list_runs(runs_root: Path) -> list[dict[str, Any]]:
    """Every run folder under ``runs_root`` (``<experiment>/<stamp>/sweep.json``), newest
    first: experiment, when, state, points ok / failed, code version, wall seconds, folder."""
    runs = []
    for manifest in runs_root.glob("*/*/sweep.json"):
        try:
            blob = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        points = blob.get("points") or []
        runs.append(
            {
                "experiment": blob.get("experiment", manifest.parent.parent.name),
                "started": blob.get("started_at") or manifest.parent.name,
                "state": blob.get("state", "done"),
                "points": len(points),
                "ok": sum(p.get("status") == "ok" for p in points),
                "failed": sum(p.get("status") == "failed" for p in points),
                "code_version": blob.get("code_version", ""),
                "wall_s": blob.get("wall_s"),
                "folder": manifest.parent,
            }
        )
    return sorted(runs, key=lambda r: str(r["folder"].name), reverse=True)


def write_index(runs_root: Path) -> Path:
    """``runs_root/index.html``: one row per run, linking its report (relative links)."""
    rows = []
    for r in list_runs(runs_root):
        folder = r["folder"].relative_to(runs_root).as_posix()
        report = r["folder"] / "report.html"
        link = f"<a href='{folder}/report.html'>{folder}</a>" if report.exists() else folder
        wall = "" if r["wall_s"] is None else f"{r['wall_s']:.0f}"
        cells = [r["experiment"], r["started"], r["state"], r["points"], r["ok"], r["failed"]]
        cells += [f"<code>{r['code_version']}</code>", wall, link]
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")  # names: [\w.-]
    heads = ["experiment", "started", "state", "points", "ok", "failed", "code", "wall s", "run"]
    table = "<table><tr>" + "".join(f"<th>{h}</th>" for h in heads) + "</tr>"
    table += "\n".join(rows) + "</table>"
    body = f"<h1>asrlab runs</h1>\n<p>{len(rows)} runs under <code>{runs_root}</code>.</p>\n"
    path = runs_root / "index.html"
    path.write_text(page("asrlab runs", body + table), encoding="utf-8")
    return path


SECTION = "## Compared with "  # the heading of the section written into run B's report.md


def write_comparison(comparison: Comparison, out: Path | None = None) -> list[Path]:
    """compare.md and compare.json into run B, the table as a section of its report.md (and
    report.html, re-rendered); `out` gets a copy of the Markdown. Returns the files written.

    A second comparison replaces the section rather than adding another.
    """
    folder = comparison.b.path
    body = comparison.markdown()
    figure = _comparison_figure(comparison, folder / "compare.png")
    section = f"{SECTION}`{comparison.a.path}`\n\n{body}" + (
        "\n\n![compared](compare.png)\n" if figure else ""
    )
    blob = json.dumps(_jsonable(comparison.to_json()), indent=2, default=str, allow_nan=False)
    written = {folder / "compare.md": f"# asrlab compare\n\n{body}", folder / "compare.json": blob}
    if out is not None:
        written[out] = f"# asrlab compare\n\n{body}"
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


def _comparison_figure(comparison: Comparison, path: Path) -> bool:
    """compare.png in run B: each point's change per metric with its interval; False when no
    change is a number (nothing to draw)."""
    import pandas as pd

    changes = pd.DataFrame([vars(c) for c in comparison.changes])
    if changes.empty:
        return False
    changes = changes[pd.to_numeric(changes["change"], errors="coerce").notna()]
    changes = changes[changes["verdict"] != "n/a"]
    if changes.empty:
        return False
    from asrlab.analysis import figures

    title = f"{comparison.b.path.name} against {comparison.a.path.name}"
    try:
        figures.comparison_figure(changes, title=title).savefig(path, dpi=100)
    except OSError as e:
        raise ConfigError("run", str(path.parent), f"cannot write the comparison: {e}") from e
    return True


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
