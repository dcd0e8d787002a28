"""A workload as data: seeded Poisson arrivals of a weighted mix of audio, planned job for job.

The replay shows the incident's chain with two hand-placed jobs; a workload asks how often it
happens under traffic. Jobs arrive as a Poisson process (`rate_per_min`), each a draw from a
weighted `mix` of audio classes and lengths. Every random choice comes from ``seed``, so a
workload is reproducible job for job, and two remedies given the same seed see the same jobs at
the same instants. Pure: `plan` draws, nothing runs (`asrlab.workload.real` runs it for real,
`asrlab.sim.core` simulates it).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from asrlab.audio import corpus
from asrlab.checks import Check, check_fields, none_or_positive, positive, whole
from asrlab.errors import ConfigError
from asrlab.service.settings import ServiceSettings

ROW_PREFIX = "workload_"  # the config's columns in every results row (`WorkloadConfig.row`)
LANG_PREFIX = "lang:"  # "lang:zh": Mandarin speech from the corpus (see `load_item`)
WINDOW_S = 30.0  # one Whisper window: a whole-clip draw keeps to single-window utterances


class MixItem(NamedTuple):
    """One kind of job in a workload's mix.

    Attributes:
        source: a corpus clip id, ``"lang:<code>"`` (speech of that language from the corpus),
            one of `asrlab.audio.corpus.STRESS_SOURCES`, or an audio file path.
        length_s: seconds of audio; None takes a clip whole (for ``lang:`` one clip drawn per
            job, of at most `WINDOW_S`). A stress source needs a length.
        weight: relative frequency in the mix (> 0; the weights need not sum to 1).
        noise_seed: a fixed seed for a generated signal (e.g. the replay's pink noise, seed 3);
            None derives one per job from the workload seed.
    """

    source: str
    length_s: float | None = None
    weight: float = 1.0
    noise_seed: int | None = None


# Production's traffic, roughly: short Mandarin utterances above all, some English, some at
# the incident's 11.2 s, and a few noise recordings, which at the incident preset climb the
# temperature-fallback ladder (docs/incident.md): they are the jobs that hold a lease overdue.
DEFAULT_MIX: tuple[MixItem, ...] = (
    MixItem("lang:zh", None, 0.45),  # one AISHELL-1 / PaddleSpeech utterance, 4-6 s
    MixItem("lang:zh", corpus.INCIDENT_CLIP_S, 0.15),  # the incident's length
    MixItem("lang:en", None, 0.20),  # one LibriSpeech utterance or JFK, 3-12 s
    MixItem("lang:en", corpus.INCIDENT_CLIP_S, 0.10),
    MixItem("pink_noise", corpus.INCIDENT_CLIP_S, 0.07),
    MixItem("white_noise", corpus.NON_SPEECH_LENGTH_S, 0.03),
)


@dataclass(frozen=True)
class WorkloadConfig(ServiceSettings):
    """One workload: the service (`ServiceSettings`: model, remedy, thresholds) and the traffic
    sent to it.

    Attributes:
        rate_per_min: mean arrival rate, jobs per minute (Poisson arrivals).
        n_jobs: jobs in the workload.
        clients: concurrent clients; at most this many jobs are in flight, and a job that
            arrives while all are busy waits for one (that wait counts in its latency).
        seed: seeds the arrivals, the mix draws and every job's own seed.
        mix: what the jobs are (`MixItem`s, or plain tuples in that field order).
    """

    rate_per_min: float = 6.0
    n_jobs: int = 20
    clients: int = 4
    seed: int = 0
    mix: tuple[MixItem, ...] = DEFAULT_MIX

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "mix", tuple(_mix_item(m) for m in self.mix))
        checks: list[Check] = [
            ("rate_per_min", positive(self.rate_per_min), "must be a finite rate > 0 per min"),
            ("n_jobs", whole(self.n_jobs, 1), "must be a whole number >= 1"),
            ("clients", whole(self.clients, 1), "must be a whole number >= 1"),
            ("seed", whole(self.seed, 0), "must be a whole number >= 0"),
            ("mix", bool(self.mix), "needs at least one item"),
        ]
        check_fields(self, checks)

    def row(self) -> dict[str, Any]:
        """``workload_*`` columns for every result row (the mix as JSON, for parquet)."""
        fields = asdict(self) | {"mix": json.dumps([list(m) for m in self.mix])}
        return {f"{ROW_PREFIX}{k}": v for k, v in fields.items()}

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> WorkloadConfig:
        """The config a results row was run with: the inverse of `row` (NaN read back as None)."""
        fields: dict[str, Any] = {}
        for name in WorkloadConfig.__dataclass_fields__:
            value: Any = row.get(f"{ROW_PREFIX}{name}")
            if name == "mix":
                value = tuple(tuple(m) for m in json.loads(value))
            elif isinstance(value, np.generic):
                value = value.item()
            fields[name] = None if isinstance(value, float) and math.isnan(value) else value
        return WorkloadConfig(**fields)


def _mix_item(raw: Any) -> MixItem:
    """A validated `MixItem` from an item or a plain tuple (a notebook parameter, YAML)."""
    try:
        item = MixItem(*raw)
    except TypeError as e:
        raise ConfigError("mix", raw, f"not (source, length_s, weight[, noise_seed]): {e}") from e
    stress = item.source in corpus.STRESS_SOURCES
    file = not stress and _is_generated_or_file(item.source)
    if not (stress or file or _language(item.source)):
        corpus.get(item.source)  # raises, listing the clips there are
    checks: list[Check] = [
        ("length_s", none_or_positive(item.length_s), "must be None or > 0 s"),
        ("length_s", not (stress and item.length_s is None), "a stress source needs a length"),
        ("length_s", not (file and item.length_s is not None), "a file is taken whole: None"),
        ("weight", positive(item.weight), "must be a finite weight > 0"),
        ("noise_seed", item.noise_seed is None or whole(item.noise_seed, 0), "None or >= 0"),
    ]
    check_fields(item, checks, prefix="mix.")
    return item


def _language(source: str) -> str | None:
    """``"lang:zh"`` -> ``"zh"`` when the corpus has Chinese clips; ConfigError when none."""
    if not source.startswith(LANG_PREFIX):
        return None
    language = source[len(LANG_PREFIX) :]
    if not corpus.clips(language, with_reference=True):
        raise ConfigError("mix.source", source, "the corpus has no clips of that language")
    return language


@dataclass(frozen=True)
class PlannedJob:
    """One job of a workload before it runs: when it arrives and what it is."""

    index: int
    job_id: str
    arrival_s: float  # seconds after the workload's start
    item: MixItem
    job_seed: int  # the noise seed, or which clips a ``lang:`` item takes


def poisson_arrivals(rate_per_min: float, n: int, rng: np.random.Generator) -> np.ndarray:
    """Arrival instants (s, shape (n,)) of a Poisson process of `rate_per_min`, the first at 0.

    Inter-arrival times are exponential with mean ``60 / rate_per_min`` s. The clock starts at
    the first arrival: the idle wait before it would measure nothing.
    """
    gaps = rng.exponential(60.0 / rate_per_min, size=max(0, n - 1))
    return np.concatenate([[0.0], np.cumsum(gaps)])[:n]


def draws(config: WorkloadConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Arrival instants (s), mix indices and job seeds: three independent streams of
    ``config.seed``, so changing the mix leaves the arrivals as they were. `plan` and the
    simulator's array plan (`asrlab.sim.jobs.planned`) both draw here."""
    arrivals_rng, mix_rng, seeds_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(config.seed).spawn(3)
    )
    arrivals = poisson_arrivals(config.rate_per_min, config.n_jobs, arrivals_rng)
    weights = np.array([m.weight for m in config.mix], dtype=float)
    picks = mix_rng.choice(len(config.mix), size=config.n_jobs, p=weights / weights.sum())
    seeds = seeds_rng.integers(0, 2**31 - 1, size=config.n_jobs)
    return arrivals, picks, seeds


def plan(config: WorkloadConfig) -> tuple[PlannedJob, ...]:
    """The workload's jobs in arrival order, from ``config.seed`` alone.

    Arrivals, mix draws and job seeds come from three independent streams of the seed, so
    changing the mix leaves the arrival instants as they were.
    """
    arrivals, picks, seeds = draws(config)
    width = len(str(config.n_jobs - 1))
    return tuple(
        PlannedJob(
            index=i,
            job_id=f"job-{i:0{width}d}",
            arrival_s=float(arrivals[i]),
            item=item,
            job_seed=int(seeds[i] if item.noise_seed is None else item.noise_seed),
        )
        for i, item in enumerate(config.mix[k] for k in picks)
    )


def _is_generated_or_file(source: str) -> bool:
    return source in corpus.STRESS_SOURCES or (
        not source.startswith(LANG_PREFIX) and Path(source).is_file()
    )
