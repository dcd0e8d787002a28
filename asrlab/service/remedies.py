"""Named presets: the incident's settings and every remedy the team proposed or the lab found.

Each `Remedy` is data, so a notebook, a sweep row or the command line can name one and get the
same decode options, worker policy, arbiter policy and VAD gate. Comments say why each exists.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from asrlab.decoding.options import DecodeConfig, batch_size_for, default_threads, preset
from asrlab.errors import ConfigError
from asrlab.service.policy import INCIDENT_ASR_TIMEOUT_S, INCIDENT_SEGMENTS_TIMEOUT_S


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
        arbiter_policy: the lease arbiter's policy (`asrlab.service.arbiter.POLICIES`).
        vad_gate: skip decoding when VAD finds no speech, and decode only the speech spans.
        peer: not a change the team proposed but what a peer would run instead (faster-whisper's
            batched pipeline, its hallucination-silence option): the bar a remedy must clear.
    """

    name: str
    why: str
    decode: DecodeConfig = field(default_factory=lambda: preset("incident"))
    policy: str = "legacy_thread"
    asr_timeout_s: float = INCIDENT_ASR_TIMEOUT_S
    segments_timeout_s: float = INCIDENT_SEGMENTS_TIMEOUT_S
    result_mode: str = "list"
    arbiter_policy: str = "incident"
    vad_gate: bool = False
    peer: bool = False

    def row(self) -> dict[str, Any]:
        """Flat fields for a results table (the decode config is nested under ``decode``)."""
        return {k: v for k, v in asdict(self).items() if k != "decode"} | {
            "decode": asdict(self.decode),
            "decode_hash": self.decode.config_hash(),
        }


def _with(base: Remedy, name: str, why: str, decode: dict[str, Any] | None = None, **kw: Any):
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
    _with(
        INCIDENT,
        "hard_kill+revoke_overdue",
        "bound the job and the lease independently",
        policy="hard_kill",
        arbiter_policy="revoke_overdue",
    ),
]

# The lab's pick: the remedy the scoreboard favours (`asrlab.analysis.scoreboard.bars`, the first
# that clears every bar), as measured in docs/results/remedies.md. Re-run experiments/remedies.yaml
# before changing it.
RECOMMENDED_FROM = "vad_gate+hard_kill+reject_loops+beam_1+reuse_encoding"
RECOMMENDED_WHY = (
    "the scoreboard's pick (docs/results/remedies.md): within 1.5x of the greedy floor on noise "
    "and hard speech, clean WER/CER within 1 point of the incident preset's, no more emitted "
    "without words than batched, not dominated by batched"
)

_ALL = [INCIDENT, *_SINGLE, *_LAB, *_PEERS, *_COMBINED]
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
