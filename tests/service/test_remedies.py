"""The presets as data: the lab's remedies, the peers, and the lab's pick."""

from __future__ import annotations

import pytest

from asrlab.decoding.options import batch_size_for, default_threads
from asrlab.service import remedies
from asrlab.service.remedies import REMEDIES, remedy

# What each preset added for issue 15 must set, field by field of its decode config.
DECODE = {
    "reject_loops": {"temperature": (0.0,), "reject_loops": True, "beam_size": 10},
    "fallback_budget": {"fallback_budget": 3.0, "beam_size": 10},
    "batched": {"temperature": (0.0,), "vad_filter": True, "without_timestamps": True},
    "hallucination_silence": {"word_timestamps": True, "hallucination_silence_threshold": 2.0},
    "reuse_encoding": {"reuse_language_encoding": True},
    "vad_gate+hard_kill+reject_loops+beam_5+reuse_encoding": {
        "temperature": (0.0,),
        "beam_size": 5,
        "reject_loops": True,
        "reuse_language_encoding": True,
    },
    "vad_gate+hard_kill+reject_loops+beam_1+reuse_encoding": {
        "temperature": (0.0,),
        "beam_size": 1,
        "reject_loops": True,
        "reuse_language_encoding": True,
    },
    # Issue 20: the beam kept, what a loop costs bounded.
    "no_repeat_5": {"no_repeat_ngram_size": 5, "beam_size": 10},
    "token_budget": {"token_budget_per_s": 6.0, "beam_size": 10},
    **{
        f"vad_gate+hard_kill+reject_loops+beam_5+{bound}+reuse_encoding": {
            "temperature": (0.0,),
            "beam_size": 5,
            "reject_loops": True,
            "reuse_language_encoding": True,
            "no_repeat_ngram_size": 5 if "no_repeat_5" in bound else 0,
            "token_budget_per_s": 6.0 if "token_budget" in bound else None,
        }
        for bound in ("no_repeat_5", "token_budget", "no_repeat_5+token_budget")
    },
    **{
        f"vad_skip+hard_kill+reject_loops+beam_{beam}+token_budget+reuse_encoding": {
            "temperature": (0.0,),
            "beam_size": beam,
            "reject_loops": True,
            "reuse_language_encoding": True,
            "token_budget_per_s": 6.0,
        }
        for beam in (5, 10)
    },
}


@pytest.mark.parametrize(
    ("name", "gate", "trim"),
    [
        ("incident", False, True),
        ("vad_gate", True, True),
        ("vad_skip", True, False),  # decides, does not cut
        ("vad_skip+hard_kill+reject_loops+beam_5+token_budget+reuse_encoding", True, False),
        ("vad_skip+hard_kill+reject_loops+beam_10+token_budget+reuse_encoding", True, False),
    ],
)
def test_the_gate_of_each_preset(name: str, gate: bool, trim: bool) -> None:
    assert (remedy(name).vad_gate, remedy(name).vad_trim) == (gate, trim)


@pytest.mark.parametrize(("name", "fields"), DECODE.items())
def test_each_new_preset_sets_what_it_says(name: str, fields: dict) -> None:
    chosen = remedy(name)
    for field, value in fields.items():
        assert getattr(chosen.decode, field) == value, (name, field)
    # Everything not named stays at the incident's, so the comparison is of one change.
    incident = remedy("incident")
    assert chosen.asr_timeout_s == incident.asr_timeout_s
    assert chosen.decode.compute_type == incident.decode.compute_type


def test_peers_are_marked_and_the_batched_one_sized_for_the_cores() -> None:
    peers = sorted(name for name, r in REMEDIES.items() if r.peer)
    assert peers == ["batched", "hallucination_silence"]
    assert remedy("batched").decode.batch_size == batch_size_for(default_threads())
    assert not remedy("batched").vad_gate  # its own VAD (vad_filter) cuts the audio


def test_recommended_is_the_named_remedy_under_another_name() -> None:
    picked, named = remedy("recommended"), remedy(remedies.RECOMMENDED_FROM)
    assert not named.peer and picked.name == "recommended"
    for part in ("decode", "policy", "vad_gate", "arbiter_policy", "asr_timeout_s", "result_mode"):
        assert getattr(picked, part) == getattr(named, part), part
    assert remedies.RECOMMENDED_FROM in picked.why and "docs/results/remedies.md" in picked.why


def test_the_pick_is_the_first_row_of_the_bundled_pick_table(tmp_path) -> None:
    """`recommended` is data the scoreboard wrote (asrlab/data/pick.csv), not a typed name: its
    first row, a remedy that exists and is no peer; the header says which run chose it."""
    from asrlab.analysis import scoreboard

    run, table = scoreboard.bundled_pick()
    assert run.startswith("asrlab sweep experiments/") and "code " in run
    assert tuple(table.columns) == scoreboard.PICK_COLUMNS
    assert table["remedy"].iloc[0] == remedies.RECOMMENDED_FROM != "incident"
    assert not remedy(remedies.RECOMMENDED_FROM).peer
    other = tmp_path / "pick.csv"
    other.write_text("# a run\nremedy,passes\nvad_gate,True\nincident,False\n", encoding="utf-8")
    assert remedies._picked(other) == "vad_gate"
