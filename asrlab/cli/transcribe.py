"""``asrlab transcribe`` and ``asrlab explain``: one decode, with the trace of where its time went.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from typing import Annotated, Any

import typer

from asrlab.audio.corpus import NON_SPEECH_LENGTH_S
from asrlab.cli.app import fail
from asrlab.errors import AsrlabError

# `asrlab transcribe`'s generated stress signals: the lab's 11 s noise class, not the incident's
# 11.2 s clip (`corpus.INCIDENT_CLIP_S`, which `asrlab explain` decodes as the replay's job A).
# How far 11 s of white noise climbs the fallback ladder depends on the noise (seeds 0-6 cost 7 to
# 25 s: benchmarks/noise_ladders.py) and, through the sampled rungs, on the CPU
# (docs/results/decoding.md).
STRESS_LENGTH_S = NON_SPEECH_LENGTH_S
STRESS_NOISE_SEED = 6
# The options of a generated stress source, shared by the commands that decode one.
NoiseSeed = Annotated[int, typer.Option(help="Seed of a generated stress source.")]
StressLength = Annotated[float, typer.Option(help="Length of a generated stress source.")]


def _load(model_name: str, config: Any) -> tuple[Any, float]:
    from asrlab.decoding.decoder import load_model

    t0 = time.perf_counter()
    model = load_model(model_name, compute_type=config.compute_type, cpu_threads=config.cpu_threads)
    return model, time.perf_counter() - t0


def trace_one(
    source: str,
    model: Any,
    config: Any,
    *,
    preset_name: str,
    length_s: float,
    noise_seed: int,
    load_s: float,
    show_trace: bool,
    as_json: bool,
    vad_gate: bool = False,
    vad_trim: bool = True,
    echo: bool = True,
) -> dict[str, Any]:
    """Decode one source with a trace; print the report (or JSON); return the JSON form.

    ``vad_gate``: as the node under a remedy with the gate, Silero VAD first; no speech, no
    decode (the result says so), else only the speech spans are decoded (the whole clip with
    ``vad_trim=False``). ``echo=False``
    prints nothing (a measurement).
    """
    from asrlab import provenance
    from asrlab.audio import corpus, vad
    from asrlab.decoding import models
    from asrlab.decoding.trace import render_text

    samples, label = corpus.load_source(source, length_s=length_s, noise_seed=noise_seed)
    gate: dict[str, Any] = {}
    if vad_gate:
        gated = vad.gate(samples, trim=vad_trim)
        found = gated.found
        gate = {"vad": {"spans": len(found.spans), "speech_s": found.speech_s}}
        gate["vad"]["seconds"] = found.seconds
        if not found.has_speech:
            result = {"source": label, "preset": preset_name, **gate, "decoded": False}
            if as_json:
                typer.echo(json.dumps(result, indent=2, ensure_ascii=False, default=str))
            else:
                typer.echo(f"{label}: no speech found by the VAD gate ({preset_name}): not decoded")
            return result
        samples = samples if gated.samples is None else gated.samples
    trace = model.run(samples, config)
    result = {
        "source": label,
        "preset": preset_name,
        **gate,
        **trace.to_dict(),
        "provenance": provenance.record(
            model=model.name,
            model_sha256=models.sha256_of(model.model_path),
            model_load_s=load_s,
        ),
    }
    if not echo:
        pass
    elif as_json:
        typer.echo(json.dumps(result, indent=2, ensure_ascii=False, default=str))
    elif show_trace:
        title = (
            f"== {label} | preset {preset_name} (beam {config.beam_size}, sampler seed "
            f"{config.seed}) | model load {load_s:.1f} s (not counted below)"
        )
        typer.echo(render_text(trace, title=title))
    else:
        typer.echo(trace.text)
    return result


def transcribe(
    source: Annotated[
        str,
        typer.Argument(
            help="Audio file, corpus clip id, or stress source "
            "(white_noise, pink_noise, tone, near_silence)."
        ),
    ],
    model: Annotated[
        str, typer.Option(help="base, tiny.en, a model folder or a hub name.")
    ] = "base",
    preset: Annotated[str, typer.Option(help="Named decode preset.")] = "incident",
    remedy: Annotated[
        str | None,
        typer.Option(
            help="Decode as the service would under this remedy (`asrlab presets`): its decode "
            "options and its VAD gate, without the lease. Replaces --preset."
        ),
    ] = None,
    beam_size: Annotated[int | None, typer.Option(help="Override the preset's beam_size.")] = None,
    language: Annotated[
        str | None, typer.Option(help="Force a language (skips detection).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of CTranslate2's sampler.")] = 0,
    noise_seed: NoiseSeed = STRESS_NOISE_SEED,
    length_s: StressLength = STRESS_LENGTH_S,
    trace: Annotated[
        bool, typer.Option("--trace/--no-trace", help="Print the stage and attempt tables.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole trace as JSON.")] = False,
) -> None:
    """Transcribe SOURCE; with --trace, show where every second went."""
    overrides: dict[str, Any] = {}
    if beam_size is not None:
        overrides["beam_size"] = beam_size
    if language is not None:
        overrides["language"] = language
    from asrlab.decoding import options
    from asrlab.service.remedies import remedy as named

    try:
        chosen = None if remedy is None else named(remedy)
        if chosen is None:
            config = options.preset(preset, seed=seed, **overrides)
        else:
            config = replace(chosen.decode, seed=seed, **overrides)
        loaded, load_s = _load(model, config)
        trace_one(
            source,
            loaded,
            config,
            preset_name=preset if chosen is None else f"remedy {chosen.name}",
            length_s=length_s,
            noise_seed=noise_seed,
            load_s=load_s,
            show_trace=trace,
            as_json=as_json,
            vad_gate=chosen is not None and chosen.vad_gate,
            vad_trim=chosen is None or chosen.vad_trim,
        )
    except AsrlabError as e:
        fail(e)


def explain(
    model: Annotated[str, typer.Option(help="Model to decode with.")] = "base",
    seed: Annotated[int, typer.Option(help="Seed of CTranslate2's sampler.")] = 0,
    noise_seed: Annotated[
        int | None, typer.Option(help="Seed of the noise (default: the replay's job A).")
    ] = None,
) -> None:
    """Why is list(segments) slow? Traces of the replay's job A (noise) and of jfk.flac.

    Job A as `make reproduce` replays it (`service.replay.ReplayConfig`: 11.2 s of pink noise,
    float32), so that the first table and the replay tell of the same decode.
    """

    from asrlab.decoding.options import preset
    from asrlab.service.replay import ReplayConfig

    a = ReplayConfig()
    try:
        config = preset("incident", seed=seed, compute_type=a.compute_type)
        loaded, load_s = _load(model, config)
        for source in (a.a_source, "jfk"):
            trace_one(
                source,
                loaded,
                config,
                preset_name="incident",
                length_s=a.a_length_s,
                noise_seed=a.a_noise_seed if noise_seed is None else noise_seed,
                load_s=load_s,
                show_trace=True,
                as_json=False,
            )
            typer.echo("")
    except AsrlabError as e:
        fail(e)
