"""What each planned job sounds like: its audio, label and reference, from the corpus.

`load_item` makes a job's samples; `planned_audios` names them without making any (the simulator's
per-job audio, for 100,000 jobs).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from asrlab.audio import corpus
from asrlab.service.rows import JobRow
from asrlab.workload.traffic import (
    WINDOW_S,
    MixItem,
    PlannedJob,
    _is_generated_or_file,
    _language,
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
    `job_seed`, to exactly ``length_s`` (`asrlab.audio.corpus.concat_to_length`, which keeps the
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


def with_plan(row: JobRow, job: PlannedJob, audio: JobAudio) -> JobRow:
    """``row`` with what the workload planned for its job and the audio it sent: the fields every
    runner of a workload (in-process, `asrlab.workload.real`; over HTTP, `asrlab.endpoint`)
    writes alike, so their tables read the same."""
    return replace(
        row,
        job_index=job.index,
        arrival_s=job.arrival_s,
        job_seed=job.job_seed,
        source=audio.label,
        mix_source=job.item.source,
        mix_length_s=job.item.length_s,
        audio_class=audio.audio_class,
        language=audio.language,
        reference=audio.reference,
    )
