"""`asrlab diagnose`: one clip, every distinct decode of it, and a verdict."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from asrlab.analysis.diagnose import diagnose, distinct
from asrlab.audio import corpus
from asrlab.cli.main import app
from asrlab.decoding.decoder import TracedModel
from asrlab.service.remedies import REMEDIES


def test_remedies_that_decode_alike_share_one_row() -> None:
    groups = distinct("incident")
    names = [n for _, group in groups for n in group]
    assert sorted(names) == sorted(REMEDIES)  # every remedy is somewhere, once
    first, together = groups[0]
    assert first.name == "incident" and {"hard_kill", "revoke_overdue"} <= set(together)
    keys = [r.decodes_as() for r, _ in groups]
    assert len(keys) == len(set(keys))
    assert any("recommended" in group and len(group) == 2 for _, group in groups)


@pytest.mark.model
def test_speech_keeps_its_words_and_the_verdict_names_the_cheapest(
    base_model: TracedModel,
) -> None:
    found = diagnose(
        base_model,
        corpus.get("jfk").load(),
        label="jfk",
        remedies=["vad_gate", "recommended", "batched"],
        progress=False,
    )
    rows = found.rows
    print(found.table(), found.verdict, sep="\n")
    assert list(rows["remedies"]) == ["incident", "vad_gate", "recommended", "batched"]
    assert rows["vs_base"].iloc[0] == 1.0 and (rows["units"] > 15).all()
    assert not rows["gated_out"].any() and found.speech_share > 0.9
    assert found.trace.text == rows["text"].iloc[0] and rows["known_phrases"].isna().all()
    cheapest = rows.iloc[1:].sort_values("job_s").iloc[0]["remedies"]
    assert f"keeps a transcript: {cheapest}," in found.verdict
    assert "the gate alone does not make it cheap" in found.verdict


@pytest.mark.model
def test_noise_emits_nothing_behind_the_gate(base_model: TracedModel, noise: np.ndarray) -> None:
    """The base here is no_fallback (one attempt), not the incident's ladder: the same rows and
    verdict for a sixth of the suite's time."""
    found = diagnose(
        base_model, noise, label="noise", base="no_fallback", remedies=["vad_gate"], progress=False
    )
    gated = found.rows.iloc[1]
    assert found.speech_share < 0.5 and gated["gated_out"] and gated["units"] == 0
    assert gated["vs_base"] < 0.2  # VAD alone, against a decode of 11.2 s
    assert "emits nothing, as audio without words should: vad_gate" in found.verdict


def test_a_bad_file_is_the_same_clear_error_as_transcribe(tmp_path: Path) -> None:
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF not really a wav file")
    results = [CliRunner().invoke(app, [cmd, str(bad)]) for cmd in ("diagnose", "transcribe")]
    assert [r.exit_code for r in results] == [2, 2]
    lines = [r.output.strip().splitlines()[-1] for r in results]
    assert lines[0] == lines[1] and lines[0].startswith("error: ")


@pytest.mark.timeout(300)
@pytest.mark.kernel
def test_diagnose_notebook(tmp_path: Path, kernels: None) -> None:
    from asrlab.lab import notebooks

    params = {"source": "jfk", "model": "tiny.en", "remedies": ["vad_gate"]}
    notebooks.execute("08_diagnose", tmp_path, params | {"output_dir": str(tmp_path)})
    rows = pd.read_parquet(tmp_path / "results.parquet")
    assert list(rows["remedies"].str.split(", ").str[0]) == ["incident", "vad_gate"]
    assert (tmp_path / "diagnose.png").stat().st_size > 10_000
    assert "IProgress not found" not in (tmp_path / "executed.ipynb").read_text()
