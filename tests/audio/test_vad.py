"""The VAD stage: both backends, one config, and where they part (see asrlab/audio/vad.py)."""

from __future__ import annotations

import dataclasses
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from asrlab.audio import corpus, vad
from asrlab.audio.samples import SAMPLE_RATE_HZ
from asrlab.audio.signals import mix_at_snr, near_silence, white_noise
from asrlab.audio.vad import SpeechSpan, VadConfig, VadResult
from asrlab.errors import AudioError, ConfigError

AGREE_S = 0.1  # the bound on any span boundary, between the two backends
# The one bundled clip where Silero's v6.2 weights (not the options, not the runtime) put a
# boundary further from v6.0's than AGREE_S; asrlab/audio/vad.py's docstring explains it.
WEIGHTS_DISAGREE = {"en_librispeech_1089-134686-0001": 0.176}
CLIP_IDS = [c.clip_id for c in corpus.manifest()]


@pytest.fixture(scope="module")
def results(slow: None) -> dict[str, dict[str, VadResult]]:
    """clip_id -> backend -> result at the default config, every corpus clip (about 4 s)."""
    for backend in vad.BACKENDS:
        vad.warm_up(backend)
    return {
        clip.clip_id: {b: vad.detect(clip.load(), backend=b) for b in vad.BACKENDS}
        for clip in corpus.manifest()
    }


# --- the two backends agree -----------------------------------------------------------------


@pytest.mark.parametrize("clip_id", CLIP_IDS)
@pytest.mark.slow
def test_backends_agree_within_100_ms(results: dict, clip_id: str) -> None:
    onnx, torch_ = results[clip_id]["onnx"], results[clip_id]["torch"]
    assert onnx.has_speech, "every corpus clip holds speech"
    assert len(onnx.spans) == len(torch_.spans)
    assert vad.max_boundary_diff_s(onnx, torch_) <= AGREE_S


@pytest.mark.parametrize("clip_id", ["jfk", "zh_aishell_BAC009S0724W0121", "multilingual"])
def test_backends_run_the_same_weights(clip_id: str) -> None:
    """The torch backend loads the v6.0 weights faster-whisper bundles: the probabilities of
    every frame both score agree to float32 rounding, so the pair differs only in runtime."""
    x = corpus.get(clip_id).load()
    onnx, torch_ = (vad.frame_probs(x, b) for b in vad.BACKENDS)
    n = len(x) // vad.FRAME_SAMPLES  # whole frames: faster-whisper zeroes the tail of the last
    assert np.abs(onnx[:n] - torch_[:n]).max() < 1e-5


def test_bundled_v60_weights_are_the_released_file() -> None:
    import hashlib

    digest = hashlib.sha256(vad.V60_JIT.read_bytes()).hexdigest()
    assert digest == "b178b4bc39467ecd5e9eb0bc6f2fcc291c1cc1cc55a68fea8c0c2c0d5fbbe66c"


@pytest.mark.slow
def test_newer_weights_move_a_boundary(results: dict) -> None:
    """Same options and runtime, different weights: v6.2 crosses 0.5 seven frames after v6.0."""
    (clip_id, diff_s), *_ = WEIGHTS_DISAGREE.items()
    x = corpus.get(clip_id).load()
    first = {b: int(np.argmax(vad.frame_probs(x, b) >= 0.5)) for b in ("torch", "torch_v6.2")}
    assert first == {"torch": 11, "torch_v6.2": 18}  # 0.352 s and 0.576 s
    pad_s = VadConfig().speech_pad_ms / 1000
    v60, v62 = results[clip_id]["torch"], vad.detect(x, backend="torch_v6.2")
    assert v60.spans[0].start_s == max(0.0, first["torch"] * 0.032 - pad_s) == 0.0
    assert v62.spans[0].start_s == pytest.approx(first["torch_v6.2"] * 0.032 - pad_s)
    assert vad.max_boundary_diff_s(v60, v62) == pytest.approx(diff_s)


@pytest.mark.parametrize(
    "config",
    [
        VadConfig(),
        # silero-vad's own defaults, plus a cut every 3 s: exercises the max-speech branch.
        VadConfig(
            min_speech_duration_ms=250,
            min_silence_duration_ms=100,
            speech_pad_ms=30,
            max_speech_duration_s=3.0,
        ),
        VadConfig(threshold=0.3, neg_threshold=0.2, max_speech_duration_s=8.0),
    ],
    ids=["faster-whisper", "silero-short", "low-threshold"],
)
def test_same_probabilities_give_identical_spans(config: VadConfig) -> None:
    """The options are truly equal: fed one model's probabilities, silero-vad's post-processing
    reproduces faster-whisper's spans to the sample."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps
    from silero_vad import get_speech_timestamps_from_probs

    x = corpus.get("multilingual").load()
    expected = get_speech_timestamps(x, VadOptions(**vad._faster_whisper_options(config)))
    got = get_speech_timestamps_from_probs(
        vad.frame_probs(x, "onnx").tolist(),
        audio_length_samples=len(x),
        **vad._silero_kwargs(config),
    )
    assert expected and got == expected


def test_config_defaults_are_faster_whispers() -> None:
    from faster_whisper.vad import VadOptions

    assert dataclasses.asdict(VadConfig()) == dataclasses.asdict(VadOptions())


def test_speech_in_noise_agrees() -> None:
    x = mix_at_snr(corpus.get("jfk").load(), white_noise(11.0, seed=1), 10.0)
    onnx, torch_ = (vad.detect(x, backend=b) for b in vad.BACKENDS)
    assert onnx.has_speech and vad.max_boundary_diff_s(onnx, torch_) <= AGREE_S


@pytest.mark.parametrize("backend", vad.BACKENDS)
@pytest.mark.parametrize(
    "make",
    [lambda: white_noise(11.0, seed=6), lambda: near_silence(10.0)],
    ids=["white_noise", "near_silence"],
)
def test_no_speech_in_noise_or_silence(make, backend: str) -> None:
    result = vad.detect(make(), backend=backend)
    assert result.speech_s <= 0.05 * result.audio_s
    assert vad.keep_speech(make(), result).size == round(result.speech_s * SAMPLE_RATE_HZ)


# --- results and keep_speech ----------------------------------------------------------------


def test_keep_speech_concatenates_the_spans() -> None:
    x = np.arange(32_000, dtype=np.float32)
    spans = (SpeechSpan(0.25, 0.5), SpeechSpan(1.0, 1.0625))
    result = VadResult("onnx", spans, seconds=0.1, audio_s=2.0)
    np.testing.assert_array_equal(
        vad.keep_speech(x, result), np.concatenate([x[4000:8000], x[16000:17000]])
    )
    assert result.speech_s == 0.3125 and result.has_speech and result.rtf == 0.05
    none = vad.keep_speech(x, dataclasses.replace(result, spans=()))
    assert none.shape == (0,) and none.dtype == np.float32


@pytest.mark.slow
def test_keep_speech_on_a_real_result(results: dict) -> None:
    clip = corpus.get("multilingual")
    x = clip.load()
    for result in results[clip.clip_id].values():
        kept = vad.keep_speech(x, result)
        assert len(kept) == round(result.speech_s * SAMPLE_RATE_HZ)
        first = result.spans[0]
        start = round(first.start_s * SAMPLE_RATE_HZ)
        np.testing.assert_array_equal(kept[:100], x[start : start + 100])


@pytest.mark.slow
def test_keep_speech_refuses_other_audio(results: dict) -> None:
    result = results["jfk"]["onnx"]
    with pytest.raises(ConfigError, match="pass the samples it was detected on"):
        vad.keep_speech(np.zeros(100, np.float32), result)


def test_result_records_backend_config_and_timing() -> None:
    config = VadConfig(speech_pad_ms=30)
    result = vad.detect(corpus.get("jfk").load(), config, backend="torch")
    assert result.backend == "torch" and result.config == config
    assert result.audio_s == pytest.approx(11.0) and result.seconds > 0
    assert result.rtf == pytest.approx(result.seconds / result.audio_s)


# --- bad inputs -----------------------------------------------------------------------------


@pytest.mark.parametrize("backend", vad.BACKENDS)
def test_empty_audio_is_an_audio_error(backend: str) -> None:
    with pytest.raises(AudioError, match="no samples") as e:
        vad.detect(np.array([], dtype=np.float32), backend=backend)
    assert e.value.reason == "empty"


@pytest.mark.parametrize("call", [vad.warm_up, lambda b: vad.detect(np.ones(10), backend=b)])
def test_unknown_backend_lists_the_backends(call) -> None:
    with pytest.raises(ConfigError, match="available: onnx, torch, torch_v6.2") as e:
        call("cuda")
    assert (e.value.field, e.value.value) == ("backend", "cuda")


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"threshold": 0.0}, "threshold"),
        ({"threshold": 1.0}, "threshold"),
        ({"threshold": math.nan}, "threshold"),
        ({"neg_threshold": 0.6}, "neg_threshold"),
        ({"neg_threshold": 0.0}, "neg_threshold"),
        ({"min_speech_duration_ms": -1}, "min_speech_duration_ms"),
        ({"min_silence_duration_ms": 2.5}, "min_silence_duration_ms"),
        ({"speech_pad_ms": True}, "speech_pad_ms"),
        ({"max_speech_duration_s": 0.0}, "max_speech_duration_s"),
        ({"max_speech_duration_s": math.nan}, "max_speech_duration_s"),
        ({"max_speech_duration_s": 0.8}, "max_speech_duration_s"),  # <= 2 * 400 ms pad + 32 ms
    ],
)
def test_config_validation(kwargs: dict, field: str) -> None:
    with pytest.raises(ConfigError) as e:
        VadConfig(**kwargs)
    assert e.value.field == field


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"neg_threshold": 0.5}, {"max_speech_duration_s": 0.9}, {"speech_pad_ms": 0}],
)
def test_config_accepts(kwargs: dict) -> None:
    """Values just inside the bounds test_config_validation refuses: accepted, and kept as given
    (no silent clamp or cast)."""
    config = VadConfig(**kwargs)
    assert {k: getattr(config, k) for k in kwargs} == kwargs
    assert config == dataclasses.replace(VadConfig(), **kwargs)


# --- cost of importing, and torch's thread count ---------------------------------------------


def test_import_is_cheap_and_torch_threads_are_restored() -> None:
    """In a fresh process: importing asrlab.audio.vad loads no backend, and neither importing
    silero_vad (which sets 1 thread) nor detecting changes torch's thread count."""
    script = (
        "import sys; import asrlab.audio.vad as v\n"
        "heavy = {'torch', 'faster_whisper', 'silero_vad', 'onnxruntime'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
        "import torch; torch.set_num_threads(2)\n"
        "v.warm_up('torch'); v.detect(v.np.ones(8000, 'float32') * 0.01, backend='torch')\n"
        "assert torch.get_num_threads() == 2, torch.get_num_threads()\n"
    )
    root = Path(vad.__file__).resolve().parents[2]
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr


@pytest.mark.slow
def test_torch_threads_restored_in_process(results: dict) -> None:
    import torch

    before = torch.get_num_threads()
    vad.detect(corpus.get("jfk").load(), backend="torch")
    vad.frame_probs(np.ones(1000, np.float32) * 0.01, "torch")
    assert torch.get_num_threads() == before


def test_the_gate_decides_and_trims_only_when_asked() -> None:
    """`vad.gate`, the one gate of the node, evaluate and the CLI: no speech, nothing to decode;
    speech, its spans (trim) or the clip as it came (no trim)."""
    quiet = np.zeros(3 * SAMPLE_RATE_HZ, dtype=np.float32)
    jfk = np.concatenate([quiet, corpus.get("jfk").load(), quiet])
    trimmed, whole = vad.gate(jfk), vad.gate(jfk, trim=False)
    assert trimmed.found.has_speech and trimmed.samples is not None
    assert np.array_equal(trimmed.samples, vad.keep_speech(jfk, trimmed.found))
    assert len(trimmed.samples) < len(jfk) and whole.samples is jfk
    silent = vad.gate(white_noise(3.0, seed=0), trim=False)
    assert silent.samples is None and not silent.found.has_speech
