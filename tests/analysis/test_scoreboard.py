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
        "| a | b |",
        "|---|---|",
        "| 1 | x\\|y |",
        "| - | z |",
    ]
    failed = pd.DataFrame({"status": ["failed"]})
    assert summaries.across_points("beam_size", failed, tmp_path) is None
    assert summaries.across_points(None, failed, tmp_path) is None
    broken = pd.DataFrame({"status": ["ok"]})  # no result columns: reported, not raised
    assert "failed: KeyError" in summaries.across_points("beam_size", broken, tmp_path)


def _rows(spec: list[tuple]) -> pd.DataFrame:
    """evaluate-shaped rows: (item_id, language, reference, errors, ref_len, hyp_words, rtf)."""
    cols = ["item_id", "language", "reference", "errors", "ref_len", "hyp_words", "job_rtf"]
    rows = pd.DataFrame(spec, columns=cols)
    rows["audio_class"] = rows["item_id"].str.partition("/")[0]
    wordless = (rows["reference"] == "") & (rows["hyp_words"] > 0)
    rows["known_phrases"] = wordless.map({True: 1, False: None})  # one bag phrase each
    return rows


def test_judged_splits_the_corpus_by_what_each_clip_holds() -> None:
    rows = _rows(
        [
            ("clean_en/a", "en", "x y", 1, 10, 10, 0.2),
            ("clean_zh/b", "zh", "x", 2, 20, 20, 0.3),
            ("hard_speech/zh_c0_pink-7dB", "zh", "x", 9, 10, 4, 1.2),
            ("hard_speech/en_c0_babble-5dB", "en", "x", 3, 10, 12, 0.9),
            ("hard_speech/en_c0_reversed", "", "", 5, 0, 5, 0.6),  # wordless
            ("noise/white_noise_seed0", "", "", 0, 0, 0, 0.05),
            ("noise/pink_noise_seed0", "", "", 3, 0, 3, 0.5),
        ]
    )
    floor = rows.assign(job_rtf=0.4)[rows["audio_class"] != "clean_en"]
    out = scoreboard.judged(rows, floor)
    assert out["wer_en"] == pytest.approx(0.1) and out["cer_zh"] == pytest.approx(0.1)
    assert out["error_hard"] == pytest.approx(12 / 20)  # pooled over the two with words
    assert out["rtf_worst_hard"] == 1.2 and out["rtf_worst_noise"] == 0.5
    assert out["floor_ratio_worst"] == pytest.approx(1.2 / 0.4)
    assert out["emitted_per_clip"] == pytest.approx(8 / 3)  # reversed speech and the noise
    assert out["emitted_share"] == pytest.approx(2 / 3) and out["known_phrases"] == 2
    assert out["error_rate_mean"] == pytest.approx((0.1 + 0.1 + 0.6) / 3)


def _board(lines: list[tuple]) -> pd.DataFrame:
    """Scoreboard lines; the paired columns give each language the same difference and upper end."""
    cols = [
        "remedy", "peer", "failure_rate", "latency_p95_s", "error_rate_mean", "d", "d_high",
        "floor_ratio_worst", "emitted_per_clip",
    ]  # fmt: skip
    board = pd.DataFrame(lines, columns=cols)
    for name in ("wer_en", "cer_zh"):
        board[f"d_{name}"], board[f"d_{name}_high"] = board["d"], board["d_high"]
    return board.drop(columns=["d", "d_high"])


BOARD = _board(
    [
        ("incident", False, 0.5, 30.0, 0.40, 0.0, 0.0, 9.0, 6.0),
        ("batched", True, 0.0, 4.0, 0.45, 0.02, 0.03, 0.8, 3.0),
        ("good", False, 0.0, 3.0, 0.40, 0.004, 0.012, 1.4, 1.0),
        ("cheap", False, 0.0, 3.0, 0.40, 0.0, 0.0, 1.2, 1.0),  # passes, and cheaper than good
        ("slow", False, 0.0, 3.0, 0.40, 0.0, 0.0, 1.6, 1.0),  # floor ratio over 1.5
        ("sloppy", False, 0.0, 3.0, 0.40, 0.02, 0.03, 1.0, 1.0),  # 2 points worse
        ("unsure", False, 0.0, 3.0, 0.40, 0.004, 0.02, 1.0, 1.0),  # point fine, interval wide
        ("chatty", False, 0.0, 3.0, 0.40, 0.0, 0.0, 1.0, 4.0),  # emits more than batched
        ("dominated", False, 0.1, 5.0, 0.50, 0.0, 0.0, 1.0, 1.0),  # batched beats it on all
    ]
)


@pytest.mark.parametrize(
    ("name", "failed"),
    [
        ("good", set()),
        ("cheap", set()),
        ("slow", {"ok_floor"}),
        ("sloppy", {"ok_accuracy"}),
        ("unsure", {"ok_accuracy"}),
        ("chatty", {"ok_emitted"}),
        ("dominated", {"ok_front"}),
        ("incident", {"ok_floor", "ok_emitted"}),  # its own base: differences are 0
    ],
)
def test_bars_name_each_bar_a_remedy_misses(name: str, failed: set[str]) -> None:
    judged = scoreboard.bars(BOARD).set_index("remedy")
    oks = {c for c in judged.columns if c.startswith("ok_")}
    assert {c for c in oks if not judged.loc[name, c]} == failed
    assert judged.loc[name, "passes"] == (not failed)
    assert (scoreboard.misses(judged.loc[name]) == "") == (not failed)


def test_bars_favour_the_first_that_passes_and_leave_out_the_peers() -> None:
    judged = scoreboard.bars(BOARD)
    assert list(judged["remedy"].iloc[:2]) == ["cheap", "good"]  # the cheapest that passes
    assert "batched" not in set(judged["remedy"])
    with pytest.raises(Exception, match="batched"):
        scoreboard.bars(BOARD[BOARD["remedy"] != "batched"])


def test_where_none_passes_the_cheapest_that_keeps_the_accuracy_is_favoured() -> None:
    """Issue 20: no remedy clears every bar, so the pick is the cheapest accurate one."""
    board = BOARD[BOARD["remedy"].isin(["incident", "batched", "slow", "sloppy", "chatty"])]
    judged = scoreboard.bars(board)
    assert list(judged["remedy"]) == ["chatty", "slow", "incident", "sloppy"]
    assert scoreboard.misses(judged.iloc[0]) == "+1.0 units per wordless clip beyond the peer's"
    assert scoreboard.misses(judged.iloc[1]) == "cost 1.600x the greedy floor (bar 1.5x)"
    assert "accuracy +2.00 points, upper end +3.00" in scoreboard.misses(judged.iloc[3])


def test_a_board_without_paired_columns_keeps_no_accuracy() -> None:
    board = BOARD.drop(columns=[c for c in BOARD.columns if c.startswith("d_")])
    judged = scoreboard.bars(board).set_index("remedy")
    assert not judged.loc["good", "ok_accuracy"] and judged.loc["incident", "ok_accuracy"]


def _clean(spec: list[tuple]) -> pd.DataFrame:
    """Clean rows (item_id, language, errors, ref_len)."""
    rows = pd.DataFrame(spec, columns=["item_id", "language", "errors", "ref_len"])
    rows["audio_class"] = rows["item_id"].str.partition("/")[0]
    return rows.assign(reference="x")


def test_paired_compares_the_same_utterances_per_language() -> None:
    base = _clean([("s/a", "en", 1, 10), ("s/b", "en", 0, 10), ("z/c", "zh", 2, 20)])
    other = _clean([("s/b", "en", 1, 10), ("s/a", "en", 1, 10), ("z/c", "zh", 2, 20)])
    found = scoreboard.paired(other, base)
    assert found["wer_en"].value == pytest.approx(0.05) and found["wer_en"].n == 2
    assert found["cer_zh"].value == 0.0 and found["cer_zh"].high == 0.0
    columns = scoreboard.paired_columns(other, base)
    assert columns["d_wer_en"] == pytest.approx(0.05) and columns["n_zh"] == 1
    assert math.isnan(scoreboard.paired_columns(other, None)["d_wer_en"])
    with pytest.raises(Exception, match="same ones"):
        scoreboard.paired(other.iloc[:2], base)
