"""The replay calibrated to this machine: the incident's thresholds scaled to job A's decode.

The incident's thresholds are absolute (ASR timeout 30 s, segments guard 20 s, ``hold_max`` 20 s,
acquire timeout 5 s, job B arriving 1 s after A's lease turned overdue) while job A's decode is
not: the same float32 decode of the replay's A took 24 s on one lab CPU and 38 s on another, so a
replay at the incident's values showed the chain on one machine and not on the next (A answered
at 24 s, B served after a 3 s wait). `scale_for` measures nothing itself: given A's decode as it
ran alone on this machine, it gives the one factor by which every threshold is multiplied, so
that the thresholds keep the incident's proportions to each other and A's decode outlasts the
ASR timeout by `MARGIN`.

Why a margin, not production's ratio: production's decode (``transcribe()`` 5.37 s plus
``list(segments)`` 24.68 s, docs/incident.md) outlasted its 30 s timeout by 0.2 %, a knife edge,
and the same seeded decode here moves by up to 25 % between consecutive runs (20.0 to 25.5 s in
one hour). With ``MARGIN`` 4/3 the replay's decode may run 25 % faster than it was measured and
still pass its timeout, and 50 % slower and still be cut by it while B waits.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from asrlab.checks import positive
from asrlab.errors import ConfigError
from asrlab.service.policy import INCIDENT_ASR_TIMEOUT_S
from asrlab.service.settings import ServiceSettings

MARGIN = 4.0 / 3.0  # A's measured decode / the calibrated ASR timeout
B_AFTER_OVERDUE_S = 1.0  # the incident's job B arrives this long after A's lease is overdue


@dataclass(frozen=True)
class Thresholds:
    """The values one replay runs with (seconds and milliseconds as the service takes them)."""

    scale: float
    asr_timeout_s: float
    segments_timeout_s: float
    hold_max_ms: float
    acquire_timeout_ms: float
    b_delay_s: float

    def overrides(self) -> dict[str, Any]:
        """The `ServiceSettings` fields that carry them (B's arrival is the replay's own), for
        ``dataclasses.replace(settings, **overrides)``: Any, as a settings dataclass has fields
        of other types beside these floats."""
        fields = asdict(self)
        return {k: v for k, v in fields.items() if k not in ("scale", "b_delay_s")}

    def describe(self) -> str:
        return (
            f"scale {self.scale:.3f}: ASR timeout {self.asr_timeout_s:.2f} s, guard "
            f"{self.segments_timeout_s:.2f} s, hold_max {self.hold_max_ms / 1000:.2f} s, "
            f"acquire timeout {self.acquire_timeout_ms / 1000:.2f} s, B at {self.b_delay_s:.2f} s"
        )


def scale_for(decode_s: float, *, margin: float = MARGIN) -> float:
    """The factor for a job A whose decode took ``decode_s`` alone on this machine: the
    incident's 30 s ASR timeout becomes ``decode_s / margin``."""
    if not (positive(decode_s) and positive(margin)):
        raise ConfigError("decode_s", decode_s, "needs a measured decode > 0 s and a margin > 0")
    return decode_s / (margin * INCIDENT_ASR_TIMEOUT_S)


def thresholds(
    settings: ServiceSettings, scale: float = 1.0, b_delay_s: float | None = None
) -> Thresholds:
    """Every threshold of ``settings`` (its remedy's timeouts, the arbiter's limits, and B's
    arrival: ``b_delay_s``, or 1 s after A's lease turns overdue) times ``scale``; 1.0 keeps
    the incident's absolute values."""
    if not positive(scale):
        raise ConfigError("scale", scale, "must be > 0")
    chosen = settings.effective_remedy()
    b_s = settings.hold_max_ms / 1000.0 + B_AFTER_OVERDUE_S if b_delay_s is None else b_delay_s
    return Thresholds(
        scale=scale,
        asr_timeout_s=chosen.asr_timeout_s * scale,
        segments_timeout_s=chosen.segments_timeout_s * scale,
        hold_max_ms=settings.hold_max_ms * scale,
        acquire_timeout_ms=settings.acquire_timeout_ms * scale,
        b_delay_s=b_s * scale,
    )


def as_row(values: Thresholds) -> dict[str, Any]:
    """``threshold_*`` columns for a results row or a summary line."""
    return {f"threshold_{k}": v for k, v in asdict(values).items()}
