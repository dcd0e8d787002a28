"""Decoding options as plain data: `DecodeConfig`, the named presets, the thread default.

Nothing here imports CTranslate2 or faster-whisper, so the service's configuration, the remedies
and the simulator can name decode options without loading a decoder (`asrlab.decoding.decoder`
loads one).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import asdict, dataclass, replace
from typing import Any

from asrlab.checks import Check, check_fields
from asrlab.decoding.models import COMPUTE_TYPES, DEFAULT_COMPUTE_TYPE
from asrlab.errors import ConfigError

# faster-whisper 1.2.1's default fallback ladder.
DEFAULT_TEMPERATURES: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
# faster-whisper 1.2.1's `tokenizer._LANGUAGE_CODES`, restated so that naming a language loads no
# decoder (tests/decoding/test_options.py checks the two agree).
LANGUAGE_CODES: tuple[str, ...] = (
    "af", "am", "ar", "as", "az", "ba", "be", "bg", "bn", "bo", "br", "bs", "ca", "cs", "cy", "da",
    "de", "el", "en", "es", "et", "eu", "fa", "fi", "fo", "fr", "gl", "gu", "ha", "haw", "he", "hi",
    "hr", "ht", "hu", "hy", "id", "is", "it", "ja", "jw", "ka", "kk", "km", "kn", "ko", "la", "lb",
    "ln", "lo", "lt", "lv", "mg", "mi", "mk", "ml", "mn", "mr", "ms", "mt", "my", "ne", "nl", "nn",
    "no", "oc", "pa", "pl", "ps", "pt", "ro", "ru", "sa", "sd", "si", "sk", "sl", "sn", "so", "sq",
    "sr", "su", "sv", "sw", "ta", "te", "tg", "th", "tk", "tl", "tr", "tt", "uk", "ur", "uz", "vi",
    "yi", "yo", "zh", "yue",
)  # fmt: skip
# Fields of `DecodeConfig` that are not `WhisperModel.transcribe` keywords.
NOT_TRANSCRIBE_KWARGS = (
    "compute_type",
    "cpu_threads",
    "seed",
    "reuse_language_encoding",
    "reject_loops",
    "fallback_budget",
    "batch_size",
    "token_budget_per_s",
)
# Fields added after configs were hashed, with the default at which the hash leaves them out.
ADDED_FIELDS: dict[str, object] = {
    "reuse_language_encoding": False,
    "word_timestamps": False,
    "hallucination_silence_threshold": None,
    "reject_loops": False,
    "fallback_budget": None,
    "batch_size": 0,
    "token_budget_per_s": None,
    "initial_prompt": None,
}
# What faster-whisper's batched pipeline does not do: it decodes each chunk once, at the first
# temperature, with no fallback loop and no hallucination-silence pass.
_NOT_BATCHED = (
    "reuse_language_encoding",
    "reject_loops",
    "fallback_budget",
    "hallucination_silence_threshold",
    "token_budget_per_s",
)
# A window's token budget (``token_budget_per_s``): this many tokens, plus the rate times the
# window's seconds. 16 covers the timestamp pairs and a short phrase of a clip under 2 s.
TOKEN_BUDGET_BASE = 16
# faster-whisper keeps the prompt and the new tokens within Whisper's 448-token context; a
# carried-over prompt is at most 223 tokens, so 224 new ones always fit.
TOKEN_BUDGET_MAX = 224
WINDOW_S = 30.0  # Whisper's window: 3000 mel frames of 10 ms


@dataclass(frozen=True)
class DecodeConfig:
    """The transcribe options the lab varies, at faster-whisper 1.2.1's defaults.

    Field names match ``WhisperModel.transcribe`` keywords, so a row of results can be replayed
    with ``model.transcribe(audio, **cfg.transcribe_kwargs())``. ``compute_type`` and
    ``cpu_threads`` apply when the model is loaded (``cpu_threads=0``: one thread per available
    core); ``seed`` seeds CTranslate2's sampler before each transcription, because fallback
    attempts at temperature > 0 sample and unseeded runs differ by tens of
    seconds (docs/incident.md). ``reuse_language_encoding``: with ``language=None``,
    faster-whisper 1.2.1 encodes the first 30 s window twice, once to detect the language inside
    ``transcribe()`` and again to decode it; True hands the detection's encoder output to the
    decode (`asrlab.decoding.decoder`); False, the default, keeps production's double pass.

    What the lab adds to faster-whisper's loop (`asrlab.decoding.decoder` applies them):
    ``reject_loops``: a window whose final attempt fails the compression-ratio check (a
    repetition loop) yields nothing, with outcome ``unintelligible``, as the no-speech rule drops
    silence; ``fallback_budget``: the fallback ladder of a window goes on only while its decode
    time, with the next attempt estimated at the last one's, stays within this multiple of its
    first attempt; then faster-whisper keeps the best attempt by its own rule.
    ``token_budget_per_s``: each window may emit at most ``TOKEN_BUDGET_BASE`` + this rate x its
    seconds new tokens (`token_budget`), at most ``TOKEN_BUDGET_MAX``: a repetition loop runs to
    the 224-token limit, while clean read speech needs about 3 to 5 tokens a second (measured on
    the bundled sets), so a budget of twice that stops a loop at its cost, not at the limit's.
    ``batch_size`` >= 1 decodes with faster-whisper's `BatchedInferencePipeline` (its own VAD
    chunks, decoded in batches of that size, one attempt each); 0 is the sequential
    ``WhisperModel.transcribe``. ``word_timestamps`` and ``hallucination_silence_threshold`` are
    faster-whisper's (the second needs the first).
    """

    beam_size: int = 5
    best_of: int = 5
    patience: float = 1.0
    temperature: tuple[float, ...] = DEFAULT_TEMPERATURES
    compression_ratio_threshold: float | None = 2.4
    log_prob_threshold: float | None = -1.0
    no_speech_threshold: float | None = 0.6
    condition_on_previous_text: bool = True
    language: str | None = None
    vad_filter: bool = False
    max_new_tokens: int | None = None
    repetition_penalty: float = 1.0
    no_repeat_ngram_size: int = 0
    without_timestamps: bool = False
    compute_type: str = DEFAULT_COMPUTE_TYPE
    cpu_threads: int = 0
    seed: int = 0
    reuse_language_encoding: bool = False
    word_timestamps: bool = False
    hallucination_silence_threshold: float | None = None
    reject_loops: bool = False
    fallback_budget: float | None = None
    batch_size: int = 0
    token_budget_per_s: float | None = None
    initial_prompt: str | None = None  # faster-whisper's: text the first window is conditioned on

    def __post_init__(self) -> None:
        # Lists from YAML or JSON become tuples so the config stays hashable and frozen.
        object.__setattr__(self, "temperature", tuple(float(t) for t in self.temperature))
        checks: list[Check] = [
            ("beam_size", self.beam_size >= 1, "must be >= 1"),
            ("best_of", self.best_of >= 1, "must be >= 1"),
            ("patience", self.patience > 0, "must be > 0"),
            ("temperature", len(self.temperature) > 0, "needs at least one temperature"),
            (
                "temperature",
                all(0.0 <= t <= 2.0 for t in self.temperature),
                "each temperature must lie in [0, 2]",
            ),
            (
                "max_new_tokens",
                self.max_new_tokens is None or 1 <= self.max_new_tokens <= 440,
                "must be None or 1..440 (the prompt shares Whisper's 448-token context)",
            ),
            ("repetition_penalty", self.repetition_penalty > 0, "must be > 0"),
            ("no_repeat_ngram_size", self.no_repeat_ngram_size >= 0, "must be >= 0"),
            ("compute_type", self.compute_type in COMPUTE_TYPES, f"must be one of {COMPUTE_TYPES}"),
            ("cpu_threads", self.cpu_threads >= 0, "must be >= 0 (0: one per core)"),
            (
                "hallucination_silence_threshold",
                self.hallucination_silence_threshold is None
                or (self.word_timestamps and self.hallucination_silence_threshold > 0),
                "must be None, or > 0 with word_timestamps (faster-whisper needs word timings)",
            ),
            (
                "reject_loops",
                not self.reject_loops
                or (
                    self.compression_ratio_threshold is not None
                    and self.no_speech_threshold is not None
                ),
                "needs compression_ratio_threshold (what a loop is) and no_speech_threshold "
                "(the rule that drops the window)",
            ),
            (
                "fallback_budget",
                self.fallback_budget is None or self.fallback_budget >= 1,
                "must be None or >= 1 (a multiple of the window's first attempt)",
            ),
            ("batch_size", self.batch_size >= 0, "must be >= 0 (0: the sequential pipeline)"),
            (
                "token_budget_per_s",
                self.token_budget_per_s is None or self.token_budget_per_s > 0,
                "must be None or > 0 (tokens per second of the window)",
            ),
            (
                "token_budget_per_s",
                self.token_budget_per_s is None or self.max_new_tokens is None,
                "a token budget and max_new_tokens both cap the tokens: set one",
            ),
        ]
        check_fields(self, checks)
        batched_only = [f for f in _NOT_BATCHED if getattr(self, f) != ADDED_FIELDS[f]]
        if self.batch_size and batched_only:
            raise ConfigError(
                batched_only[0],
                getattr(self, batched_only[0]),
                "faster-whisper's batched pipeline has no fallback loop and no "
                "hallucination-silence pass: set batch_size=0 to use it",
            )
        if self.language is not None and self.language not in LANGUAGE_CODES:
            raise ConfigError("language", self.language, "not a Whisper language code")

    def token_budget(self, window_s: float) -> int | None:
        """New tokens one window of `window_s` seconds may emit, or None without a budget."""
        if self.token_budget_per_s is None:
            return None
        seconds = min(max(window_s, 0.0), WINDOW_S)
        budget = TOKEN_BUDGET_BASE + math.ceil(self.token_budget_per_s * seconds)
        return min(budget, TOKEN_BUDGET_MAX)

    def transcribe_kwargs(self) -> dict[str, Any]:
        """Keywords for ``WhisperModel.transcribe``."""
        kwargs = asdict(self)
        for key in NOT_TRANSCRIBE_KWARGS:
            del kwargs[key]
        kwargs["temperature"] = list(self.temperature)
        return kwargs

    def config_hash(self) -> str:
        """Short, stable hash of every field: the key results are grouped and cached by.

        A field added after results were measured is left out while it holds its default
        (`ADDED_FIELDS`), so every config that existed before keeps its hash: the bundled
        service-time table and every cache are keyed by it.
        """
        fields = {
            k: v
            for k, v in asdict(self).items()
            if not (k in ADDED_FIELDS and ADDED_FIELDS[k] == v)
        }
        blob = json.dumps(fields, sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:12]


PRESETS: dict[str, DecodeConfig] = {
    # faster-whisper 1.2.1 out of the box.
    "faster_whisper_default": DecodeConfig(),
    # Production at the time of the incident: beam_size=10, everything else at the defaults.
    "incident": DecodeConfig(beam_size=10),
}


def preset(name: str, **overrides: Any) -> DecodeConfig:
    """A named preset, with any field overridden (``preset("incident", beam_size=5)``)."""
    if name not in PRESETS:
        raise ConfigError("preset", name, f"no such preset; available: {', '.join(PRESETS)}")
    return replace(PRESETS[name], **overrides)


def batch_size_for(threads: int) -> int:
    """The batched peer's batch size on CPU: two chunks per core. Issue 15 measured batch 4
    on 2 cores at RTF 0.20 on hard speech; a batch much larger than the cores can run at once
    only queues inside CTranslate2 while it holds more memory."""
    return max(2, 2 * threads)


def default_threads() -> int:
    """Cores this process may run on (the cgroup or affinity mask, not the host's count)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
