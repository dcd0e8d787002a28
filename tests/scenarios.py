"""Scenarios more than one test file builds on (tests/ is on sys.path: its conftest.py lives there).

The incident's cascade under traffic, scaled to seconds with tiny.en: the real workload
(tests/workload/test_real.py) and the simulator's check against it (tests/sim/test_core.py) run
the same one.

Two runs that tests/conftest.py makes once a session for several files: the smoke sweep on
tiny.en (`smoke_experiment`; tests/lab/test_experiments.py checks it, tests/lab/test_cluster.py
compares a Dask run with it) and `asrlab reproduce` of tests/data/incident_tiny.yaml
(`ReproduceRun`; tests/cli/test_cli.py checks the command, tests/lab/test_notebooks.py the replay
notebook it executed).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from asrlab.lab.experiment import Experiment, parse_experiment
from asrlab.workload.traffic import MixItem, WorkloadConfig, plan

ROOT = Path(__file__).resolve().parent.parent
INCIDENT_TINY = ROOT / "tests" / "data" / "incident_tiny.yaml"

# A noise job that decodes for about 8 s with tiny.en at the incident preset (fixed seed: the
# decode time of noise depends on the signal), and a 3.3 s English utterance.
CASCADE_MIX = (
    MixItem("pink_noise", 11.2, 1.0, noise_seed=2),
    MixItem("en_librispeech_1089-134686-0001", None, 1.0),
)
SCALED = dict(
    model="tiny.en",
    asr_timeout_s=4.0,
    segments_timeout_s=3.0,
    hold_max_ms=1500.0,
    acquire_timeout_ms=1000.0,
    rate_per_min=30.0,
    n_jobs=2,
    clients=2,
    mix=CASCADE_MIX,
)


def cascade_workload() -> WorkloadConfig:
    """The first seed whose plan is noise at 0 s, then speech while the noise lease is overdue.

    The noise's lease is granted at about 0.1 s, overdue from 1.6 s, released at its 4 s ASR
    timeout; speech arriving at 1.2-2.4 s gives up at 2.2-3.4 s, inside that window.
    """
    for seed in range(1000):
        config = WorkloadConfig(seed=seed, **SCALED)
        noise, speech = plan(config)
        if noise.item == CASCADE_MIX[0] and speech.item == CASCADE_MIX[1]:
            if 1.2 < speech.arrival_s < 2.4:
                return config
    raise AssertionError("no seed below 1000 gives the cascade's plan")


def smoke_experiment() -> Experiment:
    """experiments/smoke.yaml as committed, with the model swapped for tiny.en and two classes."""
    spec = yaml.safe_load((ROOT / "experiments" / "smoke.yaml").read_text())
    spec["fixed"] |= {"model": "tiny.en", "classes": ["clean_en", "noise"]}
    return parse_experiment(spec, default_name="smoke", base_dir=ROOT / "experiments")


@dataclass(frozen=True)
class ReproduceRun:
    """`asrlab reproduce` of INCIDENT_TINY, run once: the command line (to run it again), what it
    printed and the one run folder it made under ``--out``."""

    args: list[str]
    output: str
    run_dir: Path
