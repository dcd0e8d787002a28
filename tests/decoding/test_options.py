"""Decode options as data: checked, frozen, hashable, and free of any decoder import."""

from __future__ import annotations

import pytest

from asrlab.decoding.options import DecodeConfig, preset
from asrlab.errors import ConfigError


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("beam_size", 0),
        ("best_of", 0),
        ("temperature", ()),
        ("temperature", (0.0, 3.0)),
        ("max_new_tokens", 500),
        ("compute_type", "int4"),
        ("cpu_threads", -1),
        ("language", "klingon"),
        ("hallucination_silence_threshold", 2.0),  # without word_timestamps
        ("fallback_budget", 0.5),
        ("batch_size", -1),
    ],
)
def test_config_rejects_bad_values(field: str, value: object) -> None:
    with pytest.raises(ConfigError) as err:
        DecodeConfig(**{field: value})
    assert err.value.field == field


def test_config_is_frozen_hashable_and_replayable() -> None:
    cfg = preset("incident")
    assert cfg.beam_size == 10 and cfg.temperature == (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
    assert DecodeConfig(temperature=[0.0, 0.5]).temperature == (0.0, 0.5)  # lists from YAML
    assert cfg.config_hash() == preset("incident").config_hash() != DecodeConfig().config_hash()
    kwargs = cfg.transcribe_kwargs()
    assert "seed" not in kwargs and kwargs["beam_size"] == 10
    with pytest.raises(ConfigError, match="available: "):
        preset("nonexistent")


def test_the_restated_language_codes_are_faster_whispers() -> None:
    """`DecodeConfig` checks a language against its own copy of the codes (so that naming one
    loads no decoder); the copy is faster-whisper's list, in its order."""
    from faster_whisper.tokenizer import _LANGUAGE_CODES

    from asrlab.decoding.options import LANGUAGE_CODES

    assert LANGUAGE_CODES == tuple(_LANGUAGE_CODES)


def test_a_field_added_at_its_default_keeps_every_earlier_hash() -> None:
    """The bundled service-time table is keyed by decode hashes measured before
    `reuse_language_encoding` existed: the presets it holds still find their rows."""
    from asrlab.service.remedies import remedy
    from asrlab.sim.costs import load

    measured = set(load()["decode_hash"].astype(str))
    for name in ("incident", "vad_gate+hard_kill+no_fallback+beam_5"):
        assert remedy(name).decode.config_hash() in measured
    reused = preset("incident", reuse_language_encoding=True)
    assert reused.config_hash() != preset("incident").config_hash()
    assert "reuse_language_encoding" not in reused.transcribe_kwargs()


@pytest.mark.parametrize(
    ("fields", "bad"),
    [
        ({"reject_loops": True, "compression_ratio_threshold": None}, "reject_loops"),
        ({"reject_loops": True, "no_speech_threshold": None}, "reject_loops"),
        ({"word_timestamps": False, "hallucination_silence_threshold": 1.0}, "hallucination"),
        # What the batched pipeline does not do is refused, not silently ignored.
        ({"batch_size": 4, "reject_loops": True}, "reject_loops"),
        ({"batch_size": 4, "fallback_budget": 3.0}, "fallback_budget"),
        ({"batch_size": 4, "reuse_language_encoding": True}, "reuse_language_encoding"),
        (
            {"batch_size": 4, "word_timestamps": True, "hallucination_silence_threshold": 2.0},
            "hallucination_silence_threshold",
        ),
        ({"token_budget_per_s": 0.0}, "token_budget_per_s"),
        ({"token_budget_per_s": 6.0, "max_new_tokens": 100}, "token_budget_per_s"),
        ({"batch_size": 4, "token_budget_per_s": 6.0}, "token_budget_per_s"),
    ],
)
def test_the_lab_fields_refuse_what_cannot_run(fields: dict, bad: str) -> None:
    with pytest.raises(ConfigError) as err:
        DecodeConfig(**fields)
    assert err.value.field.startswith(bad)


def test_the_lab_fields_are_not_transcribe_keywords_and_keep_old_hashes() -> None:
    """Every field added for issue 15 at its default leaves the hash as it was; set, it changes
    it; the lab's own fields never reach ``WhisperModel.transcribe``; faster-whisper's do."""
    from asrlab.decoding.options import ADDED_FIELDS

    base = preset("incident")
    changed = {
        "word_timestamps": True,
        "hallucination_silence_threshold": None,
        "reject_loops": True,
        "fallback_budget": 3.0,
        "batch_size": 4,
        "token_budget_per_s": 6.0,
    }
    for field, value in changed.items():
        assert field in ADDED_FIELDS
        if value is not None:
            overrides = {field: value}
            if field == "batch_size":
                overrides["temperature"] = (0.0,)
            assert preset("incident", **overrides).config_hash() != base.config_hash(), field
    kwargs = preset("incident", reject_loops=True, fallback_budget=2.0).transcribe_kwargs()
    assert not {"reject_loops", "fallback_budget", "batch_size", "token_budget_per_s"} & set(kwargs)
    silence = preset("incident", word_timestamps=True, hallucination_silence_threshold=2.0)
    assert silence.transcribe_kwargs()["hallucination_silence_threshold"] == 2.0


def test_the_batched_peer_is_sized_for_the_cores() -> None:
    from asrlab.decoding.options import batch_size_for

    assert [batch_size_for(n) for n in (1, 2, 8)] == [2, 4, 16]


@pytest.mark.parametrize(
    ("per_s", "window_s", "budget"),
    [
        (None, 11.2, None),  # no budget
        (6.0, 11.2, 16 + 68),  # the incident's clip: 84 tokens, not the loop's 224
        (6.0, 0.0, 16),
        (6.0, -1.0, 16),  # a window cannot be shorter than nothing
        (6.0, 30.0, 16 + 180),
        (6.0, 75.0, 16 + 180),  # one window is at most 30 s
        (10.0, 30.0, 224),  # never past the 224-token limit
        (0.5, 3.0, 16 + 2),  # rounded up
    ],
)
def test_the_token_budget_of_a_window(per_s: float | None, window_s: float, budget) -> None:
    assert DecodeConfig(token_budget_per_s=per_s).token_budget(window_s) == budget
