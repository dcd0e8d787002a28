"""The traced model: what it records, that it records all of it, and that it changes nothing."""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import pytest
from faster_whisper import WhisperModel

from asrlab.audio import corpus
from asrlab.audio.signals import white_noise
from asrlab.decoding import models
from asrlab.decoding.decoder import TracedModel, _BudgetedTemperatures, _Recorder
from asrlab.decoding.options import DecodeConfig, preset
from asrlab.decoding.trace import (
    ACCEPTED,
    ALL_FAILED,
    NO_SPEECH,
    OVER_BUDGET,
    RETRY,
    DecodeTrace,
    WindowOutcome,
    render_text,
)
from asrlab.decoding.verdicts import RawAttempt
from asrlab.service.remedies import remedy

# Must-show 3 of issue 2: the named stages explain at least this share of the wall time.
MIN_COVERAGE = 0.95


@pytest.mark.model
@pytest.mark.slow
def test_noise_walks_the_fallback_ladder(noise_trace: DecodeTrace) -> None:
    """docs/incident.md's pattern: repetition loops retried at rising temperatures, then dropped."""
    t = noise_trace
    print(render_text(t))
    assert t.language_detected and t.language != "en"
    assert len(t.windows) == 1
    temps = [a.temperature for a in t.attempts]
    assert temps == sorted(temps) and temps[0] == 0.0 and len(temps) >= 3
    assert t.attempts[0].mode == "beam" and t.attempts[0].beam_size == 10
    assert all(a.mode == "sampling" and a.hypotheses == 5 for a in t.attempts[1:])
    # Every attempt but the last failed a named check and was retried.
    assert all(a.verdict == RETRY and a.failed for a in t.attempts[:-1])
    assert t.attempts[-1].verdict in (NO_SPEECH, ACCEPTED, ALL_FAILED)
    # The greedy attempt is a repetition loop that runs to the token limit.
    assert t.attempts[0].hit_token_limit
    assert any("compression_ratio" in f for f in t.attempts[0].failed)
    # The work is in the iteration, not in transcribe().
    assert t.iterate_s >= 10 * t.transcribe_s


@pytest.mark.model
@pytest.mark.slow
def test_language_detection_encodes_the_first_window_twice(noise_trace: DecodeTrace) -> None:
    assert noise_trace.encoder_passes == 2
    assert noise_trace.language_encode_s > 0 and noise_trace.windows[0].encode_s > 0


@pytest.mark.model
def test_forced_language_encodes_once(base_model: TracedModel) -> None:
    cfg = preset("incident", language="en")
    trace = base_model.run(corpus.get("en_librispeech_1089-134686-0001").load(), cfg)
    assert not trace.language_detected and trace.language == "en"
    assert trace.encoder_passes == 1 and trace.language_encode_s == 0


@pytest.mark.model
def test_jfk_is_one_window_one_accepted_attempt(jfk_trace: DecodeTrace) -> None:
    t = jfk_trace
    print(render_text(t))
    assert t.language == "en" and t.language_detected
    assert len(t.windows) == 1 and t.windows[0].outcome == "segments"
    [attempt] = t.attempts
    assert attempt.temperature == 0.0 and attempt.verdict == ACCEPTED and not attempt.failed
    assert "ask not what your country can do for you" in t.text.lower()


@pytest.mark.parametrize("name", ["noise_trace", "jfk_trace"])
@pytest.mark.model
@pytest.mark.slow
def test_stages_explain_the_wall_time(
    name: str, request: pytest.FixtureRequest, noise_trace: DecodeTrace
) -> None:  # noise_trace: asked for by name below too, so that the test is marked as its cost
    trace: DecodeTrace = request.getfixturevalue(name)
    print(f"{name}: traced {trace.traced_s:.3f} s of {trace.wall_s:.3f} s = {trace.coverage:.2%}")
    assert trace.finished
    assert trace.coverage >= MIN_COVERAGE
    shares = sum(r["share"] for r in trace.stage_rows())
    assert shares == pytest.approx(1.0, abs=1e-6)  # the table's rows add up to the wall time


@pytest.mark.model
def test_tracing_changes_no_result(jfk_trace: DecodeTrace, incident: DecodeConfig) -> None:
    bare = WhisperModel(models.resolve("base"), device="cpu", compute_type="int8", cpu_threads=2)
    segments, _ = bare.transcribe(corpus.get("jfk").load(), **incident.transcribe_kwargs())
    assert [s.text for s in segments] == [s.text for s in jfk_trace.segments]


@pytest.mark.model
def test_sampling_is_seeded(base_model: TracedModel) -> None:
    """Fallback attempts sample; the same seed must give the same tokens (docs/incident.md)."""
    noise = white_noise(6.0, seed=3)
    cfg = preset("incident", temperature=(1.0,), best_of=2, max_new_tokens=40, language="en")

    first, again = (base_model.run(noise, replace(cfg, seed=7)) for _ in range(2))
    assert [(a.tokens_all, a.text) for a in first.attempts] == [
        (a.tokens_all, a.text) for a in again.attempts
    ]
    # What repeating costs: a model that sampled is rebuilt before the next decode, which
    # waits for it outside its own wall time (the simulator charges it: asrlab.sim.core).
    greedy = replace(cfg, temperature=(0.0,))
    after_sampling, after_greedy = (base_model.run(noise, greedy) for _ in range(2))
    assert first.sampled and again.sampled and not after_sampling.sampled
    assert again.rebuild_s > 0 and after_sampling.rebuild_s > 0 and after_greedy.rebuild_s == 0
    assert after_sampling.summary()["rebuild_s"] == after_sampling.rebuild_s


@pytest.mark.model
def test_drop_in_transcribe_counts_only_time_inside_the_generator(
    base_model: TracedModel,
) -> None:
    clip = corpus.get("en_librispeech_1089-134686-0001").load()
    segments, info = base_model.transcribe(clip, beam_size=1, language="en")
    trace = base_model.last_trace
    assert trace is not None and not trace.finished and not trace.windows  # nothing decoded yet
    pause_s = 0.3
    t0 = time.perf_counter()
    for _ in segments:
        time.sleep(pause_s)  # the caller's own work between segments
    wall = time.perf_counter() - t0
    assert trace.finished and trace.segments
    assert trace.iterate_s <= wall - pause_s * len(trace.segments) + 1e-3
    assert info.language == "en"


@pytest.mark.model
def test_max_new_tokens_caps_the_loop(base_model: TracedModel) -> None:
    noise = white_noise(11.0, seed=1)
    trace = base_model.run(noise, preset("incident", temperature=(0.0,), max_new_tokens=40))
    [attempt] = trace.attempts
    assert attempt.tokens <= attempt.token_limit <= 40


@pytest.mark.model
def test_trace_to_dict_is_json_ready(jfk_trace: DecodeTrace) -> None:
    import json

    blob = json.loads(json.dumps(jfk_trace.to_dict()))
    assert blob["summary"]["attempts"] == 1
    assert blob["windows"][0]["attempts"][0]["verdict"] == ACCEPTED
    assert np.isclose(blob["summary"]["wall_s"], jfk_trace.wall_s)
    # ... and reads back: the same trace, also from its JSON (tuples come back as lists).
    assert DecodeTrace.from_dict(jfk_trace.to_dict()) == jfk_trace
    assert json.loads(json.dumps(DecodeTrace.from_dict(blob).to_dict())) == blob


@pytest.mark.model
def test_the_trace_records_the_compute_type_the_model_was_loaded_as(
    base_model: TracedModel, jfk_trace: DecodeTrace
) -> None:
    """The config asks for ``auto`` (hashed as such); the trace says what CTranslate2 ran."""
    assert jfk_trace.config["compute_type"] == "auto"
    assert jfk_trace.compute_type == base_model.compute_type == base_model.model.compute_type
    assert jfk_trace.compute_type in models.COMPUTE_TYPES and jfk_trace.compute_type != "auto"


@pytest.mark.parametrize(
    "clip", ["jfk", "zh_aishell_BAC009S0724W0121", "en_ljspeech_LJ028-0030_to_0039_long"]
)
@pytest.mark.model
def test_reusing_the_language_encoding_changes_no_transcript(
    base_model: TracedModel, incident: DecodeConfig, clip: str
) -> None:
    """Window 0 encoded once (language detection's encoding handed to the decode) gives the
    transcript of production's double pass, on a short clip of each language and a 72 s one."""
    samples = corpus.get(clip).load()
    production = base_model.run(samples, incident)
    reused = base_model.run(samples, replace(incident, reuse_language_encoding=True))
    assert [s.text for s in reused.segments] == [s.text for s in production.segments]
    assert reused.language == production.language and reused.text
    assert production.windows[0].encode_s > 0 and reused.language_encode_s > 0
    assert reused.windows[0].encode_s == 0.0  # the decode did not encode window 0 again
    assert (production.encoder_passes, reused.encoder_passes) == (2, 1)
    assert [w.encode_s > 0 for w in reused.windows[1:]] == [True] * (len(reused.windows) - 1)


# --- the lab's additions to the loop, and the peers ------------------------------------------


@pytest.mark.parametrize(
    ("spent_s", "multiple", "handed_out"),
    [
        ([], 3.0, 1),  # the first attempt is always made
        ([1.0], 3.0, 2),  # 1 s spent + 1 s expected <= 3 s
        ([1.0, 1.0], 3.0, 3),  # 2 + 1 <= 3
        ([1.0, 1.5], 3.0, 2),  # 2.5 + 1.5 > 3: stop before the third
        ([1.0], 1.0, 1),  # a budget of the first attempt alone: no retry
        ([1.0, 0.1, 0.1, 0.1, 0.1], 100.0, 6),  # never binding: the whole ladder
    ],
)
def test_the_budget_hands_out_temperatures_while_the_window_can_afford_them(
    spent_s: list[float], multiple: float, handed_out: int
) -> None:
    """The ladder asks for its next temperature after each attempt; the budget answers from
    what the window has spent so far, the next attempt estimated at the last one's cost."""
    rec = _Recorder(DecodeTrace(model="m", audio_s=1.0, config={}))
    ladder = _BudgetedTemperatures([0.0, 0.2, 0.4, 0.6, 0.8, 1.0], rec, multiple)
    taken = []
    for t in ladder:
        taken.append(t)
        if len(taken) > len(spent_s):
            break
        rec.raw.append(RawAttempt(spent_s[len(taken) - 1], 0, {}, None))
    assert len(taken) == min(handed_out, len(spent_s) + 1)
    assert rec.over_budget == (handed_out <= len(spent_s))


@pytest.mark.model
def test_the_fallback_budget_stops_the_ladder_and_keeps_faster_whispers_pick(
    base_model: TracedModel, incident: DecodeConfig
) -> None:
    """A log-prob threshold no attempt can meet makes every attempt of jfk.flac fail: without a
    budget the whole ladder runs; with a budget of one attempt, one runs, labelled over_budget,
    and its text is kept (faster-whisper's own rule, with one attempt to choose from)."""
    samples = corpus.get("jfk").load()
    failing = replace(incident, log_prob_threshold=0.0)
    unbounded = base_model.run(samples, failing)
    bounded = base_model.run(samples, replace(failing, fallback_budget=1.0))
    assert len(unbounded.attempts) == 6 and unbounded.attempts[-1].verdict == ALL_FAILED
    assert [a.verdict for a in bounded.attempts] == [OVER_BUDGET]
    first_only = base_model.run(samples, replace(failing, temperature=(0.0,)))
    assert bounded.text == first_only.text != ""
    generous = base_model.run(samples, replace(failing, fallback_budget=1000.0))
    assert len(generous.attempts) == 6


@pytest.mark.model
def test_reject_loops_drops_a_window_that_fails_the_compression_check(
    base_model: TracedModel,
) -> None:
    """With a compression-ratio threshold every transcript exceeds, jfk.flac's one window counts
    as a loop: without reject_loops its text is kept (all attempts failed, the best is kept);
    with it the window yields nothing and its outcome says why."""
    samples = corpus.get("jfk").load()
    strict = replace(remedy("reject_loops").decode, compression_ratio_threshold=0.1)
    kept = base_model.run(samples, replace(strict, reject_loops=False))
    dropped = base_model.run(samples, strict)
    assert kept.text and [w.outcome for w in kept.windows] == ["segments"]
    assert dropped.text == ""
    assert [w.outcome for w in dropped.windows] == [WindowOutcome.UNINTELLIGIBLE]
    assert len(dropped.attempts) == 1 and dropped.attempts[0].temperature == 0.0
    # At the shipped threshold clean speech is no loop: the transcript is the one-attempt decode.
    shipped = base_model.run(samples, remedy("reject_loops").decode)
    assert shipped.text == kept.text and shipped.windows[0].outcome == "segments"


@pytest.mark.model
def test_the_batched_peer_decodes_through_the_traced_model(base_model: TracedModel) -> None:
    """faster-whisper's batched pipeline on the traced model: its own VAD chunks, one attempt
    per chunk at temperature 0 and the configured beam, the transcript the pipeline gives."""
    from faster_whisper import BatchedInferencePipeline

    samples = corpus.get("en_ljspeech_LJ028-0030_to_0039_long").load()  # 72 s: several chunks
    config = remedy("batched").decode
    trace = base_model.run(samples, config)
    print(render_text(trace))
    attempts = trace.attempts
    assert trace.text and trace.finished and len(attempts) >= 3
    assert all(a.temperature == 0.0 and a.beam_size == 10 for a in attempts)
    assert all(len(w.attempts) <= config.batch_size for w in trace.windows)
    assert trace.language == "en" and trace.language_detected
    plain = WhisperModel(base_model.model_path, device="cpu", compute_type="int8")
    segments, _ = BatchedInferencePipeline(plain).transcribe(
        samples, batch_size=config.batch_size, **config.transcribe_kwargs()
    )
    assert trace.text == "".join(s.text for s in segments).strip()


@pytest.mark.model
def test_the_batched_peer_decodes_nothing_where_its_vad_finds_no_speech(
    base_model: TracedModel, noise: np.ndarray
) -> None:
    trace = base_model.run(noise, remedy("batched").decode)
    assert trace.text == "" and trace.windows == [] and trace.finished


@pytest.mark.model
def test_hallucination_silence_decodes_with_word_timings(base_model: TracedModel) -> None:
    samples = corpus.get("jfk").load()
    trace = base_model.run(samples, remedy("hallucination_silence").decode)
    assert trace.text and trace.config["word_timestamps"]
    assert trace.config["hallucination_silence_threshold"] == 2.0


@pytest.mark.model
def test_the_token_budget_stops_a_loop_at_the_windows_budget(base_model: TracedModel) -> None:
    """Issue 20's `token_budget`: the incident's beam loops on 11 s of noise to the 224-token
    limit; with 6 tokens a second the same attempt stops at 16 + 66 = 82 tokens, and clean
    speech, which needs about 3 a second, decodes exactly as without the budget."""
    noise = white_noise(11.0, seed=1)
    greedy_loop = preset("incident", temperature=(0.0,))
    [loop] = base_model.run(noise, greedy_loop).attempts
    [bounded] = base_model.run(noise, replace(greedy_loop, token_budget_per_s=6.0)).attempts
    assert loop.hit_token_limit and loop.tokens == loop.token_limit == 224
    assert bounded.hit_token_limit and bounded.tokens == bounded.token_limit == 82
    jfk = corpus.get("jfk").load()
    budgeted = remedy("token_budget").decode
    assert base_model.run(jfk, budgeted).text == base_model.run(jfk, preset("incident")).text


@pytest.mark.model
def test_no_repeat_5_keeps_the_beam_out_of_a_loop(base_model: TracedModel) -> None:
    """Issue 20's `no_repeat_5`: beam 5 on Mandarin under pink noise at -10 dB repeats "-4" to
    the token limit; forbidden to repeat any 5 tokens, the same beam ends in a few dozen, and
    clean speech decodes as without it."""
    [hard] = corpus.class_audio("hard_speech", max_items=1)
    beam = preset("incident", beam_size=5, temperature=(0.0,))
    [loop] = base_model.run(hard.samples, beam).attempts
    [kept] = base_model.run(hard.samples, replace(beam, no_repeat_ngram_size=5)).attempts
    assert loop.hit_token_limit and not kept.hit_token_limit and kept.tokens < loop.tokens / 4
    jfk = corpus.get("jfk").load()
    assert (
        base_model.run(jfk, remedy("no_repeat_5").decode).text
        == base_model.run(jfk, preset("incident")).text
    )
