"""The incident over the wire: the replay's jobs A and B posted by httpx to `asrlab serve`
(started in this process on loopback), with the cascade's seconds-scale thresholds on tiny.en
(tests/scenarios.py: job A the pink noise that climbs the ladder for about 8 s, B an English
utterance)."""

from __future__ import annotations

import pytest
from scenarios import CASCADE_MIX, SCALED

from asrlab.endpoint.replay import replay_http, run
from asrlab.errors import ConfigError
from asrlab.service.replay import ReplayConfig, ReplayResult, summary

NOISE, SPEECH = CASCADE_MIX
# B arrives once A's lease (granted after A's upload is decoded, a few tenths of a second) is
# overdue (hold_max 1.5 s), and its 1 s lease wait ends before A's 4 s ASR timeout frees it.
B_DELAY_S = 2.0


def _config(remedy: str) -> ReplayConfig:
    service = {k: SCALED[k] for k in ("model", "asr_timeout_s", "segments_timeout_s")}
    arbiter = {k: SCALED[k] for k in ("hold_max_ms", "acquire_timeout_ms")}
    return ReplayConfig(
        remedy=remedy, a_source=NOISE.source, a_length_s=NOISE.length_s,
        a_noise_seed=NOISE.noise_seed, b_source=SPEECH.source, b_delay_s=B_DELAY_S,
        transport="http", **service, **arbiter,
    )  # fmt: skip


@pytest.fixture(scope="module")
def incident(worker_processes: None) -> ReplayResult:
    return run(_config("incident"))


@pytest.mark.model
@pytest.mark.worker
@pytest.mark.slow
def test_under_the_incident_b_gets_503_with_the_incidents_text(incident: ReplayResult) -> None:
    a, b = incident.rows()
    print(incident.a.timeline, incident.b.timeline, sep="\n")
    assert b.http_status == 503 and b.client_error == "GPU lease timeout: GPU_USAGE_HIGH"
    assert incident.answers is not None and incident.answers[1].retry_after_s == 1  # acquire 1 s
    assert b.latency_s is not None and b.latency_s >= SCALED["acquire_timeout_ms"] / 1000
    assert a.http_status == 504 and a.client_error is not None
    assert a.client_error.startswith("ASR task timeout")
    # The node's own records: A's overdue lease and, after the answer, its late result.
    assert incident.a.lease_overdue and a.worker_late_result is True
    assert "result arrived late: discarded" in [event for event, _ in incident.a.timeline]
    line = summary(incident.frame())
    assert line["transport"] == "http" and (line["A HTTP"], line["B HTTP"]) == (504, 503)
    assert line["B Retry-After s"] == 1


@pytest.mark.model
@pytest.mark.worker
@pytest.mark.slow
def test_under_the_recommended_remedy_both_get_200(worker_processes: None) -> None:
    result = replay_http(_config("recommended"))
    a, b = result.rows()
    assert (a.http_status, b.http_status) == (200, 200)
    assert a.client_error is None and b.client_error is None
    assert "belly" in (b.text or "").lower()  # "Stuff it into you, his belly counselled him."


def test_the_transport_is_checked() -> None:
    with pytest.raises(ConfigError, match="transport"):
        ReplayConfig(transport="grpc")
