"""What a decode emits on audio without words: counted by hand, case by case."""

from __future__ import annotations

import pytest

from asrlab.analysis.hallucination import Phrase, emitted, phrases, tokens

# (transcript, units, known phrases found), each counted by hand from the module's folding rule:
# a word per run of letters or digits, a token per Han or kana character, punctuation dropped.
CASES = [
    ("", 0, ()),
    ("   ", 0, ()),
    ("Thanks for watching!", 3, ("Thanks for watching!",)),
    (
        "Thank you for watching. Thank you for watching.",
        8,
        ("Thank you for watching", "Thank you for watching"),
    ),
    ("Thank you. Thank you.", 4, ("Thank you.", "Thank you.")),
    ("You", 1, ("you",)),
    ("your young friend", 3, ()),  # "you" is a word, never a part of one
    ("1-2-3-4-4-4", 6, ()),  # the incident preset's junk on noise: output, no known phrase
    ("字幕由Amara.org社群提供", 9, ("字幕由Amara.org社群提供",)),  # 7 characters + 2 words
    ("字幕由 Amara.org 社群提供", 9, ("字幕由Amara.org社群提供",)),  # spaces do not matter
    ("(音樂播放中)", 5, ("(音樂播放中)",)),  # traditional matches as simplified
    ("就很像你做出的法律就很像你做出的法律", 18, ()),  # a loop: output, no known phrase
    ("ご視聴ありがとうございました", 14, ("ご視聴ありがとうございました",)),
    (
        "Sottotitoli creati dalla comunità Amara.org.",
        6,
        ("Sottotitoli creati dalla comunità Amara.org",),
    ),
]


@pytest.mark.parametrize(("text", "units", "found"), CASES)
def test_emitted_counts_units_and_known_phrases(text: str, units: int, found: tuple) -> None:
    result = emitted(text)
    assert (result.units, result.phrases) == (units, found)
    assert result.known == len(found) and result.any_output == (units > 0)


def test_a_longer_phrase_is_taken_before_a_shorter_one_inside_it() -> None:
    """"Thank you for watching" holds "you": it counts once, as the longer phrase."""
    assert emitted("Thank you for watching").phrases == ("Thank you for watching",)


def test_a_bag_of_ones_own() -> None:
    bag = [Phrase("hello world", "en", "a test")]
    assert emitted("Hello, world! hello world", bag).known == 2
    assert emitted("Thanks for watching!", bag).known == 0


def test_every_phrase_of_the_bag_cites_its_source_and_finds_itself() -> None:
    bag = phrases()
    assert len(bag) >= 10 and {p.language for p in bag} >= {"en", "zh"}
    for phrase in bag:
        assert "https://" in phrase.source, phrase
        assert tokens(phrase.phrase), phrase
        assert emitted(phrase.phrase).phrases == (phrase.phrase,), phrase
