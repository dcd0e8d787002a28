"""The incident's answer, per scenario: what became of jobs A and B under each remedy.

`asrlab reproduce` prints it and the incident sweep's report opens with it (the ``incident``
summary of `asrlab.lab.summaries`). Both are built here from the sweep's combined results table,
so the terminal and report.html say the same thing: per scenario, the scale its thresholds ran
at and one compact table (remedy, A's and B's outcome and seconds, each client's text
shortened). The table fits `WIDTH` terminal columns, counted as displayed (a CJK character
takes two), and the transcripts give way first: the table `asrlab reproduce` printed before
took 211 columns, 290 with the Mandarin transcripts.
"""

from __future__ import annotations

import math
import re
import unicodedata
from typing import Any

import pandas as pd

from asrlab.audio import corpus
from asrlab.service.policy import INCIDENT_ASR_TIMEOUT_S
from asrlab.service.rows import Column, JobRow
from asrlab.service.scaling import MARGIN, Thresholds

WIDTH = 120  # terminal columns the table, its scale line and its notes fit in
COLUMNS = ("remedy", "A", "A s", "B", "B s", "A's text", "B's text")
NUMBERS = ("A s", "B s")  # right-aligned
TEXTS = ("A's text", "B's text")  # shortened first when the table is too wide
GAP = "  "
INDENT = "   "  # the scale line under its scenario's heading
ELLIPSIS = "…"
MIN_TEXT = 10  # a transcript column narrower than this says nothing
MIN_REMEDY = 16  # the remedy column shrinks only when the transcripts are at their minimum

# The client's error text -> the table's outcome (first match); the full text is in
# results.parquet (``client_error``) and in each point's notebook. Matching on the head keeps
# the table one line per remedy.
OUTCOMES = (
    (re.compile(r"ASR task timeout"), "ASR timeout"),
    (re.compile(r"GPU lease timeout: GPU_USAGE_HIGH"), "GPU_USAGE_HIGH"),
    (re.compile(r"GPU lease timeout"), "lease timeout"),
    (re.compile(r"GPU lease refused"), "refused at once"),
    (re.compile(r"job \S+ cancelled"), "cancelled"),
    (re.compile(r"worker \S+ died"), "worker died"),
    (re.compile(r"job \S+ failed in the worker"), "worker error"),
)
NOT_DECODED = "ok, not decoded"
# What an outcome means, printed under the tables for the outcomes they show.
NOTES = {
    "ASR timeout": "the client got `ASR task timeout` at its deadline",
    "GPU_USAGE_HIGH": "the client got `GPU lease timeout: GPU_USAGE_HIGH`, the incident's error",
    "lease timeout": "the client got `GPU lease timeout` (another arbiter state)",
    "refused at once": "the deadline-aware arbiter refused the lease on arrival (its expected "
    "wait exceeded the deadline)",
    "cancelled": "the job's overdue lease was revoked and its decode cancelled",
    NOT_DECODED: "the VAD gate found no speech: the client got an empty transcript",
    "replay failed": "the replay's notebook raised; its executed.html says why",
}


def scenario_of(a_source: str) -> str:
    """``"noise"`` when job A is a generated stress signal, ``"speech"`` otherwise."""
    return "noise" if a_source in corpus.STRESS_SOURCES else "speech"


# -- one line per replay ---------------------------------------------------------------------


def replays(results: pd.DataFrame) -> pd.DataFrame:
    """One row per replay (point) of a sweep's combined table, in the sweep's order: scenario,
    remedy, the `COLUMNS`, and what the figure draws (B's arrival, A's deadline, when A's lease
    turned overdue, the thresholds)."""
    lines = [_replay(rows) for _, rows in results.groupby("point_id", sort=False)]
    return pd.DataFrame(lines)


def _replay(rows: pd.DataFrame) -> dict[str, Any]:
    first = rows.iloc[0]
    params = {
        str(k).removeprefix("param_"): v for k, v in first.items() if str(k).startswith("param_")
    }
    source = str(_get(first, "replay_a_source", params.get("a_source")) or "pink_noise")
    line = {
        "scenario": scenario_of(source),
        "a_source": source,
        "a_length_s": _get(first, "replay_a_length_s", params.get("a_length_s")),
        "a_noise_seed": _get(first, "replay_a_noise_seed", params.get("a_noise_seed")),
        "b_source": _get(first, "replay_b_source", params.get("b_source")),
        "remedy": str(params.get("remedy") or _get(first, "remedy", "?")),
    }
    roles = set(rows[Column.role]) if Column.role in rows else set()
    if first["status"] != "ok" or not {"A", "B"} <= roles:  # the point failed: no job rows
        return line | {"A": "replay failed", "A's text": str(_get(first, "error", ""))}
    flat_a = rows[rows[Column.role] == "A"].iloc[0]
    flat_b = rows[rows[Column.role] == "B"].iloc[0]
    a, b = JobRow.from_flat(flat_a), JobRow.from_flat(flat_b)
    if bool(_get(flat_a, "remedy_peer", False)):
        line["remedy"] += " (peer)"
    thresholds = {str(k): float(v) for k, v in flat_a.items() if str(k).startswith("threshold_")}
    granted = _number(a.t_lease_granted_s)
    hold_max_s = thresholds.get("threshold_hold_max_ms", math.nan) / 1000
    return (
        line
        | _job("A", a, _get(flat_a, "nb_status"))
        | _job("B", b, _get(flat_b, "nb_status"))
        | {
            "B at s": _number(b.received) - _number(a.received),
            "A deadline s": thresholds.get("threshold_asr_timeout_s", math.nan),
            "A overdue at s": granted + hold_max_s,  # NaN when A never held the lease
        }
        | thresholds
    )


def _job(role: str, row: JobRow, nb_status: Any = None) -> dict[str, Any]:
    """A job's outcome, seconds until its client was answered and the transcript it got.

    The sweep renames the notebook's ``status`` column ``nb_status`` where it differs from the
    point's, so that ``row.status`` is then the point's and ``nb_status`` the job's."""
    status = row.status if nb_status is None else nb_status
    label = outcome(str(status), row.client_error, row.notice)
    text = row.text if status == "ok" else None
    return {role: label, f"{role} s": _number(row.total_s), f"{role}'s text": text or ""}


def outcome(status: str, client_error: Any = None, notice: Any = None) -> str:
    """What one client got, in a few words: ``ok``, ``ASR timeout``, ``GPU_USAGE_HIGH``, ..."""
    if status == "ok":
        return NOT_DECODED if notice == "no speech" else "ok"
    error = str(client_error or "")
    for pattern, label in OUTCOMES:
        if pattern.match(error):
            return label
    return error.split(":")[0][:24] or "failed"


def _get(row: pd.Series, key: str, default: Any = None) -> Any:
    """``row[key]``, or ``default`` where the column is missing or the value is NaN/None."""
    value = row.get(key)
    return default if value is None or value is pd.NA or value != value else value


def _number(value: Any) -> float:
    return math.nan if value is None else float(value)


# -- the scale and the notes -----------------------------------------------------------------


def heading(line: pd.Series) -> str:
    """``noise: job A pink_noise 11.2 s (seed 3); job B zh_aishell_...``."""
    length = "" if pd.isna(line["a_length_s"]) else f" {float(line['a_length_s']):g} s"
    seed = "" if pd.isna(line["a_noise_seed"]) else f" (seed {int(line['a_noise_seed'])})"
    seed = seed if line["scenario"] == "noise" or "/" in line["a_source"] else ""
    b = "" if pd.isna(line["b_source"]) else f"; job B {line['b_source']}"
    return f"{line['scenario']}: job A {line['a_source']}{length}{seed}{b}"


def scale_line(lines: pd.DataFrame) -> str:
    """The thresholds the scenario's first successful replay ran with, and what set them."""
    known = _known(lines, "threshold_scale")
    if known.empty:
        return "thresholds unknown: no replay of this scenario succeeded"
    t = _thresholds(known.iloc[0])
    if t.scale == 1.0:  # the notebook's default, and reproduce --absolute
        head = "the incident's thresholds, not scaled"
    else:  # scaling.scale_for inverted: the decode it was given
        decode_s = t.scale * MARGIN * INCIDENT_ASR_TIMEOUT_S
        head = f"scale {t.scale:.3f} (A's decode alone {decode_s:.1f} s)"
    return f"{head}: {_values(t)}"


def _known(lines: pd.DataFrame, column: str) -> pd.DataFrame:
    """The replays that recorded ``column`` (a failed replay recorded nothing)."""
    return lines.dropna(subset=[column]) if column in lines else lines[:0]


def _thresholds(line: pd.Series) -> Thresholds:
    return Thresholds(**{f: float(line[f"threshold_{f}"]) for f in Thresholds.__dataclass_fields__})


def _values(t: Thresholds) -> str:
    guard, hold_max = _seconds(t.segments_timeout_s), _seconds(t.hold_max_ms / 1000)
    # The incident's guard and hold_max are both 20 s: one number keeps the line in WIDTH.
    held = f"guard {guard} s, hold_max {hold_max} s"
    if guard == hold_max:
        held = f"guard and hold_max {guard} s"
    return (
        f"ASR timeout {_seconds(t.asr_timeout_s)} s, {held}, acquire "
        f"{_seconds(t.acquire_timeout_ms / 1000)} s, B at {_seconds(t.b_delay_s)} s"
    )


def _seconds(value: float) -> str:
    """Hundredths below 10 s, tenths below 100 s, whole seconds above: a calibration on a
    loaded machine gives thresholds of minutes, and the line must still fit `WIDTH`."""
    return f"{value:.2f}" if value < 10 else f"{value:.1f}" if value < 100 else f"{value:.0f}"


def exceptions(lines: pd.DataFrame) -> list[str]:
    """The remedies whose own timeouts differ from the scale line's (timeout_60_40)."""
    known = _known(lines, "threshold_asr_timeout_s")
    if known.empty:
        return []
    first = known.iloc[0]
    own = ("threshold_asr_timeout_s", "threshold_segments_timeout_s")
    differ = known[(known[list(own)] != first[list(own)]).any(axis=1)]
    return [
        f"{remedy} ran with its own ASR timeout {_seconds(asr_s)} s, guard {_seconds(guard_s)} s"
        for remedy, asr_s, guard_s in zip(differ["remedy"], *(differ[c] for c in own), strict=True)
    ]


def notes(lines: pd.DataFrame) -> list[str]:
    """``outcome: what it means`` for every outcome the tables show."""
    shown = set(lines.get("A", pd.Series(dtype=str))) | set(lines.get("B", pd.Series(dtype=str)))
    return [f"{label}: {why}" for label, why in NOTES.items() if label in shown]


# -- display width ---------------------------------------------------------------------------


def display_width(text: str) -> int:
    """Terminal columns ``text`` takes: East Asian wide and full-width characters take two,
    combining marks none (`wcwidth` where it is installed, else `unicodedata`)."""
    try:
        from wcwidth import wcswidth
    except ImportError:  # not a declared dependency: the standard library's table will do
        return sum(_char_width(c) for c in text)
    width = wcswidth(text)
    return width if width >= 0 else sum(_char_width(c) for c in text)  # -1: a control character


def _char_width(char: str) -> int:
    if unicodedata.combining(char):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def shorten(text: str, width: int) -> str:
    """``text`` on one line, cut to ``width`` columns with an ellipsis where it is longer."""
    text = " ".join(str(text).split())  # newlines and tabs would break the table's lines
    if display_width(text) <= width:
        return text
    kept, used = [], display_width(ELLIPSIS)
    for char in text:
        used += display_width(char)
        if used > width:
            break
        kept.append(char)
    return "".join(kept).rstrip() + ELLIPSIS


def _pad(text: str, width: int, *, right: bool = False) -> str:
    fill = " " * max(0, width - display_width(text))
    return fill + text if right else text + fill


# -- the compact table -----------------------------------------------------------------------


def widths_for(lines: pd.DataFrame, width: int = WIDTH) -> list[int]:
    """Each column's width for a table of ``lines`` that fits ``width`` terminal columns.
    Computed over every scenario at once, so that their tables line up."""
    rows = _rows(lines)
    natural = [max(display_width(r[i]) for r in rows) for i in range(len(COLUMNS))]
    return _fit(natural, width - len(GAP) * (len(COLUMNS) - 1))


def cells(lines: pd.DataFrame, widths: list[int]) -> list[list[str]]:
    """The table's rows as text, the header first, each cell shortened to its column's width:
    the terminal and the report show these same cells."""
    return [[shorten(v, w) for v, w in zip(row, widths, strict=True)] for row in _rows(lines)]


def _rows(lines: pd.DataFrame) -> list[list[str]]:
    return [list(COLUMNS)] + [[_cell(line, c) for c in COLUMNS] for _, line in lines.iterrows()]


def _cell(line: pd.Series, column: str) -> str:
    value = line.get(column)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return f"{value:.2f}" if column in NUMBERS else str(value)


def _fit(natural: list[int], room: int) -> list[int]:
    """Column widths that sum to at most ``room``: the transcripts share what the other
    columns leave (the shorter one keeps its own width), then the remedy column gives way."""
    widths = dict(zip(COLUMNS, natural, strict=True))
    texts = list(TEXTS)
    fixed = sum(w for c, w in widths.items() if c not in TEXTS)
    left = room - fixed
    if left < MIN_TEXT * len(texts):  # the transcripts at their minimum, the remedy gives way
        over = MIN_TEXT * len(texts) - left
        widths["remedy"] = max(MIN_REMEDY, widths["remedy"] - over)
        left = room - (fixed - natural[0] + widths["remedy"])
    for i, name in enumerate(sorted(texts, key=widths.__getitem__)):  # the narrower first
        share = max(MIN_TEXT, left // (len(texts) - i))
        widths[name] = min(widths[name], share)
        left -= widths[name]
    return [widths[c] for c in COLUMNS]


def terminal_table(lines: pd.DataFrame, widths: list[int]) -> str:
    out = []
    for row in cells(lines, widths):
        padded = [
            _pad(value, widths[i], right=COLUMNS[i] in NUMBERS) for i, value in enumerate(row)
        ]
        out.append(GAP.join(padded).rstrip())
    return "\n".join(out)


def markdown_table(lines: pd.DataFrame, widths: list[int]) -> str:
    rows = cells(lines, widths)
    head, *body = ["| " + " | ".join(_markdown(v) for v in row) + " |" for row in rows]
    rule = "|" + "".join("---:|" if c in NUMBERS else "---|" for c in COLUMNS)
    return "\n".join([head, rule, *body])


def _markdown(text: str) -> str:
    """A cell as literal text: a transcript's ``*`` or ``_`` is not emphasis."""
    return re.sub(r"([\\`*_\[\]<>|#])", r"\\\1", text)


# -- the answer, whole -----------------------------------------------------------------------


def by_scenario(lines: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """The replays per scenario, noise first (the order reproduce runs them)."""
    names = sorted(dict.fromkeys(lines["scenario"]), key=lambda s: s != "noise")
    return [(name, lines[lines["scenario"] == name]) for name in names]


def terminal(results: pd.DataFrame, width: int = WIDTH) -> str:
    """What `asrlab reproduce` prints: per scenario a heading, the scale line and the table;
    then what each outcome means. Every line fits ``width`` columns."""
    lines = replays(results)
    widths = widths_for(lines, width)
    out: list[str] = []
    for _, rows in by_scenario(lines):
        out += ["", shorten(f"== scenario {heading(rows.iloc[0])}", width)]
        out += [INDENT + shorten(scale_line(rows), width - len(INDENT))]
        out += [terminal_table(rows, widths)]
        out += [INDENT + shorten(e, width - len(INDENT)) for e in exceptions(rows)]
    out += [""] + [shorten(n, width) for n in notes(lines)]
    return "\n".join(out)


def markdown(lines: pd.DataFrame, figure: str | None = None) -> str:
    """The report's answer: per scenario a heading, the scale line and the table, then the
    figure of both scenarios (``figure``: its file name in the run folder) and the notes."""
    widths = widths_for(lines)
    out: list[str] = []
    for _, rows in by_scenario(lines):
        out += [f"### {_markdown(heading(rows.iloc[0]))}", "", _markdown(scale_line(rows)), ""]
        out += [markdown_table(rows, widths), ""]
        out += [f"- {_markdown(e)}" for e in exceptions(rows)]
        out += [""] if exceptions(rows) else []
    if figure:
        out += [f"![A and B under each remedy, both scenarios]({figure})", ""]
    out += [f"- {n}" for n in notes(lines)]  # backticks kept: the client's exact text as code
    return "\n".join(out) + "\n"
