"""The scoreboard's pure parts: the Pareto front, worst-case RTF, corpus error rates."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from asrlab.analysis import scoreboard


@pytest.mark.parametrize(
    ("rows", "front"),
    [
        ([(0.0, 1.0), (0.5, 0.5), (1.0, 0.0)], [True, True, True]),  # a trade-off: all on it
        ([(0.0, 1.0), (0.1, 1.1), (1.0, 0.0)], [True, False, True]),  # worse on both
        ([(0.2, 0.2), (0.2, 0.2)], [True, True]),  # equal rows dominate neither
        ([(0.2, 0.2), (0.2, 0.3)], [True, False]),  # as good on one, worse on the other
        ([(0.1, math.nan), (0.2, 0.2)], [True, True]),  # NaN counts as worst, not as best
        ([(0.3, math.nan), (0.2, 0.2)], [False, True]),
    ],
)
def test_pareto_front(rows: list[tuple[float, float]], front: list[bool]) -> None:
    frame = pd.DataFrame(rows, columns=["a", "b"])
    assert scoreboard.pareto_front(frame, ["a", "b"]).tolist() == front


def test_worst_rtf_over_stress_jobs() -> None:
    jobs = pd.DataFrame(
        {
            "audio_class": ["speech", "pink_noise", "pink_noise", "white_noise"],
            "latency_s": [9.0, 30.0, 2.0, 5.5],
            "audio_s": [3.0, 11.2, 11.2, 11.0],
        }
    )
    assert scoreboard.worst_rtf(jobs) == 3.0
    assert scoreboard.worst_rtf(jobs, scoreboard.STRESS_CLASSES) == pytest.approx(30.0 / 11.2)
    assert math.isnan(scoreboard.worst_rtf(jobs, ["tone"]))


def test_error_rates_pool_errors_over_reference_lengths() -> None:
    rows = pd.DataFrame(
        {
            "language": ["en", "en", "zh", ""],
            "errors": [1, 3, 2, 5],
            "ref_len": [10, 30, 8, 0],
        }
    )
    rates = scoreboard.error_rates(rows)
    assert rates == {"wer_en": pytest.approx(4 / 40), "cer_zh": pytest.approx(2 / 8)}


def test_summaries_table_and_guard(tmp_path) -> None:
    from asrlab.lab import summaries

    frame = pd.DataFrame({"a": [1.0, math.nan], "b": ["x|y", "z"]})
    assert summaries.markdown_table(frame).splitlines() == [
        "| a | b |", "|---|---|", "| 1 | x\\|y |", "| - | z |"
    ]
    failed = pd.DataFrame({"status": ["failed"]})
    assert summaries.across_points("beam_size", failed, tmp_path) is None
    assert summaries.across_points(None, failed, tmp_path) is None
    broken = pd.DataFrame({"status": ["ok"]})  # no result columns: reported, not raised
    assert "failed: KeyError" in summaries.across_points("beam_size", broken, tmp_path)
