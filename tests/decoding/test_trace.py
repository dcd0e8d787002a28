"""The trace's records: `DecodeTrace.to_dict` and `from_dict` round-trip, with no model."""

from __future__ import annotations

import json

import pytest

from asrlab.decoding.trace import (
    ACCEPTED,
    ALL_FAILED,
    RETRY,
    Attempt,
    DecodeTrace,
    SegmentRecord,
    Window,
    WindowOutcome,
)


def _attempt(window: int, index: int, verdict: str, failed: tuple[str, ...] = ()) -> Attempt:
    return Attempt(
        window=window, index=index, temperature=0.2 * index, mode="beam", beam_size=5,
        hypotheses=1, tokens=12, tokens_all=12, token_limit=224, seconds=0.75 + index,
        compression_ratio=2.6 if failed else 1.3, avg_logprob=-0.4, no_speech_prob=0.02,
        failed=failed, verdict=verdict, text=" words",
    )  # fmt: skip


def _trace() -> DecodeTrace:
    """Every kind of window: text after a retry, a loop that failed, one stopped before its
    attempts, and one stopped inside its fallback loop."""
    return DecodeTrace(
        model="base",
        audio_s=95.5,
        config={"beam_size": 5, "temperature": [0.0, 0.2], "config_hash": "abc123"},
        compute_type="int8_float32",
        audio_decode_s=0.05,
        feature_s=0.21,
        language="en",
        language_probability=0.97,
        language_detected=True,
        language_encode_s=0.4,
        language_detect_s=0.01,
        transcribe_s=0.7,
        iterate_s=6.3,
        windows=[
            Window(
                0,
                encode_s=0.38,
                attempts=[
                    _attempt(0, 0, RETRY, ("compression ratio 2.60 > 2.4",)),
                    _attempt(0, 1, ACCEPTED),
                ],
                outcome=WindowOutcome.SEGMENTS,
                n_segments=1,
                start_s=0.0,
            ),
            Window(
                1,
                encode_s=0.37,
                attempts=[_attempt(1, 0, ALL_FAILED, ("compression ratio 2.60 > 2.4",))],
                outcome=WindowOutcome.UNINTELLIGIBLE,
            ),
            Window(2, encode_s=0.36, outcome=WindowOutcome.STOPPED),
            Window(3, encode_s=0.35, attempts=[_attempt(3, 0, RETRY, ("log prob",))]),
        ],
        segments=[SegmentRecord(0, 0.0, 4.2, " Words.", 0.2, -0.4, 1.3, 0.02)],
        finished=False,
        stopped_reason="deadline passed 0.120 s earlier, before a decoding attempt",
        rebuild_s=0.3,
    )


def test_a_trace_reads_back_as_it_was_written() -> None:
    trace = _trace()
    assert DecodeTrace.from_dict(trace.to_dict()) == trace


def test_a_trace_reads_back_from_its_json() -> None:
    trace = _trace()
    back = DecodeTrace.from_dict(json.loads(json.dumps(trace.to_dict())))
    assert back == trace
    assert [w.outcome for w in back.windows] == [
        WindowOutcome.SEGMENTS,
        WindowOutcome.UNINTELLIGIBLE,
        WindowOutcome.STOPPED,
        WindowOutcome.PENDING,
    ]
    assert all(isinstance(w.outcome, WindowOutcome) for w in back.windows)
    assert back.attempts[0].failed == ("compression ratio 2.60 > 2.4",)  # a tuple again
    assert back.text == "Words." and back.wall_s == pytest.approx(7.0)


def test_what_the_trace_derives_is_computed_again_not_read() -> None:
    blob = _trace().to_dict()
    blob["summary"] |= {"wall_s": -1.0, "text": "stale", "sampled": False}
    back = DecodeTrace.from_dict(blob)
    assert back.wall_s == pytest.approx(7.0) and back.text == "Words." and back.sampled


def test_a_window_outcome_serialises_as_its_string() -> None:
    assert json.dumps(WindowOutcome.NO_SPEECH) == '"no_speech"'
    assert WindowOutcome.UNINTELLIGIBLE == "unintelligible"
    assert f"{WindowOutcome.STOPPED}" == "stopped"
