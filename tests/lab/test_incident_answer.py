"""The incident's answer (`asrlab.lab.incident`): the compact table `asrlab reproduce` prints
fits 120 terminal columns with Mandarin transcripts, and the sweep's report opens with it.

No replay runs here: the combined results table is built as the sweep writes it (two job rows
per point, the notebook's ``status`` renamed ``nb_status`` where it differs from the point's),
with the README's remedies and the texts that once made the table 290 columns wide.
"""

from __future__ import annotations

import sys
import unicodedata
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from asrlab.lab import incident
from asrlab.lab.experiment import parse_experiment
from asrlab.lab.outcomes import PointOutcome, SweepResult
from asrlab.lab.reports import write_reports
from asrlab.service import rows as jobrows
from asrlab.service.rows import JobRow

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "01_incident_replay.ipynb"
# The speech scale as a loaded machine measured it (A's decode 458 s): thresholds of minutes.
SCALES = {"pink_noise": 0.6756201860000004, "hard_speech/zh_c1_babble-5dB": 11.4471234567}
MANDARIN = "而对楼市成交抑制作用最大的限购措施也在短期内不会放开这是记者今天从有关方面了解到的"
LOOP = "1-2-3-4-4-4-4-4-4-4-4-4-4-4-4-4-4-4-4-4-4-4-4-4-4-4-4-4-4-4-4-4-4-4-4-4-4-4-4-4"
TIMEOUT = "ASR task timeout: job A passed its 21.2 s deadline while running (told after 21.203 s)"
HIGH = "GPU lease timeout: GPU_USAGE_HIGH"
REFUSED = (
    "GPU lease refused: expected wait unbounded (a lease is overdue) exceeds the remaining "
    "deadline 6330 ms"
)
CANCELLED = "job A cancelled: lease 1 revoked: held past its hold_max_ms"
# remedy -> (A: status, client error, seconds, text, notice), (B: ...), as in the README's table
OUTCOMES: dict[str, tuple[tuple[Any, ...], tuple[Any, ...]]] = {
    "incident": (("failed", TIMEOUT, 21.2, "", ""), ("failed", HIGH, 3.55, "", "")),
    "timeout_60_40": (("ok", None, 26.62, LOOP, ""), ("failed", HIGH, 3.55, "", "")),
    "vad_gate": (("ok", None, 0.03, "", "no speech"), ("ok", None, 2.32, MANDARIN, "")),
    "no_fallback": (("ok", None, 10.23, LOOP, ""), ("ok", None, 2.69, MANDARIN, "")),
    "revoke_overdue": (("failed", CANCELLED, 14.25, "", ""), ("ok", None, 2.83, MANDARIN, "")),
    "deadline_aware": (("failed", TIMEOUT, 21.2, "", ""), ("failed", REFUSED, 0.03, "", "")),
    "vad_gate+hard_kill+no_fallback+beam_5": (
        ("ok", None, 2.36, MANDARIN, ""),
        ("ok", None, 2.65, MANDARIN, ""),
    ),
    "hallucination_silence": (("failed", TIMEOUT, 21.2, "", ""), ("failed", HIGH, 3.55, "", "")),
    "recommended": (("ok", None, 1.76, MANDARIN, ""), ("ok", None, 1.0, MANDARIN, "")),
}


def replay_rows(point_id: str, remedy: str, a_source: str) -> pd.DataFrame:
    """One point's two job rows as the sweep combines them: the notebook's table of `JobRow`s
    and settings (`ReplayResult.frame`), its ``status`` kept as ``nb_status``, the point's
    columns added."""
    scale = SCALES[a_source]
    asr, guard = (60.0, 40.0) if remedy == "timeout_60_40" else (30.0, 20.0)
    settings = {
        "remedy_peer": remedy == "hallucination_silence", "replay_a_source": a_source,
        "replay_a_length_s": 11.2, "replay_a_noise_seed": 3 if a_source == "pink_noise" else 0,
        "replay_b_source": "zh_aishell_BAC009S0724W0121", "threshold_scale": scale,
        "threshold_asr_timeout_s": asr * scale, "threshold_segments_timeout_s": guard * scale,
        "threshold_hold_max_ms": 20000.0 * scale, "threshold_acquire_timeout_ms": 5000.0 * scale,
        "threshold_b_delay_s": 21.0 * scale,
    }  # fmt: skip
    point = {
        "point_id": point_id, "status": "ok", "error": None, "param_remedy": remedy,
        "param_a_source": a_source, "param_threshold_scale": scale,
    }  # fmt: skip
    rows = [
        JobRow(
            job_id=role,
            remedy=remedy,
            status=status,
            role=role,
            client_error=error,
            total_s=seconds,
            text=text,
            notice=notice,
            received=0.0 if role == "A" else 21 * scale,
            t_lease_granted_s=0.03 if role == "A" and not notice else None,
        )
        for role, (status, error, seconds, text, notice) in zip("AB", OUTCOMES[remedy], strict=True)
    ]
    table = jobrows.frame(rows, settings)
    return table.rename(columns={"status": "nb_status"}).assign(**point)


def results_table(point_ids: list[str] | None = None) -> pd.DataFrame:
    """Both scenarios, every remedy of `OUTCOMES`, and one point whose notebook failed."""
    pairs = [(s, r) for s in SCALES for r in OUTCOMES]
    ids = point_ids or [f"{i:03d}-abcdef-r0" for i in range(len(pairs) + 1)]
    frames = [replay_rows(i, r, s) for i, (s, r) in zip(ids, pairs, strict=False)]
    failed = {"point_id": ids[len(pairs)], "status": "failed", "error": "ValueError: boom"}
    failed |= {"param_remedy": "beam_5", "param_a_source": "pink_noise"}
    return pd.concat([*frames, pd.DataFrame([failed])], ignore_index=True)


def columns_of(line: str) -> int:
    """Terminal columns, counted independently of the code under test."""
    return sum(2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in line)


@pytest.mark.parametrize("wcwidth", [True, False], ids=["wcwidth", "unicodedata"])
def test_compact_table_fits_120_columns_with_cjk(
    wcwidth: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not wcwidth:  # the fallback when wcwidth is not installed
        monkeypatch.setitem(sys.modules, "wcwidth", None)
    text = incident.terminal(results_table())
    lines = text.splitlines()
    assert max(columns_of(line) for line in lines) <= incident.WIDTH
    table = [line for line in lines if line.startswith("vad_gate ")]
    assert len(table) == 2 and all(MANDARIN[:4] in line for line in table)
    assert "…" in text and LOOP not in text  # shortened, with an ellipsis
    assert "vad_gate+hard_kill+no_fallback+beam_5" in text  # remedy names stay whole
    assert "inf ms" not in text and "refused at once" in text
    assert "hallucination_silence (peer)" in text and "replay failed" in text
    assert text.count("== scenario ") == 2 and text.index("== scenario noise") < text.index(
        "== scenario speech"
    )
    assert "scale 0.676 (A's decode alone 27.0 s): ASR timeout 20.3 s" in text
    scales = [line for line in lines if line.startswith("   scale ")]
    assert len(scales) == 2 and not any("…" in line for line in scales)  # whole, not cut
    headers = {line for line in lines if line.startswith("remedy ")}
    assert len(headers) == 1  # both scenarios' tables line up
    assert "timeout_60_40 ran with its own ASR timeout 40.5 s" in text


def test_display_width_counts_wide_characters_twice() -> None:
    assert incident.display_width("ab中文") == 6
    assert incident.shorten("中文中文中文", 7) == "中文中…"  # 6 + 1: a wide char never half fits
    assert incident.outcome("failed", REFUSED) == "refused at once"
    assert incident.outcome("failed", "something odd: detail") == "something odd"


def test_report_opens_with_the_answer_then_the_machinery(tmp_path: Path) -> None:
    """report.md and report.html of a small incident run folder: the answer (per scenario the
    scale and the table, then one figure of both scenarios) before the counts, the points with
    their parameters rounded, and the per-point timelines."""
    remedies = ["incident", "deadline_aware", "recommended"]
    zipped = {
        "a_source": [s for s in SCALES for _ in remedies],
        "remedy": remedies * len(SCALES),
        "threshold_scale": [SCALES[s] for s in SCALES for _ in remedies],
    }
    spec = {"notebook": str(NOTEBOOK), "grid": {"zip": zipped}, "description": "tiny"}
    experiment = parse_experiment(spec, default_name="incident")
    points = experiment.points()
    frames = [replay_rows(p.point_id, p.params["remedy"], p.params["a_source"]) for p in points]
    outcomes = tuple(PointOutcome(p, "key", "ok", None, 1.0, False, {}) for p in points)
    for p in points:  # what each point's notebook leaves: its timeline
        (tmp_path / "points" / p.point_id).mkdir(parents=True)
        (tmp_path / "points" / p.point_id / "timeline.png").write_bytes(b"png")
    results = pd.concat(frames, ignore_index=True)
    result = SweepResult(results, tmp_path, len(points), 0, 0, 1.0, 1, outcomes)
    write_reports(experiment, result)

    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    order = ["## Answer", "### noise", "| deadline\\_aware | ASR timeout |", "### speech"]
    order += ["](incident.png)", "## The sweep", "## Points", "/timeline.png)"]
    found = [md.index(s) for s in order]
    assert found == sorted(found), list(zip(order, found, strict=True))
    assert "remedy=incident, threshold_scale=0.6756 |" in md and "0.675620186" not in md
    assert "(a_source=pink_noise, remedy=incident, threshold_scale=0.6756)" in md  # timelines
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    order = ["<h2>Answer</h2>", "<table>", "refused at once", 'src="incident.png"']
    order += ["<h2>The sweep</h2>", 'src="points/']
    found = [page.index(s) for s in order]
    assert found == sorted(found), list(zip(order, found, strict=True))
    assert "inf ms" not in page.split("<h2>The sweep</h2>")[0]
    assert (tmp_path / "incident.png").stat().st_size > 10_000
