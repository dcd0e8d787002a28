"""The bundled speech clips with language and reference text, and audio of any length from them.

The clips and their manifest live in `DATA_DIR` (see PROVENANCE.md there for where each came from
and its licence). `concat_to_length` turns them into the length sets the sweeps need, e.g. 11.2 s
of Chinese speech, or 5 ... 120 s of English, each with the reference text it actually holds.
"""

from __future__ import annotations

import csv
import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from asrlab.audio import SAMPLE_RATE_HZ, decode
from asrlab.errors import ConfigError

DATA_DIR = Path(__file__).parent / "data" / "audio"
MANIFEST_PATH = DATA_DIR / "MANIFEST.csv"

# A clip cut by the target length counts in the reference when more than this share of it is in.
_MIN_INCLUDED_FRACTION = 0.5

# Languages written without spaces between words: their references are joined with "".
_UNSPACED_LANGUAGES = frozenset({"zh", "ja", "th"})


@dataclass(frozen=True)
class Clip:
    """One bundled recording and what is known about it.

    Attributes:
        clip_id: the file name without its extension, e.g. ``"jfk"``.
        path: the audio file.
        language: Whisper language code, or codes joined by "+" for a mixed clip (``"en+de"``).
        duration_s: duration in seconds as the manifest gives it (from the file's header).
        reference_text: the exact transcript, or None where none is known.
        license: the licence of the recording and of the repository it came from.
        source_repo: the GitHub repository the file was copied from.
        source_path: the file's path in that repository.
    """

    clip_id: str
    path: Path
    language: str
    duration_s: float
    reference_text: str | None
    license: str
    source_repo: str
    source_path: str

    def load(self) -> np.ndarray:
        """Float32 mono 16 kHz samples, shape (n_samples,).

        Decoded in-process: the bundled files are trusted, so no child process is started.
        """
        return decode(self.path, isolate=False)


@functools.cache
def manifest() -> tuple[Clip, ...]:
    """Every bundled clip, in manifest order (read once, then cached)."""
    with MANIFEST_PATH.open(encoding="utf-8", newline="") as f:
        return tuple(_clip_from_row(row) for row in csv.DictReader(f))


def _clip_from_row(row: dict[str, str]) -> Clip:
    path = DATA_DIR / row["file"]
    return Clip(
        clip_id=path.stem,
        path=path,
        language=row["language"],
        duration_s=float(row["duration_s"]),
        reference_text=row["reference_text"] or None,
        license=row["license"],
        source_repo=row["source_repo"],
        source_path=row["source_path"],
    )


def get(clip_id: str) -> Clip:
    """The clip named `clip_id` (a file stem, e.g. ``"jfk"``).

    Raises:
        ConfigError: no such clip; the message lists the ones there are.
    """
    for clip in manifest():
        if clip.clip_id == clip_id:
            return clip
    available = ", ".join(c.clip_id for c in manifest())
    raise ConfigError("clip_id", clip_id, f"no clip named {clip_id!r}; available: {available}")


def clips(language: str | None = None, with_reference: bool | None = None) -> tuple[Clip, ...]:
    """Clips in manifest order, filtered.

    Args:
        language: keep clips whose language is exactly this (``"en"`` does not match ``"en+de"``);
            None keeps all.
        with_reference: True keeps clips with a reference text, False those without, None all.
    """
    return tuple(
        c
        for c in manifest()
        if (language is None or c.language == language)
        and (with_reference is None or (c.reference_text is not None) == with_reference)
    )


def concat_to_length(
    clips: Sequence[Clip], duration_s: float, *, gap_s: float = 0.3
) -> tuple[np.ndarray, str]:
    """Whole clips in order, `gap_s` of silence between them, cycling, cut to exactly `duration_s`.

    Args:
        clips: the clips to use, each with a reference text.
        duration_s: length of the result in seconds; it has exactly round(duration_s * 16000)
            samples.
        gap_s: silence between two clips, in seconds.

    Returns:
        (samples, reference): float32 samples of shape (n_samples,), and the references of the
        clips of which more than half is in the result, joined in order: with no space between
        two Chinese (or other unspaced-language) clips, with one space otherwise. The reference
        is empty only when the result holds less than half of the first clip.

    Raises:
        ConfigError: no clips, a clip without a reference, a non-positive duration or a
            negative gap.
    """
    if not clips:
        raise ConfigError("clips", clips, "need at least one clip")
    missing = [c.clip_id for c in clips if c.reference_text is None]
    if missing:
        raise ConfigError(
            "clips", missing, "have no reference text; choose from clips(with_reference=True)"
        )
    if not (math.isfinite(duration_s) and duration_s > 0):
        raise ConfigError("duration_s", duration_s, "must be a finite number of seconds > 0")
    if not (math.isfinite(gap_s) and gap_s >= 0):
        raise ConfigError("gap_s", gap_s, "must be a finite number of seconds >= 0")
    n = round(duration_s * SAMPLE_RATE_HZ)
    gap = round(gap_s * SAMPLE_RATE_HZ)
    out = np.zeros(n, dtype=np.float32)  # the gaps and any tail are already silence
    loaded: dict[str, np.ndarray] = {}  # a clip is decoded once however often it cycles
    included: list[Clip] = []
    start = 0
    for i in range(n):  # at most n clips fit, each being at least one sample long
        clip = clips[i % len(clips)]
        if clip.clip_id not in loaded:
            loaded[clip.clip_id] = clip.load()
        samples = loaded[clip.clip_id]
        kept = max(0, min(len(samples), n - start))
        out[start : start + kept] = samples[:kept]
        if kept > _MIN_INCLUDED_FRACTION * len(samples):
            included.append(clip)
        start += len(samples) + gap
        if start >= n:
            break
    return out, _join_references(included)


def _join_references(clips: Sequence[Clip]) -> str:
    parts: list[str] = []
    for i, clip in enumerate(clips):
        unspaced = clip.language in _UNSPACED_LANGUAGES
        if i and not (unspaced and clips[i - 1].language in _UNSPACED_LANGUAGES):
            parts.append(" ")
        parts.append(clip.reference_text or "")
    return "".join(parts)


# Generated stress signals a source may name instead of a file or a clip (see `load_source`).
STRESS_SOURCES = ("white_noise", "pink_noise", "tone", "near_silence")


def load_source(
    source: str, *, length_s: float = 11.0, noise_seed: int = 0
) -> tuple[np.ndarray, str]:
    """Samples and a label for what a command line or a notebook parameter names.

    Args:
        source: an audio file path, a clip id of this corpus, or one of `STRESS_SOURCES`.
        length_s: length of a generated stress signal, in seconds.
        noise_seed: seed of a generated random stress signal.

    Files are decoded in a child process (they may be anything); clips are trusted.
    """
    from asrlab import audio

    if source in STRESS_SOURCES:
        seeded = source != "tone"
        samples = getattr(audio, source)(length_s, **({"seed": noise_seed} if seeded else {}))
        return samples, f"{source} {length_s:g} s" + (f" (seed {noise_seed})" if seeded else "")
    path = Path(source)
    if path.exists():
        return decode(path), path.name
    known = {c.clip_id for c in manifest()}
    if source not in known:
        raise ConfigError(
            "source",
            source,
            "not a file, a corpus clip or a stress source; clips: "
            + ", ".join(sorted(known))
            + "; stress: "
            + ", ".join(STRESS_SOURCES),
        )
    clip = get(source)
    return clip.load(), clip.clip_id
