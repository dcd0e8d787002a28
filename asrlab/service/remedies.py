"""Named presets: the incident's settings and every remedy the team proposed or the lab found.

Each `Remedy` is data, so a notebook, a sweep row or the command line can name one and get the
same decode options, worker policy, arbiter policy and VAD gate. Comments say why each exists.
"""

from __future__ import annotations

import csv
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from asrlab.checks import Check, check_fields
from asrlab.decoding.options import DecodeConfig, batch_size_for, default_threads, preset
from asrlab.errors import ConfigError
from asrlab.service.arbiter import POLICIES as ARBITER_POLICIES
from asrlab.service.arbiter import ArbiterPolicy
from asrlab.service.message import RESULT_MODES, ResultMode
from asrlab.service.policy import (
    INCIDENT_ASR_TIMEOUT_S,
    INCIDENT_SEGMENTS_TIMEOUT_S,
    POLICIES,
    Policy,
)


@dataclass(frozen=True)
class Remedy:
    """Everything the node does differently under one remedy.

    Attributes:
        name: the preset's name.
        why: one line on what it changes and what it should buy.
        decode: the transcribe options.
        policy: the worker's timeout policy (`asrlab.service.worker.WorkerConfig.policy`).
        asr_timeout_s: the node's ASR timeout (the incident's ASR_TIMEOUT).
        segments_timeout_s: the legacy guard inside the worker.
        result_mode: ``list`` or ``streaming``.
        arbiter_policy: the lease arbiter's policy.
        vad_gate: skip decoding when VAD finds no speech (`asrlab.audio.vad.gate`).
        vad_trim: with the gate, decode only the speech spans; False decodes the whole clip once
            speech is found (trimming cost clean Mandarin about a point of CER).
        peer: not a change the team proposed but what a peer would run instead (faster-whisper's
            batched pipeline, its hallucination-silence option): the bar a remedy must clear.
    """

    name: str
    why: str
    decode: DecodeConfig = field(default_factory=lambda: preset("incident"))
    policy: Policy = Policy.LEGACY_THREAD
    asr_timeout_s: float = INCIDENT_ASR_TIMEOUT_S
    segments_timeout_s: float = INCIDENT_SEGMENTS_TIMEOUT_S
    result_mode: ResultMode = ResultMode.LIST
    arbiter_policy: ArbiterPolicy = ArbiterPolicy.INCIDENT
    vad_gate: bool = False
    vad_trim: bool = True
    peer: bool = False

    def __post_init__(self) -> None:
        # Named by their strings below and in YAML; held as the enums.
        checks: list[Check] = [
            ("policy", self.policy in POLICIES, f"must be one of {POLICIES}"),
            ("result_mode", self.result_mode in RESULT_MODES, f"must be one of {RESULT_MODES}"),
            (
                "arbiter_policy",
                self.arbiter_policy in ARBITER_POLICIES,
                f"must be one of {ARBITER_POLICIES}",
            ),
        ]
        check_fields(self, checks)
        object.__setattr__(self, "policy", Policy(self.policy))
        object.__setattr__(self, "result_mode", ResultMode(self.result_mode))
        object.__setattr__(self, "arbiter_policy", ArbiterPolicy(self.arbiter_policy))

    def decodes_as(self) -> tuple[str, bool, bool]:
        """What the remedy decodes as: its options' hash and the gate before them (trimming or
        not); remedies that differ only in the service (timeouts, the arbiter) share it."""
        return self.decode.config_hash(), self.vad_gate, self.vad_gate and self.vad_trim

    def row(self) -> dict[str, Any]:
        """Flat fields for a results table (the decode config is nested under ``decode``)."""
        return {k: v for k, v in asdict(self).items() if k != "decode"} | {
            "decode": asdict(self.decode),
            "decode_hash": self.decode.config_hash(),
        }


def _with(
    base: Remedy, name: str, why: str, decode: dict[str, Any] | None = None, **kw: Any
) -> Remedy:
    return replace(base, name=name, why=why, decode=replace(base.decode, **(decode or {})), **kw)


INCIDENT = Remedy(
    name="incident",
    why="production on 2026-01-21: beam 10, ASR timeout 30 s, the 20 s thread guard, "
    "an arbiter that refuses while a lease is overdue",
)

_SINGLE = [
    _with(
        INCIDENT,
        "timeout_60_40",
        "the team's first idea: more time (treats the symptom)",
        asr_timeout_s=60.0,
        segments_timeout_s=40.0,
    ),
    _with(
        INCIDENT,
        "beam_5",
        "faster-whisper's default beam: fewer hypotheses per step",
        decode={"beam_size": 5},
    ),
    _with(
        INCIDENT,
        "hard_kill",
        "kill the worker at the deadline: the lease is freed on time",
        policy="hard_kill",
    ),
    _with(
        INCIDENT,
        "cooperative",
        "stop between windows and attempts, keep what was decoded",
        policy="cooperative",
    ),
    _with(
        INCIDENT,
        "streaming",
        "segments reach the node as they are decoded (with hard_kill)",
        policy="hard_kill",
        result_mode="streaming",
    ),
    _with(
        INCIDENT, "vad_gate", "no speech, no decode: Silero VAD before the worker", vad_gate=True
    ),
    _with(
        INCIDENT,
        "vad_skip",
        "no speech, no decode; speech is decoded whole, not cut to the VAD's spans",
        vad_gate=True,
        vad_trim=False,
    ),
    _with(
        INCIDENT,
        "forced_language",
        "skip language detection and its second encoder pass",
        decode={"language": "zh"},
    ),
    _with(
        INCIDENT,
        "reuse_encoding",
        "window 0 encoded once: language detection's encoder output reused by the decode",
        decode={"reuse_language_encoding": True},
    ),
    _with(
        INCIDENT,
        "no_fallback",
        "one attempt at temperature 0: no sampled retries",
        decode={"temperature": (0.0,)},
    ),
    # <= 224: CTranslate2 stops at max_length // 2 anyway, and a longer cap plus a carried-over
    # prompt can exceed Whisper's 448-token context on the second window.
    _with(
        INCIDENT,
        "max_new_tokens_128",
        "cap each attempt's repetition loop at 128 tokens",
        decode={"max_new_tokens": 128},
    ),
    _with(
        INCIDENT,
        "revoke_overdue",
        "the arbiter revokes an overdue lease and cancels its job",
        arbiter_policy="revoke_overdue",
    ),
    _with(
        INCIDENT,
        "deadline_aware",
        "refuse at once when the wait exceeds the caller's deadline",
        arbiter_policy="deadline_aware",
    ),
]

_LAB = [
    _with(
        INCIDENT,
        "reject_loops",
        "one attempt at temperature 0; a repetition loop is dropped (unintelligible), not retried",
        decode={"temperature": (0.0,), "reject_loops": True},
    ),
    _with(
        INCIDENT,
        "fallback_budget",
        "the ladder climbs only while a window's decode stays within 3x its first attempt",
        decode={"fallback_budget": 3.0},
    ),
]

# Issue 20: greedy decoding (the earlier pick) stops beam search's loops on babble but costs
# clean Mandarin two points of CER; these keep the beam and bound what a loop can cost.
_BOUNDED_BEAM = [
    # 5 tokens: a loop repeats a phrase of a few tokens; read speech does not repeat five tokens
    # in one window (CTranslate2's no_repeat_ngram_size, inside the beam).
    _with(
        INCIDENT,
        "no_repeat_5",
        "the beam may not repeat any 5 tokens within a window: a loop cannot start",
        decode={"no_repeat_ngram_size": 5},
    ),
    # 6 tokens a second: about twice what clean read speech needs here (3 to 5), so clean speech
    # is not cut, while an 11 s window's loop stops at 84 tokens instead of 224.
    _with(
        INCIDENT,
        "token_budget",
        "each window may emit 16 + 6 tokens per second of audio: a loop stops at its budget",
        decode={"token_budget_per_s": 6.0},
    ),
]

_PEERS = [
    # The batched pipeline at production's beam: its own Silero VAD cuts the audio into chunks
    # that are decoded in batches, once each, without timestamps or the fallback loop.
    _with(
        INCIDENT,
        "batched",
        "faster-whisper's BatchedInferencePipeline: VAD chunks decoded in batches, one attempt",
        decode={
            "temperature": (0.0,),
            "vad_filter": True,
            "without_timestamps": True,
            "batch_size": batch_size_for(default_threads()),
        },
        peer=True,
    ),
    # 2 s: neither faster-whisper nor openai-whisper sets a default; a pause of two seconds
    # around a suspect segment is long for speech and short for a noise job.
    _with(
        INCIDENT,
        "hallucination_silence",
        "faster-whisper's hallucination_silence_threshold 2 s (with word timestamps)",
        decode={"word_timestamps": True, "hallucination_silence_threshold": 2.0},
        peer=True,
    ),
]

_LOOPS_BEAM_5 = _with(
    INCIDENT,
    "vad_gate+hard_kill+reject_loops+beam_5+reuse_encoding",
    "no decode of noise, one beam-5 attempt per window, loops dropped, window 0 encoded once",
    decode={
        "temperature": (0.0,),
        "beam_size": 5,
        "reject_loops": True,
        "reuse_language_encoding": True,
    },
    vad_gate=True,
    policy="hard_kill",
)
# Greedy, because on babble beam search (2, 3, 5 or 10 wide) runs into a repetition loop to the
# token limit where one greedy pass does not, at the same clean-speech WER and CER
# (docs/results/remedies.md): the loop costs its whole length before reject_loops can drop it.
_LOOPS_BEAM_1 = _with(
    _LOOPS_BEAM_5,
    "vad_gate+hard_kill+reject_loops+beam_1+reuse_encoding",
    "no decode of noise, one greedy attempt per window, loops dropped, window 0 encoded once",
    decode={"beam_size": 1},
)


def _bounded(name: str, why: str, **decode: Any) -> Remedy:
    """The beam-5 combination with `decode` added: the lab's bounded-beam candidates."""
    return _with(_LOOPS_BEAM_5, name, why, decode=decode)


_BOUNDED_COMBINED = [
    _bounded(
        "vad_gate+hard_kill+reject_loops+beam_5+no_repeat_5+reuse_encoding",
        "no decode of noise, one beam-5 attempt per window that may not repeat 5 tokens, loops "
        "dropped, window 0 encoded once",
        no_repeat_ngram_size=5,
    ),
    _bounded(
        "vad_gate+hard_kill+reject_loops+beam_5+token_budget+reuse_encoding",
        "no decode of noise, one beam-5 attempt per window within its token budget, loops "
        "dropped, window 0 encoded once",
        token_budget_per_s=6.0,
    ),
    _bounded(
        "vad_gate+hard_kill+reject_loops+beam_5+no_repeat_5+token_budget+reuse_encoding",
        "no decode of noise, one beam-5 attempt per window that may not repeat 5 tokens and "
        "stops at its token budget, loops dropped, window 0 encoded once",
        no_repeat_ngram_size=5,
        token_budget_per_s=6.0,
    ),
]

# The gate that decides but does not cut (trimming to the spans cost clean Mandarin a point of
# CER), in front of the token-budgeted beam: at faster-whisper's beam and at production's.
_SKIP_BUDGET = [
    _with(
        _LOOPS_BEAM_5,
        f"vad_skip+hard_kill+reject_loops+beam_{beam}+token_budget+reuse_encoding",
        f"no decode of noise, speech decoded whole: one beam-{beam} attempt per window within "
        "its token budget, loops dropped, window 0 encoded once",
        decode={"beam_size": beam, "token_budget_per_s": 6.0},
        vad_trim=False,
    )
    for beam in (5, 10)
]

_COMBINED = [
    _with(
        INCIDENT,
        "vad_gate+hard_kill",
        "drop non-speech, and bound whatever still runs away",
        vad_gate=True,
        policy="hard_kill",
    ),
    _with(
        INCIDENT,
        "vad_gate+hard_kill+no_fallback+beam_5",
        "the lab's candidate: no decode of noise, no sampled retries, a bounded worst case",
        decode={"temperature": (0.0,), "beam_size": 5},
        vad_gate=True,
        policy="hard_kill",
    ),
    _LOOPS_BEAM_5,
    _LOOPS_BEAM_1,
    *_BOUNDED_COMBINED,
    *_SKIP_BUDGET,
    _with(
        INCIDENT,
        "hard_kill+revoke_overdue",
        "bound the job and the lease independently",
        policy="hard_kill",
        arbiter_policy="revoke_overdue",
    ),
]

# The lab's pick is data the scoreboard writes, not a name typed here: the first row of the
# pick table of the run it was chosen on (`asrlab.analysis.scoreboard.pick_table`), bundled as
# asrlab/data/pick.csv with that run's provenance (docs/results/remedies.md). To re-choose, run
# the scoreboard and bundle its pick.csv.
PICK_PATH = Path(__file__).resolve().parents[1] / "data" / "pick.csv"


def _picked(path: Path = PICK_PATH) -> str:
    with path.open(encoding="utf-8", newline="") as f:
        rows = csv.DictReader(line for line in f if not line.startswith("#"))
        return next(rows)["remedy"]


RECOMMENDED_FROM = _picked()
RECOMMENDED_WHY = (
    "the scoreboard's pick (docs/results/remedies.md, `asrlab presets`): the first remedy to "
    "clear every bar (cost within 1.5x of the greedy floor on noise and hard speech; clean "
    "accuracy kept against the incident preset in each language, paired per utterance; no more "
    "emitted without words than batched; not dominated by batched), or else the cheapest that "
    "keeps the accuracy"
)

_ALL = [INCIDENT, *_SINGLE, *_LAB, *_BOUNDED_BEAM, *_PEERS, *_COMBINED]
_BY_NAME = {r.name: r for r in _ALL}
REMEDIES: dict[str, Remedy] = _BY_NAME | {
    "recommended": replace(
        _BY_NAME[RECOMMENDED_FROM],
        name="recommended",
        why=f"= {RECOMMENDED_FROM}: {RECOMMENDED_WHY}",
    )
}


def remedy(name: str) -> Remedy:
    """A preset by name; the error lists what exists."""
    if name not in REMEDIES:
        raise ConfigError("remedy", name, f"no such remedy; available: {', '.join(REMEDIES)}")
    return REMEDIES[name]
