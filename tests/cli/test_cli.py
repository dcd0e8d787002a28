"""The command line, run in-process with typer's runner on the real model."""

from __future__ import annotations

import json
import time

import pytest
from scenarios import ReproduceRun
from typer.testing import CliRunner

from asrlab.cli.main import app

runner = CliRunner()


@pytest.mark.model
def test_transcribe_jfk_prints_stage_and_attempt_tables(whisper_models: None) -> None:
    result = runner.invoke(app, ["transcribe", "jfk", "--trace", "--beam-size", "2"])
    assert result.exit_code == 0, result.output
    out = result.output
    for expected in (
        "where the time went",
        "language detection: encode window 0",
        "window 0: decode (1 attempts)",
        "accepted: all checks passed",
        "ask not what your country can do for you",
    ):
        assert expected in out


@pytest.mark.model
def test_transcribe_json_carries_trace_and_provenance(tmp_path, whisper_models: None) -> None:
    wav = tmp_path / "clip.flac"
    from asrlab.audio import corpus

    wav.write_bytes(corpus.get("en_librispeech_1089-134686-0001").path.read_bytes())
    result = runner.invoke(app, ["transcribe", str(wav), "--json", "--model", "tiny.en"])
    assert result.exit_code == 0, result.output
    blob = json.loads(result.output)
    assert blob["summary"]["language"] == "en" and blob["summary"]["attempts"] >= 1
    assert blob["provenance"]["version_faster-whisper"] == "1.2.1"
    assert len(blob["provenance"]["model_sha256"]) == 64
    assert "belly" in blob["summary"]["text"].lower()


@pytest.mark.model
def test_unknown_source_lists_what_exists(whisper_models: None) -> None:
    result = runner.invoke(app, ["transcribe", "no-such-clip"])
    assert result.exit_code == 2
    assert "jfk" in result.output and "white_noise" in result.output


@pytest.mark.model
def test_bad_audio_file_is_a_clear_error(tmp_path, whisper_models: None) -> None:
    bad = tmp_path / "notes.txt"
    bad.write_text("this is not audio\n" * 20)
    result = runner.invoke(app, ["transcribe", str(bad)])
    assert result.exit_code == 2 and "error:" in result.output


def test_models_lists_the_embedded_models() -> None:
    result = runner.invoke(app, ["models"])
    assert result.exit_code == 0
    assert result.output.startswith("base") and "tiny.en" in result.output


def test_help_lists_every_command_in_order() -> None:
    """The commands as they were before the command line became a package (issue 14), with
    `diagnose` beside the other decodes and `runs` beside the sweeps (issue 16)."""
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    rows = [line for line in result.output.splitlines() if line.startswith("│ ") and line[2] != " "]
    commands = [name for name in (row.split()[1] for row in rows) if not name.startswith("-")]
    assert commands == [
        "transcribe", "explain", "diagnose", "reproduce", "sweep", "compare", "runs", "models",
        "presets", "simulate", "calibrate", "serve", "drive",
    ]  # fmt: skip


@pytest.mark.model
def test_transcribe_under_a_remedy_applies_its_gate_and_its_options(whisper_models: None) -> None:
    """--remedy decodes as the service would under it, without the lease: the VAD gate answers
    noise with no decode; no_fallback's single attempt; the gate passes speech through."""
    gated = runner.invoke(
        app, ["transcribe", "white_noise", "--remedy", "vad_gate", "--json", "--model", "tiny.en"]
    )
    assert gated.exit_code == 0, gated.output
    blob = json.loads(gated.output)
    assert blob["decoded"] is False and blob["vad"]["spans"] == 0
    assert blob["preset"] == "remedy vad_gate" and "summary" not in blob
    one = runner.invoke(app, ["transcribe", "jfk", "--remedy", "no_fallback", "--json"])
    assert one.exit_code == 0, one.output
    blob = json.loads(one.output)
    assert blob["config"]["temperature"] == [0.0] and blob["config"]["beam_size"] == 10
    assert "vad" not in blob and "ask not what your country" in blob["summary"]["text"].lower()
    speech = runner.invoke(app, ["transcribe", "jfk", "--remedy", "vad_gate", "--model", "tiny.en"])
    assert speech.exit_code == 0 and "ask not what your country" in speech.output.lower()
    unknown = runner.invoke(app, ["transcribe", "jfk", "--remedy", "more_gpus"])
    assert unknown.exit_code == 2 and "available: incident" in unknown.output


def test_presets_lists_the_remedies_with_their_reasons() -> None:
    result = runner.invoke(app, ["presets"])
    assert result.exit_code == 0
    assert "reuse_encoding" in result.output and "window 0 encoded once" in result.output


@pytest.mark.timeout(600)
@pytest.mark.kernel
@pytest.mark.slow
def test_reproduce_runs_as_a_sweep_and_a_rerun_is_cached(reproduce_run: ReproduceRun) -> None:
    """The replays are a sweep: a run folder with sweep.json and report.html, the compact table
    per scenario, and the same command again (absolute thresholds: the same parameters) served
    from the cache. The first run is the session's (tests/conftest.py), whose replay notebook
    tests/lab/test_notebooks.py checks."""
    out, run = reproduce_run.output, reproduce_run.run_dir
    assert "1 replays in" in out and "(1 run, 0 cached)" in out
    assert "== scenario speech" in out and "hard_kill" in out
    answer = out[out.index("== scenario") : out.index("1 replays in")].splitlines()
    assert "the incident's thresholds, not scaled" in answer[1]  # --absolute
    assert answer[2].startswith("remedy ") and answer[2].endswith("B's text")  # the header
    assert max(map(len, answer)) <= 120  # English transcripts: one column per character
    manifest = json.loads((run / "sweep.json").read_text())
    assert manifest["state"] == "done" and manifest["n_failed"] == 0
    page = (run / "report.html").read_text()
    assert page.index("<h2>Answer</h2>") < page.index("<h2>The sweep</h2>")  # the answer first
    assert (run / "incident.png").exists() and (run / "summary.csv").exists()
    time.sleep(1.1)  # a new run folder's timestamp
    again = runner.invoke(app, reproduce_run.args)
    assert again.exit_code == 0 and "(0 run, 1 cached)" in again.output


def test_reproduce_http_replays_every_point_over_the_wire() -> None:
    """``--http``: every point of both scenarios gets notebook 01's ``transport`` "http"; the
    in-process points stay as they were (so their cache keys do), and the answers each client
    got are printed one line a replay."""
    from asrlab.cli.reproduce import replay_points, wire_answers

    _, inproc = replay_points("incident", "tiny.en", "incident,recommended")
    _, http = replay_points("incident", "tiny.en", "incident,recommended", "http")
    assert list(http) == list(inproc) == ["noise", "speech"]
    for name, points in http.items():
        assert [p.pop("transport") for p in points] == ["http", "http"]
        assert points == inproc[name] and all("transport" not in p for p in points)
    line = {"scenario": "noise", "remedy": "incident", "A HTTP": 504, "B HTTP": 503}
    line |= {"B Retry-After s": 3, "B": "failed: GPU lease timeout: GPU_USAGE_HIGH"}
    printed = wire_answers([line]).splitlines()[1]
    assert printed.endswith("A 504  B 503 Retry-After 3  B: GPU lease timeout: GPU_USAGE_HIGH")
    assert "--http" in runner.invoke(app, ["reproduce", "--help"]).output
