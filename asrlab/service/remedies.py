"""Named presets: the incident's settings and every remedy the team proposed or the lab found.

Each `Remedy` is data, so a notebook, a sweep row or the command line can name one and get the
same decode options, worker policy, arbiter policy and VAD gate. Comments say why each exists.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from asrlab.decoding.options import DecodeConfig, preset
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
    _with(
        INCIDENT,
        "hard_kill+revoke_overdue",
        "bound the job and the lease independently",
        policy="hard_kill",
        arbiter_policy="revoke_overdue",
    ),
]

REMEDIES: dict[str, Remedy] = {r.name: r for r in [INCIDENT, *_SINGLE, *_COMBINED]}


def remedy(name: str) -> Remedy:
    """A preset by name; the error lists what exists."""
    if name not in REMEDIES:
        raise ConfigError("remedy", name, f"no such remedy; available: {', '.join(REMEDIES)}")
    return REMEDIES[name]
