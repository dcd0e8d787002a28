"""The peer deployment: faster-whisper-server's config as `asrlab.endpoint.peer` writes it, and
the server itself on loopback, driven by `asrlab drive` (the extra ``peers``; `make test`
installs it, `make test-fast` does not need it)."""

from __future__ import annotations

import importlib.util

import psutil
import pytest
import yaml

from asrlab.decoding.options import preset
from asrlab.endpoint.driver import DriveConfig, drive
from asrlab.endpoint.peer import LABEL, PEER_MODEL, peer_config_yaml, run_peer
from asrlab.workload.traffic import MixItem, WorkloadConfig

INSTALLED = importlib.util.find_spec("faster_whisper_server") is not None


def test_the_config_names_one_model_on_the_cpu_with_the_presets_options() -> None:
    decode = preset("incident")
    config = yaml.safe_load(peer_config_yaml("/models/base", decode, cpu_threads=2))
    (model,) = config["models"]
    assert model["name"] == PEER_MODEL and model["path"] == "/models/base"
    assert model["model_options"] == {"device": "cpu", "compute_type": "float32", "cpu_threads": 2}
    assert model["transcribe_options"] == decode.transcribe_kwargs()
    assert model["transcribe_options"]["beam_size"] == 10  # the incident's
    assert "seed" not in model["transcribe_options"]  # the lab's own fields are left out


@pytest.mark.skipif(not INSTALLED, reason="faster-whisper-server not installed (make peers)")
@pytest.mark.model
@pytest.mark.slow
def test_the_peer_answers_a_drive_and_is_gone_after() -> None:
    short = MixItem("en_librispeech_1089-134686-0001")  # 3.3 s of read English
    workload = WorkloadConfig(n_jobs=3, rate_per_min=600.0, seed=0, mix=(short,))
    with run_peer("tiny.en", decode=preset("incident")) as peer:
        assert peer.url.startswith("http://127.0.0.1:")
        result = drive(DriveConfig(peer.url, workload, concurrency=2, label=LABEL), progress=False)
    frame = result.frame()
    assert (frame["status"] == "ok").all(), frame["client_error"]
    assert (frame["remedy"] == LABEL).all() and result.events == ()  # it says neither
    assert frame["t_received_s"].isna().all()  # and reports no stages
    assert result.summary.wer_clips == 3 and result.summary.wer < 0.5
    assert not psutil.pid_exists(peer.pid) or psutil.Process(peer.pid).status() == "zombie"
