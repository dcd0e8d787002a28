"""Workloads: seeded Poisson arrivals of a mix of audio, run for real through one service.

The replay shows the incident's chain with two hand-placed jobs; a workload asks how often it
happens under traffic. Jobs arrive as a Poisson process (`rate_per_min`), each a draw from a
weighted `mix` of audio classes and lengths, and ``clients`` threads send them to one node (one
`WorkerManager`, one `RealtimeArbiter`, built by `asrlab.service.service` exactly as the replay
builds it). Every random choice comes from ``seed``, so a workload is reproducible job for job,
and two remedies given the same seed see the same jobs at the same instants.

Latency is what the user waits: from the job's arrival to the client's answer, including the
time the job waited for a free client (``client_wait_s``) when all ``clients`` were busy.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from tqdm import tqdm

from asrlab import corpus, service
from asrlab.errors import ConfigError
from asrlab.metrics import percentiles
from asrlab.pipeline import JobRecord, Node
from asrlab.service import ServiceSettings, none_or_positive, positive, whole

LANG_PREFIX = "lang:"  # "lang:zh": Mandarin speech from the corpus (see `load_item`)
WINDOW_S = 30.0  # one Whisper window: a whole-clip draw keeps to single-window utterances
ATTRIBUTIONS = ("own_timeout", "cascade", "refused_other", "bad_input")
_WORD = re.compile(r"[\w-]+")


class MixItem(NamedTuple):
    """One kind of job in a workload's mix.

    Attributes:
        source: a corpus clip id, ``"lang:<code>"`` (speech of that language from the corpus),
            one of `asrlab.corpus.STRESS_SOURCES`, or an audio file path.
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
# temperature-fallback ladder (INCIDENT.md): they are the jobs that hold a lease overdue.
DEFAULT_MIX: tuple[MixItem, ...] = (
    MixItem("lang:zh", None, 0.45),  # one AISHELL-1 / PaddleSpeech utterance, 4-6 s
    MixItem("lang:zh", 11.2, 0.15),  # the incident's length
    MixItem("lang:en", None, 0.20),  # one LibriSpeech utterance or JFK, 3-12 s
    MixItem("lang:en", 11.2, 0.10),
    MixItem("pink_noise", 11.2, 0.07),
    MixItem("white_noise", 11.0, 0.03),
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
        checks: list[tuple[str, bool, str]] = [
            ("rate_per_min", positive(self.rate_per_min), "must be a finite rate > 0 per min"),
            ("n_jobs", whole(self.n_jobs, 1), "must be a whole number >= 1"),
            ("clients", whole(self.clients, 1), "must be a whole number >= 1"),
            ("seed", whole(self.seed, 0), "must be a whole number >= 0"),
            ("mix", bool(self.mix), "needs at least one item"),
        ]
        for name, ok, why in checks:
            if not ok:
                raise ConfigError(name, getattr(self, name), why)

    def row(self) -> dict[str, Any]:
        """``workload_*`` columns for every result row (the mix as JSON, for parquet)."""
        fields = asdict(self) | {"mix": json.dumps([list(m) for m in self.mix])}
        return {f"workload_{k}": v for k, v in fields.items()}


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
    checks: list[tuple[str, bool, str]] = [
        ("length_s", none_or_positive(item.length_s), "must be None or > 0 s"),
        ("length_s", not (stress and item.length_s is None), "a stress source needs a length"),
        ("length_s", not (file and item.length_s is not None), "a file is taken whole: None"),
        ("weight", positive(item.weight), "must be a finite weight > 0"),
        ("noise_seed", item.noise_seed is None or whole(item.noise_seed, 0), "None or >= 0"),
    ]
    for name, ok, why in checks:
        if not ok:
            raise ConfigError(f"mix.{name}", item, why)
    return item


def _language(source: str) -> str | None:
    """``"lang:zh"`` -> ``"zh"`` when the corpus has Chinese clips; ConfigError when none."""
    if not source.startswith(LANG_PREFIX):
        return None
    language = source[len(LANG_PREFIX) :]
    if not corpus.clips(language, with_reference=True):
        raise ConfigError("mix.source", source, "the corpus has no clips of that language")
    return language


# --- the plan: pure and seeded --------------------------------------------------------------


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


def plan(config: WorkloadConfig) -> tuple[PlannedJob, ...]:
    """The workload's jobs in arrival order, from ``config.seed`` alone.

    Arrivals, mix draws and job seeds come from three independent streams of the seed, so
    changing the mix leaves the arrival instants as they were.
    """
    arrivals_rng, mix_rng, seeds_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(config.seed).spawn(3)
    )
    arrivals = poisson_arrivals(config.rate_per_min, config.n_jobs, arrivals_rng)
    weights = np.array([m.weight for m in config.mix], dtype=float)
    picks = mix_rng.choice(len(config.mix), size=config.n_jobs, p=weights / weights.sum())
    seeds = seeds_rng.integers(0, 2**31 - 1, size=config.n_jobs)
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


@dataclass(frozen=True)
class JobAudio:
    """A planned job's audio and what it is (``reference`` is "" where none is known)."""

    samples: np.ndarray
    label: str
    audio_class: str  # "speech", "file", or the stress source's name
    language: str
    reference: str


def load_item(item: MixItem, job_seed: int) -> JobAudio:
    """The audio of one job.

    A stress source is generated with `job_seed`; a file is decoded whole. ``lang:<code>``
    without a length takes one whole clip of that language (at most `WINDOW_S`) chosen by
    `job_seed`; with a length it concatenates the language's clips, from one chosen by
    `job_seed`, to exactly ``length_s`` (`asrlab.corpus.concat_to_length`, which keeps the
    reference text true to the audio). A clip id is taken whole, or cycled to ``length_s``.
    """
    if _is_generated_or_file(item.source):
        length_s = item.length_s or 0.0  # a file ignores it; a stress source always has one
        samples, label = corpus.load_source(item.source, length_s=length_s, noise_seed=job_seed)
        kind = item.source if item.source in corpus.STRESS_SOURCES else "file"
        return JobAudio(samples, label, kind, "", "")
    pool = _pool(item.source)
    if item.length_s is None:
        clip = _whole_clip(pool, job_seed)
        return JobAudio(
            clip.load(), clip.clip_id, "speech", clip.language, clip.reference_text or ""
        )
    start = job_seed % len(pool)
    ordered = pool[start:] + pool[:start]
    samples, reference = corpus.concat_to_length(ordered, item.length_s)
    label = _concat_label(item, ordered[0])
    return JobAudio(samples, label, "speech", ordered[0].language, reference)


def _concat_label(item: MixItem, first: corpus.Clip) -> str:
    return f"{item.source} {item.length_s:g} s from {first.clip_id}"


def planned_audios(
    item: MixItem, job_seeds: Sequence[int]
) -> list[tuple[str | None, float | None]]:
    """Per job seed, the label and seconds of the audio `load_item` will give that job of
    ``item``, read off the corpus manifest without making or decoding any audio (the
    simulator's per-job audio); a file's are unknown (None) until it is decoded. One call per
    item: the item is looked up once for all its jobs (100,000 of them)."""
    if item.source in corpus.STRESS_SOURCES:
        assert item.length_s is not None  # `_mix_item` refuses a stress source without one
        length_s = float(item.length_s)
        return [(corpus.stress_label(item.source, length_s, s), length_s) for s in job_seeds]
    if _is_generated_or_file(item.source):
        return [(None, None)] * len(job_seeds)
    pool = _pool(item.source)
    if item.length_s is None:
        short = _short(pool)
        return [(c.clip_id, c.duration_s) for c in (short[s % len(short)] for s in job_seeds)]
    length_s = float(item.length_s)
    return [(_concat_label(item, pool[s % len(pool)]), length_s) for s in job_seeds]


def _pool(source: str) -> tuple[corpus.Clip, ...]:
    language = _language(source)
    return corpus.clips(language, with_reference=True) if language else (corpus.get(source),)


def _whole_clip(pool: Sequence[corpus.Clip], job_seed: int) -> corpus.Clip:
    short = _short(pool)
    return short[job_seed % len(short)]


def _short(pool: Sequence[corpus.Clip]) -> Sequence[corpus.Clip]:
    """The clips a whole-clip item chooses from: those within one window (else all)."""
    return [c for c in pool if c.duration_s <= WINDOW_S] or list(pool)


def _is_generated_or_file(source: str) -> bool:
    return source in corpus.STRESS_SOURCES or (
        not source.startswith(LANG_PREFIX) and Path(source).is_file()
    )


# --- running it -----------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkloadResult:
    """A workload's outcome: one row per job (arrival order) and the arbiter's event trace.

    ``rows`` are `JobRecord.row()` plus the job's plan (``job_index``, ``arrival_s``, ``source``,
    ``audio_class``, ...), its client (``started_s``, ``client_wait_s``, ``latency_s``), its
    ``attribution`` and ``blamed`` (see `attribute`), and the ``workload_*`` and ``remedy_*``
    settings. ``events`` are the arbiter's, as `asrlab.service.arbiter_events` gives them.
    """

    config: WorkloadConfig
    rows: tuple[dict[str, Any], ...]
    events: tuple[dict[str, Any], ...]
    records: tuple[JobRecord, ...]

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(list(self.rows))


@dataclass(frozen=True)
class _Served:
    record: JobRecord
    started_s: float  # when a client took the job, seconds after the workload's start


def run_workload(config: WorkloadConfig, *, progress: bool = True) -> WorkloadResult:
    """Run every job for real, at its arrival instant, through one service; settle late results.

    The audio is made before the clock starts. Once every client is done, each given-up job's
    late result is awaited (`Node.settle`), so the rows hold all the work it cost.
    """
    jobs = plan(config)
    audios = [load_item(job.item, job.job_seed) for job in jobs]
    with service.service(config) as node:
        served = _serve(node, jobs, audios, config.clients, progress)
        for run in served:
            node.settle(run.record)
        events = service.arbiter_events(node.arbiter)
    common = config.row() | service.remedy_columns(node.remedy)
    rows = [
        _row(job, audio, run) | common for job, audio, run in zip(jobs, audios, served, strict=True)
    ]
    blame = attribute(pd.DataFrame(rows), events)
    for row, attribution, blamed in zip(rows, blame["attribution"], blame["blamed"], strict=True):
        row["attribution"], row["blamed"] = attribution, blamed
    records = tuple(run.record for run in served)
    return WorkloadResult(config, tuple(rows), tuple(events), records)


def _serve(
    node: Node, jobs: Sequence[PlannedJob], audios: Sequence[JobAudio], clients: int, progress: bool
) -> list[_Served]:
    """``clients`` threads take the jobs in arrival order, each at its arrival or when free."""
    served: list[_Served | None] = [None] * len(jobs)
    pending = iter(range(len(jobs)))
    lock = threading.Lock()
    failures: list[BaseException] = []
    bar = tqdm(total=len(jobs), unit="job", desc=node.remedy.name, disable=not progress)
    start = time.monotonic()

    def client() -> None:
        while not failures:
            with lock:
                i = next(pending, None)
            if i is None:
                return
            time.sleep(max(0.0, start + jobs[i].arrival_s - time.monotonic()))
            taken = time.monotonic() - start
            try:
                record = node.run(jobs[i].job_id, audios[i].samples)
            except BaseException as e:  # not an AsrlabError (the node answers those): a bug
                failures.append(e)
                return
            served[i] = _Served(record, taken)
            bar.update()

    threads = [threading.Thread(target=client) for _ in range(min(clients, len(jobs)))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    bar.close()
    if failures:
        raise failures[0]
    return [run for run in served if run is not None]


def _row(job: PlannedJob, audio: JobAudio, run: _Served) -> dict[str, Any]:
    record = run.record
    wait_s = max(0.0, run.started_s - job.arrival_s)
    failed = [event for event, _ in record.timeline if event.startswith("failed: ")]
    return (
        record.row()
        | {
            "job_index": job.index,
            "arrival_s": job.arrival_s,
            "started_s": run.started_s,
            "client_wait_s": wait_s,
            "latency_s": wait_s + record.total_s,
            "source": audio.label,
            "mix_source": job.item.source,
            "mix_length_s": job.item.length_s,
            "job_seed": job.job_seed,
            "audio_class": audio.audio_class,
            "language": audio.language,
            "reference": audio.reference,
            "error_type": failed[-1].removeprefix("failed: ") if failed else None,
        }
        | decode_columns(record.trace)
    )


DECODE_COLUMNS = ("decode_wall_s", "decode_stops_s", "decode_sampled", "decode_rebuild_s")


def decode_columns(trace: Mapping[str, Any] | None) -> dict[str, Any]:
    """What the simulator's service-time table needs from a job's decode trace.

    ``decode_wall_s`` is the worker's whole decode (also of a late result); ``decode_stops_s``
    (JSON) are the offsets from the decode's start at which a cooperative stop can take effect:
    where the decoder checks its deadline (before each window's encoder pass and before each
    attempt; `asrlab.decoding`); ``decode_sampled`` whether an attempt sampled, so that the
    worker rebuilds its model before its next decode, and ``decode_rebuild_s`` the seconds this
    decode waited for such a rebuild. None without a trace
    (no decode, or a decode killed before it reported).
    """
    if not trace:
        return dict.fromkeys(DECODE_COLUMNS)
    summary = trace["summary"]
    t = float(summary["transcribe_s"])
    stops = [round(t, 4)]  # before the first window's encoder pass
    for window in trace["windows"]:
        t += window["encode_s"] + window["detect_s"]
        for attempt in window["attempts"]:
            t += attempt["seconds"]
            stops.append(round(t, 4))
    return {
        "decode_wall_s": float(summary["wall_s"]),
        "decode_stops_s": json.dumps(stops),
        "decode_sampled": summary.get("sampled"),  # absent from traces of older versions
        "decode_rebuild_s": summary.get("rebuild_s"),
    }


# --- attribution and summary: pure over rows and events -------------------------------------


def attribute(rows: pd.DataFrame, events: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Why each failed job failed: ``attribution`` (one of `ATTRIBUTIONS`) and ``blamed``.

    The rule, per row whose ``status`` is not "ok" (successes get None):

    - ``bad_input``: ``error_type`` is AudioError (rejected before VAD; never touched a lease).
    - ``cascade``: ``error_type`` is LeaseRejected, and at the instant the arbiter gave the job
      up (its last ``cancel`` event, an acquire timeout, or ``refuse`` event, an immediate
      refusal) another job's lease was live and overdue: granted by an earlier event, not yet
      ended by a ``release`` or ``revoke`` event (trace order decides ties of time), and
      ``grant t_ms + 1000 * lease_hold_max_s < refusal t_ms`` (strictly, as the arbiter counts
      overdue), with ``lease_hold_max_s`` from the holder's row. ``blamed`` lists those holders.
    - ``refused_other``: LeaseRejected with no such lease at that instant (capacity, a busy
      usage sample, a deadline-aware refusal of a merely full device), or no event to date it.
    - ``own_timeout``: any other error: its own ASR timeout (also one that expired queued behind
      a worker still busy with an earlier job's late work), a cancellation (its own lease was
      revoked), a worker crash, a failed decode.

    Args:
        rows: one row per job with ``job_id``, ``status``, ``error_type`` and
            ``lease_hold_max_s`` (NaN/None where the job held no lease).
        events: the arbiter's events (``t_ms``, ``kind``, ``token``, ``holder``), in trace order.

    Returns:
        A DataFrame with ``attribution`` and ``blamed`` (comma-joined job ids), rows' index.
    """
    # Columns as lists: iterating a Series costs ~10x more per row (100,000 simulated jobs).
    jobs = rows["job_id"].tolist()
    holds = rows.get("lease_hold_max_s", pd.Series(math.nan, index=rows.index))
    hold_s = {j: h for j, h in zip(jobs, holds.astype(float).tolist(), strict=True) if h == h}
    # One pass in trace order, keeping the live leases (token -> holder, due_ms): at most
    # ``capacity`` of them, so 100,000 simulated jobs attribute in a second.
    live: dict[int, tuple[str, float]] = {}
    blamed_at: dict[str, list[str]] = {}  # holder -> overdue holders at its last give-up
    for e in events:
        kind = e["kind"]
        if kind == "grant":
            live[e["token"]] = (e["holder"], e["t_ms"] + 1000.0 * hold_s.get(e["holder"], math.inf))
        elif kind in ("release", "revoke"):
            live.pop(e["token"], None)
        elif kind in ("cancel", "refuse"):
            me, t_ms = e["holder"], e["t_ms"]
            blamed_at[me] = [holder for holder, due in live.values() if holder != me and due < t_ms]
    out: list[tuple[str | None, str | None]] = []
    for job, status, error_type in zip(
        jobs, rows["status"].tolist(), rows["error_type"].tolist(), strict=True
    ):
        if status == "ok":
            out.append((None, None))
        elif error_type == "AudioError":
            out.append(("bad_input", None))
        elif error_type != "LeaseRejected":
            out.append(("own_timeout", None))
        else:
            blamed = blamed_at.get(job, [])
            out.append(("cascade", ",".join(blamed)) if blamed else ("refused_other", None))
    return pd.DataFrame(out, columns=["attribution", "blamed"], index=rows.index, dtype=object)


def summarize(
    rows: pd.DataFrame, events: Sequence[Mapping[str, Any]] | None = None
) -> dict[str, Any]:
    """One workload's scoreboard line, from its rows (and its events, to attribute anew).

    Latency (``latency_s``: client wait plus the time to the client's answer, success or error)
    and lease wait are percentiles with 95 % bootstrap intervals (`asrlab.metrics.percentile`);
    NaN where there are no values. ``errors`` counts each exact client-visible text;
    ``error_kinds`` the same texts with the job id and every number masked, so that timeouts of
    different jobs count together. The `ATTRIBUTIONS` count failed jobs.
    """
    attribution = rows["attribution"] if events is None else attribute(rows, events)["attribution"]
    failed = rows[rows["status"] != "ok"]
    late = rows.get("worker_late_result", pd.Series(dtype=object))
    after = rows.get("worker_work_after_deadline_s", pd.Series(dtype=float))
    out: dict[str, Any] = {
        "remedy": rows["remedy"].iloc[0] if len(rows) else None,
        "n_jobs": len(rows),
        "n_ok": int((rows["status"] == "ok").sum()),
        "success_rate": float((rows["status"] == "ok").mean()) if len(rows) else math.nan,
    }
    out |= _estimates("latency", rows["latency_s"], (50, 95, 99))
    out |= _estimates("lease_wait", rows["lease_wait_s"], (50, 95))
    out["work_after_deadline_s"] = float(pd.to_numeric(after).fillna(0.0).sum())
    out["late_results_discarded"] = int(late.eq(True).sum())
    out |= {name: int((attribution == name).sum()) for name in ATTRIBUTIONS}
    out["errors"] = failed["client_error"].value_counts().to_dict()
    texts = zip(failed["client_error"], failed["job_id"], strict=True)
    kinds = [_mask(str(text), job) for text, job in texts]
    out["error_kinds"] = pd.Series(kinds, dtype=object).value_counts().to_dict()
    return out


def summary_frame(
    rows: pd.DataFrame, events: Sequence[Mapping[str, Any]] | None = None
) -> pd.DataFrame:
    """`summarize` as a one-row DataFrame (the error counts as JSON text, for parquet)."""
    line = summarize(rows, events)
    line["errors"] = json.dumps(line["errors"])
    line["error_kinds"] = json.dumps(line["error_kinds"])
    return pd.DataFrame([line])


def format_summary(line: Mapping[str, Any]) -> str:
    """`summarize`'s line as the few lines a person reads first (the command line prints it)."""

    def est(name: str, q: int) -> str:
        value, low, high = (line[f"{name}_p{q}{s}_s"] for s in ("", "_low", "_high"))
        return f"p{q} {value:.2f} s [{low:.2f}, {high:.2f}]"

    failed = line["n_jobs"] - line["n_ok"]
    blame = ", ".join(f"{name} {line[name]}" for name in ATTRIBUTIONS)
    kinds = line["error_kinds"]
    kinds = json.loads(kinds) if isinstance(kinds, str) else kinds
    out = [
        f"remedy {line['remedy']}: {line['n_ok']}/{line['n_jobs']} ok "
        f"(success {line['success_rate']:.1%}), {failed} failed ({blame})",
        "latency   " + ", ".join(est("latency", q) for q in (50, 95, 99)),
        "lease wait " + ", ".join(est("lease_wait", q) for q in (50, 95)),
        f"work after the deadline {line['work_after_deadline_s']:.1f} s, "
        f"late results discarded {line['late_results_discarded']}",
    ]
    out += [f"  {count:>6} x {text}" for text, count in kinds.items()]
    return "\n".join(out)


def _estimates(name: str, values: pd.Series, qs: tuple[int, ...]) -> dict[str, float]:
    finite = pd.to_numeric(values, errors="coerce").dropna()
    out: dict[str, float] = {}
    found = percentiles(finite.to_numpy(), qs) if len(finite) else {}
    for q in qs:
        est = found.get(f"p{q}")
        out[f"{name}_p{q}_s"] = est.value if est else math.nan
        out[f"{name}_p{q}_low_s"] = est.low if est else math.nan
        out[f"{name}_p{q}_high_s"] = est.high if est else math.nan
    return out


def _mask(text: str, job_id: str) -> str:
    """'ASR task timeout: job job-3 passed its 8.0 s ...' -> '... job <job> passed its # s ...'."""
    # One compiled pattern for every job (a pattern per job id thrashes re's cache at 100,000).
    text = _WORD.sub(lambda m: "<job>" if m.group(0) == job_id else m.group(0), text)
    return re.sub(r"\d+(\.\d+)?", "#", text)
