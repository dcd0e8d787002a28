"""Labelled evaluation sets: a folder of clips with a ``references.tsv``, bundled or your own.

A set is what ranks two presets on accuracy: enough utterances of one language, each with what
was said. The folder holds the audio files (any format FFmpeg reads) and ``references.tsv``: one
line per clip, ``<clip id> TAB <reference>``, the id being the file name without its extension.
Its language is given with it (``"zh:/data/my_set"``), since nothing in a folder of audio says it.

Two sets are bundled (``asrlab/data/sets``, README and licence in each folder):
``librispeech_test_other_100`` (English, CC BY 4.0) and ``zh_clean_20`` (the 15 clips of
``zh_more_15``, CC0 and Apache-2.0, joined by the corpus's five AISHELL-1 clips).

`set_items` is where a sweep parameter, the scoreboard or ``asrlab diagnose --references`` turns a
name into items: a corpus audio class (`corpus.audio_classes`), a bundled set, or ``LANG:PATH``.
Every check runs when the set is loaded, before anything is decoded, and names what to fix.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from asrlab.audio import corpus
from asrlab.audio.corpus import AudioItem
from asrlab.audio.samples import SAMPLE_RATE_HZ, decode
from asrlab.errors import ConfigError

SETS_DIR = corpus.DATA_DIR.parent / "sets"
REFERENCES_FILE = "references.tsv"
AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".ogg", ".opus", ".m4a", ".webm")
# Whisper's language codes (restated in `asrlab.decoding.options`; the audio layer sits below it).
_LANGUAGES = frozenset(
    "af am ar as az ba be bg bn bo br bs ca cs cy da de el en es et eu fa fi fo fr gl gu ha haw he "
    "hi hr ht hu hy id is it ja jw ka kk km kn ko la lb ln lo lt lv mg mi mk ml mn mr ms mt my ne "
    "nl nn no oc pa pl ps pt ro ru sa sd si sk sl sn so sq sr su sv sw ta te tg th tk tl tr tt uk "
    "ur uz vi yi yo zh yue".split()
)


@dataclass(frozen=True)
class EvalSet:
    """A labelled folder of one language.

    Attributes:
        name: the audio class its items carry (``"<name>/<clip id>"``): the folder's name.
        language: the Whisper language code of every clip.
        folder: where the clips and ``references.tsv`` are.
        corpus_clips: bundled corpus clip ids that join the folder's clips (after them).
        trusted: decode in-process (bundled files); a user's files are decoded in a child process,
            as any untrusted audio is (`asrlab.audio.samples.decode`).
    """

    name: str
    language: str
    folder: Path
    corpus_clips: tuple[str, ...] = ()
    trusted: bool = False

    def items(self, max_items: int | None = None) -> list[AudioItem]:
        """The set's clips with their references, in ``references.tsv`` order, then the corpus's.

        Raises:
            ConfigError: the set is malformed (see `check`).
            AudioError: a clip cannot be decoded; the message names the file.
        """
        listed = self.check()
        out: list[AudioItem] = []
        for clip_id, (path, reference) in listed.items():
            if max_items is not None and len(out) >= max_items:
                return out
            samples = decode(path, isolate=not self.trusted)
            out.append(AudioItem(f"{self.name}/{clip_id}", samples, reference, self.language))
        for clip_id in self.corpus_clips:
            if max_items is not None and len(out) >= max_items:
                break
            clip = corpus.get(clip_id)
            item = AudioItem(f"{self.name}/{clip_id}", clip.load(), clip.reference_text, "")
            out.append(item._replace(language=self.language))
        return out

    def check(self) -> dict[str, tuple[Path, str]]:
        """Clip id -> (audio file, reference), every problem of the folder found at once.

        Raises:
            ConfigError: no such folder; no ``references.tsv``; an unknown language; a line
                without a TAB; an id listed twice; an empty reference; a listed clip with no
                audio file; an audio file with no reference (it would be silently left out).
        """
        if self.language not in _LANGUAGES:
            raise ConfigError("language", self.language, "not a Whisper language code")
        if not self.folder.is_dir():
            raise ConfigError("references", str(self.folder), "no such folder")
        tsv = self.folder / REFERENCES_FILE
        if not tsv.is_file():
            raise ConfigError(
                "references", str(self.folder), f"needs {REFERENCES_FILE}: <clip id> TAB <text>"
            )
        audio = {p.stem: p for p in sorted(self.folder.iterdir()) if p.suffix in AUDIO_SUFFIXES}
        problems: list[str] = []
        listed: dict[str, tuple[Path, str]] = {}
        named: set[str] = set()
        with tsv.open(encoding="utf-8", newline="") as f:
            for n, row in enumerate(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE), 1):
                if not row or not "".join(row).strip():
                    continue
                if len(row) != 2:
                    problems.append(f"line {n}: expected <clip id> TAB <reference>")
                    continue
                clip_id, reference = row[0].strip(), row[1].strip()
                if clip_id in named:
                    problems.append(f"line {n}: {clip_id} listed twice")
                elif not reference:
                    problems.append(f"line {n}: {clip_id} has an empty reference")
                elif clip_id not in audio:
                    problems.append(f"line {n}: no audio file for {clip_id}")
                else:
                    listed[clip_id] = (audio[clip_id], reference)
                named.add(clip_id)
        unlabelled = sorted(set(audio) - named)
        if unlabelled:
            problems.append(f"no reference for {', '.join(unlabelled[:5])}" + _more(unlabelled))
        if not listed and not problems:
            problems.append("no clips listed")
        if problems:
            shown = "; ".join(problems[:5]) + _more(problems)
            raise ConfigError("references", str(tsv), shown)
        return listed


def _more(things: list[str]) -> str:
    return f" (and {len(things) - 5} more)" if len(things) > 5 else ""


BUNDLED: dict[str, EvalSet] = {
    "librispeech_test_other_100": EvalSet(
        "librispeech_test_other_100", "en", SETS_DIR / "librispeech_test_other_100", trusted=True
    ),
    "zh_clean_20": EvalSet(
        "zh_clean_20",
        "zh",
        SETS_DIR / "zh_more_15",
        corpus_clips=tuple(c.clip_id for c in corpus.clips("zh") if "aishell" in c.clip_id),
        trusted=True,
    ),
}


def parse(spec: str) -> EvalSet:
    """A bundled set's name, or ``LANG:PATH`` for a folder of your own (``zh:/data/aishell``).

    Raises:
        ConfigError: neither a bundled name nor ``LANG:PATH``; the message lists the bundled sets.
    """
    if spec in BUNDLED:
        return BUNDLED[spec]
    language, sep, path = spec.partition(":")
    if not sep or not path:
        raise ConfigError(
            "eval_set",
            spec,
            f"not a bundled set ({', '.join(BUNDLED)}) nor LANG:PATH (e.g. zh:/data/my_set)",
        )
    folder = Path(path).expanduser()
    return EvalSet(folder.resolve().name, language.strip(), folder)


def resolved(spec: str, base_dir: Path) -> str:
    """`spec` with a relative folder made absolute against `base_dir` (an experiment file's
    folder: a sweep's points run in their own folders); bundled names and classes unchanged."""
    if spec in BUNDLED or spec in corpus.audio_classes():
        return spec
    language, sep, path = spec.partition(":")
    if not sep or not path or Path(path).expanduser().is_absolute():
        return spec
    return f"{language}:{(base_dir / path).resolve()}"


def set_items(name: str, *, max_items: int | None = None, seed: int = 0) -> list[AudioItem]:
    """Items of a corpus audio class, a bundled set or ``LANG:PATH``: one name space for all.

    `max_items` None takes a whole set, or a corpus class's default; `seed` applies to the
    corpus's generated classes.
    """
    if name in corpus.audio_classes():
        kwargs = {} if max_items is None else {"max_items": max_items}
        return corpus.class_audio(name, seed=seed, **kwargs)
    return parse(name).items(max_items)


# Long-form speech: several 30 s windows, where condition_on_previous_text carries what one window
# decoded (a loop too) into the next window's prompt.
LONG_FORM_CLASS = "long_form"
LONG_FORM_CLIP = "en_ljspeech_LJ028-0030_to_0039_long"  # 71.7 s, one reader, 3 windows
LONG_FORM_S = 60.0  # the Mandarin item: utterances joined until at least this long (2+ windows)
_GAP_S = 0.3  # silence between two joined utterances, as `corpus.concat_to_length` leaves


def joined(items: Sequence[AudioItem], item_id: str, min_s: float) -> AudioItem:
    """Utterances of one language back to back, `_GAP_S` apart, until at least `min_s` long.

    Raises:
        ConfigError: no items, or they differ in language.
    """
    if not items or len({it.language for it in items}) != 1:
        raise ConfigError("items", len(items), "need utterances of one language")
    language = items[0].language
    gap = np.zeros(round(_GAP_S * SAMPLE_RATE_HZ), dtype=np.float32)
    parts: list[np.ndarray] = []
    texts: list[str] = []
    total = 0
    for it in items:
        parts += [it.samples, gap]
        texts.append(it.reference or "")
        total += len(it.samples) + len(gap)
        if total >= min_s * SAMPLE_RATE_HZ:
            break
    sep = "" if language in corpus.UNSPACED_LANGUAGES else " "
    return AudioItem(item_id, np.concatenate(parts[:-1]), sep.join(texts), language)


def long_form_items() -> list[AudioItem]:
    """The LJ Speech reading (English, 72 s) and the bundled Mandarin set's utterances joined to
    at least a minute, as class `LONG_FORM_CLASS`."""
    clip = corpus.get(LONG_FORM_CLIP)
    zh = BUNDLED["zh_clean_20"].items()
    return [
        AudioItem(f"{LONG_FORM_CLASS}/{clip.clip_id}", clip.load(), clip.reference_text, "en"),
        joined(zh, f"{LONG_FORM_CLASS}/zh_clean_20_joined", LONG_FORM_S),
    ]


def is_labelled_set(name: str) -> bool:
    """Whether `name` names a labelled set rather than a corpus class."""
    return name not in corpus.audio_classes()
