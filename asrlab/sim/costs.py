"""Measured service times: the table the simulator draws from.

A row is one real job as a real workload ran it (`asrlab.workload.real`): which model, compute type
and decode options (``decode_hash``) ran it, with or without the VAD gate, what it was (the mix
item's ``source`` and ``length_s``), and what it cost: ``vad_s`` on the node, ``service_s`` from
submission to the worker until its result reached the node, the decode's stop points for a
cooperative deadline, whether VAD found speech, and whether the decode ``sampled`` (then the
worker rebuilds its model before its next decode). Rows of kind ``respawn`` hold the seconds a
killed worker took to come back (process start and model load); rows of kind ``rebuild`` the
seconds such a rebuild took.

The simulator never invents a time: it resamples these rows (`Sampler`). `from_workload_rows`
rebuilds a table from any workload's results (a sweep's results.parquet), dropping the jobs whose
decode was cut short, since their full cost is unknown; `asrlab.sim.calibrate` measures one on
this machine.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from asrlab import provenance
from asrlab.errors import ConfigError
from asrlab.service.rows import Column, JobRow

COLUMNS = (
    "kind", "model", "compute_type", "decode_hash", "vad_gate", "source", "length_s", "audio",
    "audio_s", "vad_s", "speech", "service_s", "stops_s", "code_version", "measured_by",
    "sampled",
)  # fmt: skip


WHOLE = -1.0  # length_s of a mix item taken whole (None), as a number for grouping and CSV
# The lab's own table: base, float32, the incident and the candidate remedy on DEFAULT_MIX-like
# traffic, measured by `asrlab calibrate` (docs/results/simulator.md).
BUNDLED = Path(__file__).resolve().parents[1] / "data" / "service_times.csv"


def from_workload_rows(rows: pd.DataFrame, *, measured_by: str = "") -> pd.DataFrame:
    """The service-time table of a workload's results table (`WorkloadResult.frame`).

    A job counts when its decode ran to the end: answered with a result, or given up on but
    finished late (legacy). A killed, cancelled or cooperatively stopped decode is censored (its
    full cost is unknown) and dropped; so are jobs refused a lease (they never decoded). A job the
    VAD gate answered without a decode is kept with ``speech`` False and no service time.
    """
    c = Column
    needed = {"remedy_vad_gate", c.mix_source, c.mix_length_s, c.vad_s, c.decode_wall_s}
    missing = needed - set(rows.columns)
    if missing:
        raise ConfigError("rows", sorted(missing), "not workload results rows (asrlab.workload)")
    out = []
    version = provenance.code_version()  # where a row does not say which code measured it
    for flat in rows.to_dict("records"):
        row = JobRow.from_flat(flat)
        gated = bool(flat["remedy_vad_gate"])  # the settings: no JobRow fields
        service = {
            "model": flat["workload_model"],
            "compute_type": flat["workload_compute_type"],
            "decode_hash": flat["remedy_decode_hash"],
            "vad_gate": gated,
            "code_version": flat.get("code_version", version),
            "measured_by": measured_by,
        }
        rebuild = row.decode_rebuild_s
        if rebuild is not None and rebuild > 0:  # paid before the decode, cut short or not
            out.append(_cost_row(service, "rebuild", float(rebuild)))
        skipped = gated and row.vad_spans == 0 and row.lease_token is None
        killed = bool(row.worker_killed) or row.worker_status == "partial"
        wall_s = None if killed else row.decode_wall_s  # a decode cut short: its cost unknown
        decoded = wall_s is not None
        if not (skipped or decoded):
            continue
        # The worker's whole decode plus its start (the audio sent over the pipe)
        service_s = math.nan if wall_s is None else wall_s + float(row.worker_worker_start_s or 0)
        sampled = row.decode_sampled  # None: measured before it was recorded
        out.append(
            service
            | {
                "kind": "job",
                "source": row.mix_source,
                "length_s": WHOLE if row.mix_length_s is None else float(row.mix_length_s),
                "audio": row.source,  # the job's audio: clip id, composition, noise seed
                "audio_s": float(row.audio_s) if row.audio_s is not None else math.nan,
                "vad_s": float(row.vad_s) if row.vad_s is not None else math.nan,
                "speech": not skipped,
                "service_s": service_s,
                "stops_s": row.decode_stops_s if decoded else None,
                "sampled": bool(sampled) if decoded and sampled is not None else None,
            }
        )
        if row.worker_respawn_s is not None:
            out.append(_cost_row(service, "respawn", float(row.worker_respawn_s)))
    return pd.DataFrame(out, columns=list(COLUMNS))


def from_run(path: Path | str) -> pd.DataFrame:
    """`from_workload_rows` of a sweep run folder (or one parquet file) of workload notebooks.

    A folder's results.parquet counts when it holds workload rows (04_timeouts); otherwise each
    point's jobs.parquet (05_remedies writes the scoreboard as its results, the jobs apart).
    """
    path = Path(path)
    if path.is_file():
        files = [path]
    else:
        files = [path / "results.parquet", *sorted(path.glob("points/*/jobs.parquet"))]
    frames = [pd.read_parquet(f) for f in files if f.is_file()]
    rows = [f for f in frames if {Column.decode_wall_s, Column.mix_source} <= set(f.columns)]
    if not rows:
        why = "no workload rows with decode traces (asrlab.workload, this version) there"
        raise ConfigError("from_run", str(path), why)
    return from_workload_rows(pd.concat(rows, ignore_index=True), measured_by=f"from {path}")


def _cost_row(service: dict[str, Any], kind: str, seconds: float) -> dict[str, Any]:
    """A worker's cost that belongs to no one job's audio: a ``respawn`` or a ``rebuild``."""
    keys = ("model", "compute_type", "decode_hash", "vad_gate", "code_version", "measured_by")
    blank = dict.fromkeys(("audio", "audio_s", "vad_s", "stops_s", "sampled"))
    return {k: service[k] for k in keys} | blank | {
        "kind": kind, "source": "", "length_s": WHOLE, "speech": False, "service_s": seconds
    }  # fmt: skip


SECONDS = ("length_s", "audio_s", "vad_s", "service_s")  # written to 4 decimals


def save(table: pd.DataFrame, path: Path | str) -> Path:
    """Write the table as CSV (small, diffable, committed for the bundled one).

    The seconds are written as floats whatever their column's type: measured rows (None where a
    worker's restart has no audio) make object columns, which a table merged with them would
    write in full digits, rewriting every line of the bundled table.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    seconds = {c: float for c in SECONDS if c in table.columns}
    table.astype(seconds).to_csv(path, index=False, float_format="%.4f")
    return path


def load(path: Path | str | None = None) -> pd.DataFrame:
    """Read a table written by `save` (default: the bundled one)."""
    path = Path(path) if path is not None else BUNDLED
    if not path.is_file():
        raise ConfigError("service_times", str(path), "no such file; build one with calibrate()")
    table = pd.read_csv(path, dtype={"decode_hash": str, "stops_s": object, "audio": object})
    for column in ("audio", "sampled"):  # tables measured before these were recorded
        if column not in table.columns:
            table[column] = None
    missing = set(COLUMNS) - set(table.columns)
    if missing:
        raise ConfigError("service_times", str(path), f"not a service-time table: {missing}")
    return table


@dataclass(frozen=True)
class Draw:
    """What one simulated job costs: arrays over the jobs that drew from one group.

    The stop points stay in the sampler (``rows`` says whose, `Sampler.stops_s` gives them): a
    tuple per job would cost more memory than all the arrays at a day's 864,000 jobs.
    """

    vad_s: np.ndarray
    speech: np.ndarray
    service_s: np.ndarray
    sampled: np.ndarray  # the worker rebuilds its model after the job (False where unknown)
    rows: np.ndarray  # each job's measured row: its position in `Sampler.rows`
    scale: float  # the ratio of lengths the times were scaled by (1: a measured length)


class Sampler:
    """Draws jobs' costs from the table rows of one service (model, compute type, decode, gate).

    A mix item (source, length) draws from the rows measured for it. A length never measured
    for that source draws from the nearest measured length, its times scaled by the ratio of
    lengths (decode cost grows about linearly with audio length; asrlab's audio_length sweep).
    A source never measured is an error: a simulator must not guess a class of audio.
    """

    def __init__(
        self, table: pd.DataFrame, *, model: str, compute_type: str, decode_hash: str, gate: bool
    ) -> None:
        key = (
            (table["model"] == model)
            & (table["compute_type"] == compute_type)
            & (table["decode_hash"].astype(str) == decode_hash)
            & (table["vad_gate"].astype(bool) == gate)
        )
        self.what = f"model={model} compute_type={compute_type} decode={decode_hash} gate={gate}"
        self.rows = table[key & (table["kind"] == "job")].reset_index(drop=True)
        self._stops = [_stops(raw) for raw in self.rows["stops_s"]]  # parsed once
        self.respawn_s = table[key & (table["kind"] == "respawn")]["service_s"].to_numpy(float)
        self.rebuild_s = table[key & (table["kind"] == "rebuild")]["service_s"].to_numpy(float)
        if self.rows.empty:
            have = pd.DataFrame(groups(table), columns=["model", "compute", "decode", "gate"])
            raise ConfigError(
                "service_times",
                self.what,
                "no measured jobs for this service; the table has "
                f"{have.to_dict('records')} (rebuild it: asrlab calibrate)",
            )

    def draw(
        self,
        source: str,
        length_s: float | None,
        n: int,
        rng: np.random.Generator,
        audio: Sequence[tuple[str | None, float | None]] | None = None,
    ) -> Draw:
        """``n`` independent draws for jobs of one mix item.

        ``audio`` (label and seconds, one per job: `workload.sources.planned_audios`) narrows each
        draw to the measured rows of the same audio when the table has them (the same clip, the
        same composition, the same noise signal: a decode costs about the same each time, and a
        composition that sends the decoder into a loop does so every time), else to the rows
        nearest in length (a whole-clip item's clips run 3 to 12 s).
        """
        rows = self.rows[self.rows["source"] == source]
        if rows.empty:
            measured = sorted(set(self.rows["source"]))
            raise ConfigError("mix.source", source, f"no measured jobs ({self.what}): {measured}")
        want = WHOLE if length_s is None else float(length_s)
        lengths = np.array(sorted(set(rows["length_s"])))
        nearest = float(lengths[np.argmin(np.abs(lengths - want))])
        if (want == WHOLE) != (nearest == WHOLE):
            raise ConfigError("mix.length_s", length_s, f"{source}: measured only {lengths}")
        rows = rows[rows["length_s"] == nearest]
        scale = 1.0 if nearest == want else want / nearest
        picks = rng.integers(0, len(rows), size=n)
        if audio is not None:
            self._narrow(rows, audio, picks, rng)
        # Column by column: the picked rows as a frame, 16 columns a job, raised the peak of a
        # day's simulation (864,000 jobs) by 80 MB while its costs were drawn.
        return Draw(
            vad_s=rows["vad_s"].to_numpy(float)[picks] * scale,
            speech=rows["speech"].to_numpy(bool)[picks],
            service_s=rows["service_s"].to_numpy(float)[picks] * scale,
            sampled=rows["sampled"].isin([True, "True"]).to_numpy(bool)[picks],  # CSV: strings
            rows=rows.index.to_numpy()[picks],  # rows keep `self.rows`'s positions
            scale=scale,
        )

    def stops_s(self, row: int, scale: float = 1.0) -> tuple[float, ...]:
        """The deadline-check offsets of measured row ``row`` (`Draw.rows`), scaled as drawn."""
        stops = self._stops[row]
        return stops if scale == 1.0 else tuple(s * scale for s in stops)

    @staticmethod
    def _narrow(
        rows: pd.DataFrame,
        audio: Sequence[tuple[str | None, float | None]],
        picks: np.ndarray,
        rng: np.random.Generator,
    ) -> None:
        """Re-draw ``picks`` (positions in ``rows``) among the rows of each job's own audio."""
        rows_of: dict[str, list[int]] = {}
        for i, label in enumerate(rows["audio"]):
            rows_of.setdefault(label, []).append(i)
        measured = rows["audio_s"].to_numpy(float)
        # Jobs by audio, in order of first appearance: a set's order of strings changes from
        # one process to the next (hash randomization), and with it which draw each job got.
        jobs_of: dict[tuple[str | None, float | None], list[int]] = {}
        for k, key in enumerate(audio):
            jobs_of.setdefault(key, []).append(k)
        nearest: dict[float, np.ndarray] = {}  # by seconds: 100,000 noise seeds share a few
        for (label, seconds), at in jobs_of.items():
            alike = np.array(rows_of.get(label, []) if label is not None else [], dtype=int)
            if not len(alike) and seconds is not None:
                if seconds not in nearest:
                    gap = np.abs(measured - seconds)
                    nearest[seconds] = np.flatnonzero(gap == np.nanmin(gap))
                alike = nearest[seconds]
            if len(alike):
                picks[at] = alike[rng.integers(0, len(alike), size=len(at))]

    def respawn(self, rng: np.random.Generator) -> float:
        """One worker restart's seconds; 0 when none was measured (then a kill is free)."""
        return _one(self.respawn_s, rng)

    def rebuild(self, rng: np.random.Generator) -> float:
        """One model rebuild's seconds (after a sampled decode); 0 when none was measured."""
        return _one(self.rebuild_s, rng)


def _one(seconds: np.ndarray, rng: np.random.Generator) -> float:
    # No draw from rng when nothing was measured: a table without such rows simulates as before.
    if not len(seconds):
        return 0.0
    return float(seconds[rng.integers(0, len(seconds))])


def _stops(raw: Any) -> tuple[float, ...]:
    """A row's deadline-check offsets (JSON list in the CSV); none for a job that never decoded."""
    if not isinstance(raw, str) or not raw:
        return ()
    return tuple(float(x) for x in json.loads(raw))


def describe(table: pd.DataFrame) -> pd.DataFrame:
    """Per service and mix item: jobs measured, and median and p95 of the service seconds."""
    jobs = table[table["kind"] == "job"]
    keys = ["model", "compute_type", "decode_hash", "vad_gate", "source", "length_s"]
    grouped = jobs.groupby(keys, dropna=False)["service_s"]
    out = grouped.agg(n="size", median_s="median", p95_s=lambda s: s.quantile(0.95))
    return out.reset_index()


def groups(table: pd.DataFrame) -> Sequence[tuple[Any, ...]]:
    """The services the table holds: (model, compute_type, decode_hash, vad_gate) tuples."""
    keys = ["model", "compute_type", "decode_hash", "vad_gate"]
    return [tuple(r) for r in table[keys].drop_duplicates().itertuples(index=False)]
