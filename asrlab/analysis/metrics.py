"""Accuracy and speed numbers: WER and CER after normalisation, and RTF (percentiles with
intervals: `asrlab.stats`).

Error rates are only comparable when both texts are normalised the same way, so one function,
`normalize`, decides what counts as the same text:

- English (``"en"``): Whisper's own English normaliser (``whisper_normalizer``, a copy of
  openai/whisper's): lower case, no punctuation, contractions expanded (``"I'm"`` -> ``"i am"``),
  British spellings made American (``"colour"`` -> ``"color"``), titles spelled out
  (``"Mr."`` -> ``"mister"``), number words made digits (``"twenty five"`` -> ``"25"``), fillers
  (``"uh"``, ``"hmm"``) and bracketed annotations (``"[Music]"``) dropped. Scored as WER.
- Chinese (``"zh"``): NFKC (full-width digits and letters become ASCII), traditional characters
  made simplified (zhconv, ``zh-hans``: characters only, no regional vocabulary swaps, which
  would hide real errors), Chinese numerals made Arabic digits (cn2an: ``"二零一二年"`` ->
  ``"2012年"``, ``"三个"`` -> ``"3个"``), then Whisper's basic normaliser (bracketed annotations,
  punctuation and symbols, Chinese or ASCII, removed) and all whitespace removed. Scored as CER.
  Digits are the common form because Whisper writes numbers either way; a numeral's length in
  characters changes with it (``"十"`` -> ``"10"``), on both sides alike.
- Any other language: Whisper's basic normaliser (lower case, bracketed annotations, punctuation
  and symbols removed; diacritics kept), scored as WER. For languages written without spaces
  (``ja``, ``th``, ``yue``) WER then counts whole runs of text as one word: treat those numbers
  with care.
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
import warnings
from collections.abc import Callable
from dataclasses import dataclass

from asrlab.errors import ConfigError

WORD = "word"
CHAR = "char"
_CER_LANGUAGES = frozenset({"zh"})
_WHITESPACE = re.compile(r"\s+")


# --- normalisation --------------------------------------------------------------------------


@functools.cache
def _english() -> Callable[[str], str]:
    from whisper_normalizer.english import EnglishTextNormalizer

    return EnglishTextNormalizer()  # reads its spelling table once


@functools.cache
def _basic() -> Callable[[str], str]:
    from whisper_normalizer.basic import BasicTextNormalizer

    return BasicTextNormalizer()


def _check_language(language: str) -> str:
    if not isinstance(language, str) or not language.strip():
        raise ConfigError("language", language, "must be a Whisper language code such as 'en'")
    return language.strip().lower()


def unit_of(language: str) -> str:
    """``"char"`` for languages scored by CER (``zh``), ``"word"`` for all others."""
    return CHAR if _check_language(language) in _CER_LANGUAGES else WORD


def normalize(text: str, language: str) -> str:
    """`text` in the form error rates compare (see the module docstring for each language).

    Words are separated by single spaces; Chinese comes back with no whitespace at all.
    """
    lang = _check_language(language)
    if lang == "en":
        return " ".join(_english()(text).split())
    if lang in _CER_LANGUAGES:
        return _normalize_chinese(text)
    return " ".join(_basic()(text).split())


def _normalize_chinese(text: str) -> str:
    import cn2an
    import zhconv

    simplified = zhconv.convert(unicodedata.normalize("NFKC", text), "zh-hans")
    with warnings.catch_warnings():
        # cn2an warns about numeral-like words it leaves alone ("万一", "千万"); that is right.
        warnings.simplefilter("ignore", UserWarning)
        digits = cn2an.transform(simplified, "cn2an")
    return _WHITESPACE.sub("", _basic()(digits))


def units(normalized: str, language: str) -> list[str]:
    """The units an error rate counts in already-normalised text: words, or characters (zh)."""
    if unit_of(language) == CHAR:
        return list(_WHITESPACE.sub("", normalized))
    return normalized.split()


# --- error rates ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ErrorCounts:
    """Edit-distance errors (substitutions + deletions + insertions) against a reference.

    Counts, not rates, are what add up: a corpus's rate is ``sum(errors) / sum(ref_len)``, which
    ``sum(counts).rate`` gives (an average of per-clip rates would weigh a 3-word clip like a
    300-word one).

    Attributes:
        errors: substitutions + deletions + insertions.
        ref_len: units in the normalised reference.
        unit: ``"word"`` (WER) or ``"char"`` (CER).
    """

    errors: int
    ref_len: int
    unit: str

    def __post_init__(self) -> None:
        if self.unit not in (WORD, CHAR):
            raise ConfigError("unit", self.unit, f"must be {WORD!r} or {CHAR!r}")
        for name in ("errors", "ref_len"):
            if getattr(self, name) < 0:
                raise ConfigError(name, getattr(self, name), "must be >= 0")

    @property
    def rate(self) -> float:
        """errors / ref_len. With an empty reference (non-speech audio, whose right transcript
        is nothing): 0.0 when nothing was transcribed, else ``inf``; every word is an
        insertion and there is nothing to divide by, so report ``errors`` (inserted units) then.
        """
        if self.ref_len == 0:
            return 0.0 if self.errors == 0 else math.inf
        return self.errors / self.ref_len

    def __add__(self, other: object) -> ErrorCounts:
        if not isinstance(other, ErrorCounts):
            return NotImplemented
        if other.unit != self.unit:
            raise ConfigError(
                "unit", other.unit, f"cannot add {other.unit} counts to {self.unit} counts"
            )
        return ErrorCounts(self.errors + other.errors, self.ref_len + other.ref_len, self.unit)

    def __radd__(self, other: object) -> ErrorCounts:
        # `sum(counts)` starts from 0.
        if other == 0:
            return self
        return NotImplemented


def error_counts(reference: str, hypothesis: str, language: str) -> ErrorCounts:
    """Errors of `hypothesis` against `reference` after `normalize`: CER for zh, WER otherwise.

    Uses jiwer's Levenshtein alignment (``process_characters`` or ``process_words``).
    """
    import jiwer

    unit = unit_of(language)
    ref, hyp = normalize(reference, language), normalize(hypothesis, language)
    process = jiwer.process_characters if unit == CHAR else jiwer.process_words
    out = process(ref, hyp)
    errors = out.substitutions + out.deletions + out.insertions
    ref_len = out.hits + out.substitutions + out.deletions
    return ErrorCounts(errors=errors, ref_len=ref_len, unit=unit)


def error_rate(reference: str, hypothesis: str, language: str) -> float:
    """`error_counts(...).rate`: WER, or CER for zh (see `ErrorCounts.rate` for empty refs)."""
    return error_counts(reference, hypothesis, language).rate


# --- speed ----------------------------------------------------------------------------------


def rtf(processing_s: float, audio_s: float) -> float:
    """Real-time factor: processing seconds per second of audio (below 1: faster than real time).

    Raises:
        ConfigError: `audio_s` is not a positive finite number, or `processing_s` is negative.
    """
    if not (math.isfinite(audio_s) and audio_s > 0):
        raise ConfigError("audio_s", audio_s, "must be a finite number of seconds > 0")
    if not processing_s >= 0:  # also refuses NaN
        raise ConfigError("processing_s", processing_s, "must be a number of seconds >= 0")
    return processing_s / audio_s


def rtfx(processing_s: float, audio_s: float) -> float:
    """Inverse real-time factor: seconds of audio per second of processing (``inf`` for 0 s)."""
    factor = rtf(processing_s, audio_s)
    return math.inf if factor == 0 else 1.0 / factor
