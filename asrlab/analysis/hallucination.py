"""What a decode emits where there are no words to find, and how much of it is a known phrase.

On non-speech (noise, a tone, near silence) and on unintelligible speech the right transcript is
nothing, so every unit decoded is output a user did not say. Two counts, kept apart:

- ``emitted``: the units of the transcript (words, or characters for Chinese and Japanese), and
  whether there is any output at all;
- ``known``: occurrences of the phrases Whisper is known to emit on such audio (subtitle credits,
  "Thanks for watching!"), from a bag kept as data with the report that names each one
  (`PHRASES`: asrlab/data/hallucinations.csv).

Matching is script-aware and language-free, because the language a decoder "detected" in noise is
itself a guess: the text is folded (NFKC, lower case, traditional Han made simplified, punctuation
and symbols dropped) into tokens, a word per run of letters or digits and a token per Han or kana
character, and a phrase counts where its tokens occur contiguously (``"you"`` is not found in
``"your"``).
"""

from __future__ import annotations

import csv
import functools
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

PHRASES = Path(__file__).resolve().parents[1] / "data" / "hallucinations.csv"
# Scripts written without spaces between words: one token per character.
_CHARACTER_SCRIPTS = ("CJK UNIFIED IDEOGRAPH", "HIRAGANA", "KATAKANA")


@dataclass(frozen=True)
class Phrase:
    """One phrase of the bag: its text, the language it is in, and where it was reported."""

    phrase: str
    language: str
    source: str


@dataclass(frozen=True)
class Emitted:
    """What one transcript of audio without words emitted.

    Attributes:
        units: tokens of the folded transcript (`tokens`); 0 for an empty transcript.
        known: occurrences of bag phrases (non-overlapping, longest first).
        phrases: which phrases they were, in the order found.
    """

    units: int
    known: int
    phrases: tuple[str, ...]

    @property
    def any_output(self) -> bool:
        return self.units > 0


@functools.cache
def phrases(path: Path | None = None) -> tuple[Phrase, ...]:
    """The bag (default: the bundled one), as written."""
    with open(path or PHRASES, encoding="utf-8", newline="") as f:
        return tuple(Phrase(r["phrase"], r["language"], r["source"]) for r in csv.DictReader(f))


def tokens(text: str) -> list[str]:
    """``text`` folded into comparable tokens (see the module docstring)."""
    import zhconv

    folded = zhconv.convert(unicodedata.normalize("NFKC", text), "zh-hans").lower()
    out: list[str] = []
    word: list[str] = []
    for ch in folded:
        kind = unicodedata.category(ch)
        if kind[0] in "LN" and not _by_character(ch):
            word.append(ch)
            continue
        if word:
            out.append("".join(word))
            word = []
        if kind[0] in "LN":  # a Han or kana character: a token of its own
            out.append(ch)
    if word:
        out.append("".join(word))
    return out


def _by_character(ch: str) -> bool:
    return unicodedata.name(ch, "").startswith(_CHARACTER_SCRIPTS)


def emitted(text: str, bag: Iterable[Phrase] | None = None) -> Emitted:
    """`Emitted` of one transcript against ``bag`` (default: the bundled phrases)."""
    found = tokens(text)
    patterns = sorted(
        ((tuple(tokens(p.phrase)), p.phrase) for p in (phrases() if bag is None else bag)),
        key=lambda pattern: -len(pattern[0]),
    )
    hits: list[str] = []
    taken = [False] * len(found)
    for pattern, phrase in patterns:
        n = len(pattern)
        i = 0
        while n and i + n <= len(found):
            if tuple(found[i : i + n]) == pattern and not any(taken[i : i + n]):
                taken[i : i + n] = [True] * n
                hits.append(phrase)
                i += n
            else:
                i += 1
    return Emitted(units=len(found), known=len(hits), phrases=tuple(hits))
