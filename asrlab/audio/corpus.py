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
from typing import NamedTuple

import numpy as np

from asrlab.audio import signals
from asrlab.audio.samples import SAMPLE_RATE_HZ, decode
from asrlab.errors import ConfigError

DATA_DIR = Path(__file__).resolve().parents[1] / "data" / "audio"
MANIFEST_PATH = DATA_DIR / "MANIFEST.csv"

# A clip cut by the target length counts in the reference when more than this share of it is in.
_MIN_INCLUDED_FRACTION = 0.5

# Languages written without spaces between words: their references are joined with "".
UNSPACED_LANGUAGES = frozenset({"zh", "ja", "th"})


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
        unspaced = clip.language in UNSPACED_LANGUAGES
        if i and not (unspaced and clips[i - 1].language in UNSPACED_LANGUAGES):
            parts.append(" ")
        parts.append(clip.reference_text or "")
    return "".join(parts)


# Generated stress signals a source may name instead of a file or a clip (see `load_source`).
STRESS_SOURCES = ("white_noise", "pink_noise", "tone", "near_silence")
# The incident's job A: 11.2 s of audio (docs/incident.md). The one value the replay's job A, hard
# speech and whatever stands for "the incident's clip" take.
INCIDENT_CLIP_S = 11.2
# The lab's non-speech class and the CLI's stress signals: 11 s, the length the noise benchmarks,
# the workload's white-noise mix and the bundled service times were measured at. It is not the
# incident's clip (`INCIDENT_CLIP_S`); changing it would re-key asrlab/data/service_times.csv.
NON_SPEECH_LENGTH_S = 11.0


def stress_label(source: str, length_s: float, noise_seed: int) -> str:
    """The label `load_source` gives a generated stress signal (the seed names the signal)."""
    seeded = source != "tone"
    return f"{source} {length_s:g} s" + (f" (seed {noise_seed})" if seeded else "")


def load_source(
    source: str, *, length_s: float = NON_SPEECH_LENGTH_S, noise_seed: int = 0
) -> tuple[np.ndarray, str]:
    """Samples and a label for what a command line or a notebook parameter names.

    Args:
        source: an audio file path, a clip id of this corpus, one of `STRESS_SOURCES`, or a
            hard-speech candidate (``"hard_speech/zh_c0_pink-5dB"``: `hard_speech_candidates`).
        length_s: length of a generated stress signal, in seconds.
        noise_seed: seed of a generated random stress signal.

    Files are decoded in a child process (they may be anything); clips are trusted.
    """
    if source in STRESS_SOURCES:
        seeded = source != "tone"
        samples = getattr(signals, source)(length_s, **({"seed": noise_seed} if seeded else {}))
        return samples, stress_label(source, length_s, noise_seed)
    if source.startswith(f"{HARD_SPEECH_CLASS}/"):
        item = hard_speech_item(hard_speech(source), length_s=length_s, seed=noise_seed)
        return item.samples, f"{item.item_id} {length_s:g} s"
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


# --- audio classes: the sweeps' items ----------------------------------------------------------


class AudioItem(NamedTuple):
    """One thing to decode in a sweep; a plain 4-tuple to unpack, with names.

    Attributes:
        item_id: ``"<audio class>/<what it is>"``, e.g. ``"noisy_en_snr0/jfk+pink_noise_seed0"``;
            `asrlab.analysis.evaluate` reads the class from the part before the ``/``.
        samples: float32 mono 16 kHz, shape (n_samples,).
        reference: what was said; ``""`` for non-speech (its right transcript is nothing, so
            every word decoded is an insertion); None where it is not known.
        language: the speech's Whisper language code; ``""`` for non-speech, which has none.
    """

    item_id: str
    samples: np.ndarray
    reference: str | None
    language: str


# Speech classes: language and the clip-id prefixes they draw on. The 72 s LJ Speech clip and the
# unlabelled multilingual clip stay out: items must be short and have a reference.
_SPEECH_CLASSES: dict[str, tuple[str, tuple[str, ...]]] = {
    "clean_en": ("en", ("en_librispeech_", "jfk")),
    "clean_zh": ("zh", ("zh_aishell_", "zh_paddlespeech_")),
}
# Noisy classes: the clean class they mix noise into, and the SNR in dB.
_NOISY_CLASSES: dict[str, tuple[str, float]] = {
    f"noisy_{lang}_snr{snr}": (f"clean_{lang}", float(snr))
    for lang in ("en", "zh")
    for snr in (10, 0)
}
_NON_SPEECH_CLASSES = ("noise", "tone", "near_silence")
_TONE_FREQS_HZ = (440.0, 1000.0, 3000.0)
_NOISE_KINDS = ("pink_noise", "white_noise")  # alternated, item by item


def audio_classes() -> tuple[str, ...]:
    """The names `class_audio` accepts: clean speech, speech in noise, hard speech, non-speech."""
    return (*_SPEECH_CLASSES, *_NOISY_CLASSES, HARD_SPEECH_CLASS, *_NON_SPEECH_CLASSES)


def class_audio(
    name: str, *, length_s: float | None = None, seed: int = 0, max_items: int = 2
) -> list[AudioItem]:
    """Up to `max_items` items of audio class `name`, the same for the same arguments.

    - ``clean_en`` / ``clean_zh``: the LibriSpeech clips and jfk / the AISHELL clips and the
      PaddleSpeech demo, in manifest order. With `length_s`, item i is `concat_to_length` of the
      class's clips starting from the i-th (so its reference is what that length holds).
    - ``noisy_{en,zh}_snr{10,0}``: the clean items with seeded pink (even items) or white (odd
      items) noise mixed in at that SNR by `mix_at_snr`; the reference is unchanged.
    - ``noise``: white, then pink noise; ``tone``: sines of 440 Hz, 1 kHz, 3 kHz;
      ``near_silence``: -80 dBFS white noise. Seeded where random (item i: `seed` + i // 2 for
      noise, `seed` + i for near silence); `length_s` defaults to 11 s, as in the incident.

    Decoding is what costs (up to ~2x real time per item at beam 10 on noise on 2 cores), hence
    the small default `max_items`; speech classes hold 6 clips at most, tones 3.

    Raises:
        ConfigError: an unknown class (the message lists them), `max_items` < 1, or a bad length.
    """
    if max_items < 1:
        raise ConfigError("max_items", max_items, "must be >= 1")
    if name in _SPEECH_CLASSES:
        return _speech_items(name, length_s, max_items)
    if name in _NOISY_CLASSES:
        clean, snr_db = _NOISY_CLASSES[name]
        return [
            _with_noise(item, name, snr_db, i, seed)
            for i, item in enumerate(_speech_items(clean, length_s, max_items))
        ]
    if name == HARD_SPEECH_CLASS:
        length = HARD_SPEECH_LENGTH_S if length_s is None else length_s
        chosen = [c for c in hard_speech_candidates() if c.name in HARD_SPEECH][:max_items]
        return [hard_speech_item(c, length_s=length, seed=seed) for c in chosen]
    if name in _NON_SPEECH_CLASSES:
        length = NON_SPEECH_LENGTH_S if length_s is None else length_s
        return _non_speech_items(name, length, seed, max_items)
    raise ConfigError(
        "audio_class", name, f"no such class; available: {', '.join(audio_classes())}"
    )


def _speech_items(name: str, length_s: float | None, max_items: int) -> list[AudioItem]:
    language, _ = _SPEECH_CLASSES[name]
    pool = _pool(language)
    items: list[AudioItem] = []
    for i, clip in enumerate(pool[:max_items]):
        if length_s is None:
            samples, reference, what = clip.load(), clip.reference_text, clip.clip_id
        else:
            samples, reference = concat_to_length(pool[i:] + pool[:i], length_s)
            what = f"{clip.clip_id}+{length_s:g}s"
        items.append(AudioItem(f"{name}/{what}", samples, reference, language))
    return items


def _with_noise(item: AudioItem, name: str, snr_db: float, i: int, seed: int) -> AudioItem:
    kind = _NOISE_KINDS[i % 2]
    noise = getattr(signals, kind)(len(item.samples) / SAMPLE_RATE_HZ, seed=seed + i)
    what = item.item_id.partition("/")[2]
    return AudioItem(
        f"{name}/{what}+{kind}_seed{seed + i}",
        signals.mix_at_snr(item.samples, noise, snr_db),
        item.reference,
        item.language,
    )


def _non_speech_items(name: str, length_s: float, seed: int, max_items: int) -> list[AudioItem]:
    items: list[tuple[str, np.ndarray]] = []
    if name == "noise":
        for i in range(max_items):
            kind, s = ("white_noise", "pink_noise")[i % 2], seed + i // 2
            items.append((f"{kind}_seed{s}", getattr(signals, kind)(length_s, seed=s)))
    elif name == "tone":
        for freq_hz in _TONE_FREQS_HZ[:max_items]:
            items.append((f"{freq_hz:g}hz", signals.tone(length_s, freq_hz=freq_hz)))
    else:
        for i in range(max_items):
            items.append((f"seed{seed + i}", signals.near_silence(length_s, seed=seed + i)))
    return [AudioItem(f"{name}/{what}", x, "", "") for what, x in items]


# --- hard speech: speech that the VAD passes and the fallback ladder climbs --------------------

HARD_SPEECH_CLASS = "hard_speech"
HARD_SPEECH_LENGTH_S = INCIDENT_CLIP_S  # hard speech as long as the incident's job
_PINK_SNRS_DB = (-10.0, -7.0, -5.0, -3.0)
_BABBLE_SNRS_DB = (-5.0, -3.0)
_COMPOSITIONS = 2  # speech built from each language's clips from its first and its second clip
_BABBLE_TALKERS = 3
# The candidates benchmarks/ladder_census.py found the VAD passes (>= 50 % of the clip marked
# speech) and the incident preset climbs >= 3 rungs on, base int8 (docs/results/census.md).
HARD_SPEECH: tuple[str, ...] = (
    "zh_c0_pink-10dB", "zh_c0_pink-7dB", "zh_c0_reversed", "zh_c1_pink-10dB", "zh_c1_pink-5dB",
    "zh_c1_babble-5dB", "zh_c1_babble-3dB", "zh_c1_reversed", "en_c0_pink-10dB",
    "en_c0_babble-5dB", "en_c0_babble-3dB", "en_c0_reversed", "en_c1_pink-7dB",
    "en_c1_babble-3dB",
)  # fmt: skip


@dataclass(frozen=True)
class HardCandidate:
    """One recipe of speech made hard: whose speech, and what was done to it.

    Attributes:
        name: ``"<language>_c<composition>_<transform>"``, e.g. ``"zh_c0_pink-5dB"``.
        language: the speech's language (``zh`` or ``en``).
        composition: which clip the speech starts from (`concat_to_length` of the language's
            clips, from that one on).
        transform: ``pink`` (pink noise at ``snr_db``), ``babble`` (other talkers of the same
            language at ``snr_db``) or ``reversed`` (played backwards: speech-like, no words).
    """

    name: str
    language: str
    composition: int
    transform: str
    snr_db: float | None = None


def hard_speech_candidates() -> tuple[HardCandidate, ...]:
    """Every recipe the census decodes, in a fixed order (both languages)."""
    out: list[HardCandidate] = []
    for language in ("zh", "en"):
        for k in range(_COMPOSITIONS):
            stem = f"{language}_c{k}"
            out += [
                HardCandidate(f"{stem}_pink{snr:g}dB", language, k, "pink", snr)
                for snr in _PINK_SNRS_DB
            ]
            out += [
                HardCandidate(f"{stem}_babble{snr:g}dB", language, k, "babble", snr)
                for snr in _BABBLE_SNRS_DB
            ]
            out.append(HardCandidate(f"{stem}_reversed", language, k, "reversed"))
    return tuple(out)


def hard_speech(name: str) -> HardCandidate:
    """A candidate by name (``"zh_c0_pink-5dB"``, with or without ``"hard_speech/"``)."""
    short = name.removeprefix(f"{HARD_SPEECH_CLASS}/")
    for candidate in hard_speech_candidates():
        if candidate.name == short:
            return candidate
    known = ", ".join(c.name for c in hard_speech_candidates())
    raise ConfigError("source", name, f"no such hard-speech candidate; available: {known}")


def hard_speech_item(
    candidate: HardCandidate, *, length_s: float = HARD_SPEECH_LENGTH_S, seed: int = 0
) -> AudioItem:
    """The candidate's audio and what it holds: the reference of the speech under noise or
    babble; ``""`` for reversed speech, which holds no words (every unit decoded is output that
    nobody said), and then no language either."""
    pool = _pool(candidate.language)
    k = candidate.composition
    speech, reference = concat_to_length(pool[k:] + pool[:k], length_s)
    item_id = f"{HARD_SPEECH_CLASS}/{candidate.name}"
    if candidate.transform == "reversed":
        return AudioItem(item_id, signals.reversed_speech(speech), "", "")
    if candidate.transform == "pink":
        noise = signals.pink_noise(length_s, seed=seed + k)
    else:  # babble: the same language's clips from the next starts on, each its own talker
        talkers = [
            concat_to_length(pool[j:] + pool[:j], length_s)[0]
            for j in ((k + 1 + t) % len(pool) for t in range(_BABBLE_TALKERS))
        ]
        noise = signals.babble(talkers, length_s)
    assert candidate.snr_db is not None
    mixed = signals.mix_at_snr(speech, noise, candidate.snr_db)
    return AudioItem(item_id, mixed, reference, candidate.language)


def _pool(language: str) -> list[Clip]:
    """A language's clean-class clips, in manifest order (`_SPEECH_CLASSES`)."""
    _, prefixes = _SPEECH_CLASSES[f"clean_{language}"]
    return [c for c in clips(language, with_reference=True) if c.clip_id.startswith(prefixes)]
