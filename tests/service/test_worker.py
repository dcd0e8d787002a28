"""The worker process and its manager: the incident's guard, and the timeouts that work.

These run real worker processes on the real models. Shortened limits (seconds, not tens of
seconds) keep the suite quick; the mechanisms are the same at the incident's 20 s and 30 s.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import time

import numpy as np
import pytest

from asrlab.audio import corpus
from asrlab.audio.signals import mix_at_snr, white_noise
from asrlab.decoding.decoder import TracedModel
from asrlab.decoding.options import preset
from asrlab.decoding.trace import DecodeTrace, SegmentRecord, WindowOutcome
from asrlab.errors import AsrlabError, AsrTimeout, ConfigError, JobFailed
from asrlab.service.faults import run_with_random_kills
from asrlab.service.manager import WorkerManager
from asrlab.service.message import (
    STOP,
    Done,
    Failed,
    GuardTimes,
    JobMessage,
    Ready,
    ResultMode,
    SegmentMessage,
    Started,
)
from asrlab.service.policy import Policy
from asrlab.service.worker import WorkerConfig

# The feature itself: a hard-killed job is answered within its timeout plus this.
KILL_BOUND_S = 0.25


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); /proc says whether it has exited.
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split(") ", 1)[1][0] != "Z"


def _wait_for(predicate, timeout_s: float) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def _no_children_left(manager: WorkerManager) -> None:
    assert multiprocessing.active_children() == []
    assert not [pid for pid in manager.spawned_pids if os.path.exists(f"/proc/{pid}")]


@pytest.mark.model
@pytest.mark.worker
def test_legacy_guard_raises_on_time_but_waits_for_the_decode(
    noise: np.ndarray,
    worker_processes: None,
) -> None:
    """Issue 3, must-show 1: the incident's timeline with 2 s / 4 s limits."""
    segments_timeout_s, asr_timeout_s = 2.0, 4.0
    cfg = WorkerConfig(
        policy="legacy_thread",
        segments_timeout_s=segments_timeout_s,
        asr_timeout_s=asr_timeout_s,
    )
    # Three rungs of the ladder on the incident noise: about 12 s of decoding on 2 cores.
    decode = preset("incident", temperature=(0.0, 0.2, 0.4))
    with WorkerManager(cfg) as manager:
        job = manager.submit(noise, decode, job_id="A")
        with pytest.raises(AsrTimeout) as err:
            job.result()
        told_s = err.value.elapsed_s
        assert _wait_for(lambda: job.metrics.late_result, 120)
        m = job.metrics
        assert isinstance(job.outcome, AsrTimeout)  # the late result reached no one
        print(m.row())
        # The caller hears the ASR timeout at the deadline ...
        assert asr_timeout_s <= told_s <= asr_timeout_s + KILL_BOUND_S
        # ... the guard's TimeoutError is raised at the segments timeout (the guard is entered
        # once transcribe() has returned) ...
        assert m.guard_raised_s is not None and m.guard_entered_s is not None
        waited_s = m.guard_raised_s - m.guard_entered_s
        assert segments_timeout_s <= waited_s <= segments_timeout_s + 0.25
        # ... but control leaves the guard only when decoding ends, long after both limits.
        assert m.guard_left_s > asr_timeout_s + 2.0
        assert m.work_after_deadline_s > 2.0 and manager.late_results == 1
        assert m.status == "timeout" and not m.killed
    _no_children_left(manager)


@pytest.mark.model
@pytest.mark.worker
def test_hard_kill_returns_on_time_and_the_manager_keeps_serving(
    base_model: TracedModel, noise: np.ndarray,
    worker_processes: None,
) -> None:
    """Issue 3, must-show 2: a >= 20 s decode, a 3 s timeout."""
    # Where the sampled rungs stop depends on the CPU (conftest.py); six greedy rungs each run
    # the repetition loop to the token limit, a >= 20 s decode on any CPU.
    decode = preset("incident", temperature=(0.0,) * 6)
    alone = base_model.run(noise, decode)  # the same clip and settings, in-process
    assert len(alone.attempts) == 6 and alone.wall_s >= 20.0
    timeout_s = 3.0
    with WorkerManager(WorkerConfig(policy="hard_kill", asr_timeout_s=timeout_s)) as manager:
        [pid] = manager.pids
        t0 = time.monotonic()
        with pytest.raises(AsrTimeout) as err:
            manager.run(noise, decode)
        returned_s = time.monotonic() - t0
        print(f"AsrTimeout after {returned_s:.3f} s; {err.value}")
        assert returned_s <= timeout_s + KILL_BOUND_S
        assert not _alive(pid)
        # The next job's own deadline is not what is tested: 3 s was the noise job's, and jfk
        # at beam 10 right after a respawn takes 2.5-3 s here (it ran out once in a full run).
        jfk = corpus.get("jfk").load()
        ok = manager.run(jfk, preset("incident"), timeout_s=60.0)
        assert "ask not what your country" in ok.text.lower() and manager.pids != [pid]
        killed = manager.history[0]
        assert killed.killed and killed.respawn_s and killed.respawn_s > 0
    _no_children_left(manager)


@pytest.mark.model
@pytest.mark.worker
def test_cooperative_stops_at_the_first_check_and_keeps_what_it_had(worker_processes: None) -> None:
    """Issue 3, must-show 3: 71 s of speech under noise (10 dB SNR), three windows, ~10 s of
    decoding on 2 cores; the deadline falls inside it."""
    lj = corpus.get("en_ljspeech_LJ028-0030_to_0039_long").load()
    clip = mix_at_snr(lj, white_noise(10.0, seed=6), snr_db=10.0)
    cfg = WorkerConfig(policy="cooperative", asr_timeout_s=5.0, backstop_s=20.0)
    with WorkerManager(cfg) as manager:
        result = manager.run(clip, preset("incident"))
    trace, m = result.trace, result.metrics
    print(trace.summary(), m.row())
    assert result.partial and m.status == "partial" and not m.killed
    assert result.segments and "babylon" in result.text.lower()  # window 0's segments came back
    windows = trace.windows
    assert len(windows) < 3 or windows[-1].outcome == WindowOutcome.STOPPED
    assert trace.stopped_reason is not None and "deadline passed" in trace.stopped_reason
    # The first check after the deadline stopped it: the overshoot is at most one step.
    steps = [a.seconds for a in trace.attempts] + [w.encode_s for w in windows]
    overshoot_s = float(trace.stopped_reason.split("passed ")[1].split(" s")[0])
    assert overshoot_s <= max(steps) + 0.1
    assert m.work_after_deadline_s == pytest.approx(overshoot_s, abs=0.25)
    _no_children_left(manager)


@pytest.mark.model
@pytest.mark.worker
def test_cooperative_is_backed_up_by_hard_kill(noise: np.ndarray, worker_processes: None) -> None:
    """One long attempt cannot be interrupted cooperatively: the backstop kills it."""
    timeout_s, backstop_s = 2.5, 0.5
    cfg = WorkerConfig(policy="cooperative", asr_timeout_s=timeout_s, backstop_s=backstop_s)
    decode = preset("incident", language="nn", temperature=(0.0,))  # one ~6 s attempt
    with WorkerManager(cfg) as manager:
        # A first job pays the worker's first-use costs, so that the deadline falls inside the
        # attempt: in a full run it once passed before the attempt began, and the cooperative
        # check then stopped the job as it should, leaving nothing for the backstop to kill.
        manager.run(corpus.get("jfk").load(), preset("incident", language="en"), timeout_s=60.0)
        t0 = time.monotonic()
        try:
            result = manager.run(noise, decode)
        except AsrTimeout:
            pass
        else:
            pytest.fail(f"no AsrTimeout: {result.metrics.row()} {result.trace.summary()}")
        assert time.monotonic() - t0 <= timeout_s + backstop_s + KILL_BOUND_S
        assert manager.history[1].killed
    _no_children_left(manager)


@pytest.mark.model
@pytest.mark.worker
def test_streaming_delivers_the_first_segment_early(worker_processes: None) -> None:
    """Issue 3, must-show 4: a 71 s speech clip, several windows, segments as they come."""
    clip = corpus.get("en_ljspeech_LJ028-0030_to_0039_long").load()
    cfg = WorkerConfig(policy="hard_kill", asr_timeout_s=300.0, result_mode="streaming")
    with WorkerManager(cfg) as manager:
        t0 = time.monotonic()
        job = manager.submit(clip, preset("incident", beam_size=5))
        arrivals = [(time.monotonic() - t0, seg.text) for seg in job.stream()]
        total_s = time.monotonic() - t0
        result = job.result()
    first_s = arrivals[0][0]
    print(f"first segment after {first_s:.2f} s of {total_s:.2f} s; {len(arrivals)} segments")
    assert len(result.trace.windows) >= 3 and len(arrivals) == len(result.segments)
    assert [t for _, t in arrivals] == [s.text for s in result.segments]
    assert first_s < 0.5 * total_s
    assert result.metrics.first_segment_s is not None
    _no_children_left(manager)


@pytest.mark.model
@pytest.mark.worker
def test_faults_every_job_ends_once_with_its_own_text(worker_processes: None) -> None:
    """Issue 3, must-show 5: random SIGKILLs across 30 jobs (benchmarks/worker_faults.py: 200)."""
    clips = {
        c.clip_id: c.load() for c in corpus.clips("en", with_reference=True) if c.duration_s < 9
    }
    decode = preset("incident", beam_size=2, language="en")
    cfg = WorkerConfig(model="tiny.en", policy="hard_kill", asr_timeout_s=6.0)
    with WorkerManager(cfg) as manager:
        expected = {cid: manager.run(x, decode).text for cid, x in clips.items()}
        assert len(set(expected.values())) == len(expected)  # every clip's text is distinct
        # Both outcomes must occur, so some gaps between kills must outlast a respawn plus a
        # job: on the AMD lab machines that took up to 2.3 s, past every gap of the benchmark's
        # (0.2, 1.5) s, and a full run once saw all 30 jobs killed.
        report = run_with_random_kills(
            manager, clips, expected, decode, n_jobs=30, seed=7, kill_interval_s=(0.2, 4.0)
        )
    print(report.summary(), "respawns", manager.respawns)
    assert report.jobs == 30 and not report.violations
    assert report.outcomes["WorkerCrashed"] > 0 and report.outcomes["ok"] > 0
    _no_children_left(manager)


@pytest.mark.model
@pytest.mark.worker
def test_a_job_that_raises_in_the_worker_fails_alone(worker_processes: None) -> None:
    """A decode error fails its job with the worker's message; the same worker serves on.

    The error is real: with condition_on_previous_text, window 1's prompt carries window 0's
    tokens, and prompt + max_new_tokens then exceeds Whisper's 448-token context.
    """
    long_clip = corpus.get("en_ljspeech_LJ028-0030_to_0039_long").load()
    cfg = WorkerConfig(model="tiny.en", policy="hard_kill", asr_timeout_s=60)
    with WorkerManager(cfg) as manager:
        [pid] = manager.pids
        with pytest.raises(JobFailed, match="max_length"):
            manager.run(long_clip, preset("incident", beam_size=1, max_new_tokens=400))
        assert manager.pids == [pid]
        assert manager.run(corpus.get("jfk").load(), preset("incident", beam_size=1)).text
        assert manager.history[0].status == "failed"
    _no_children_left(manager)


@pytest.mark.model
@pytest.mark.worker
def test_closing_with_queued_jobs_fails_them_and_leaves_no_process(
    noise: np.ndarray,
    worker_processes: None,
) -> None:
    cfg = WorkerConfig(model="tiny.en", policy="none")
    manager = WorkerManager(cfg)
    manager.start()
    jobs = [manager.submit(noise, preset("incident")) for _ in range(3)]
    assert _wait_for(lambda: jobs[0].metrics.worker_start_s is not None, 10)
    manager.close()
    with pytest.raises(AsrlabError, match="manager was closed"):
        jobs[-1].result()
    for job in jobs:
        assert _wait_for(lambda job=job: job.done, 10)
    _no_children_left(manager)


@pytest.mark.parametrize(
    ("field", "value"),
    [("policy", "kill9"), ("result_mode", "both"), ("asr_timeout_s", 0), ("n_workers", 0)],
)
def test_worker_config_rejects_bad_values(field: str, value: object) -> None:
    with pytest.raises(ConfigError) as err:
        WorkerConfig(**{field: value})
    assert err.value.field == field


def test_a_config_named_by_strings_holds_the_enums() -> None:
    cfg = WorkerConfig(policy="cooperative", result_mode="streaming")
    assert cfg.policy is Policy.COOPERATIVE and cfg.result_mode is ResultMode.STREAMING
    assert cfg.policy == "cooperative"  # and still equals its string (YAML, parquet, texts)


def test_every_message_crosses_the_pipe_as_sent() -> None:
    """What goes over the spawn pipe is pickled: every record comes back equal, with its type."""
    segment = SegmentRecord(0, 0.0, 2.5, " Hello.", 0.0, -0.2, 1.1, 0.01)
    trace = DecodeTrace("tiny.en", 2.5, {"beam_size": 1}, compute_type="int8_float32")
    trace.segments.append(segment)
    job = JobMessage(
        "A", np.zeros(16, np.float32), {"beam_size": 1}, 12.5, Policy.LEGACY_THREAD, 8.0,
        ResultMode.LIST,
    )  # fmt: skip
    sent = [
        Ready(123, 0.4, "int8_float32"),
        Started("A", 1.0),
        SegmentMessage("A", segment, 1.5),
        Done("A", (segment,), trace, GuardTimes(1.1, None, 2.0), 2.0),
        Failed("A", "ValueError: boom", 2.0),
        STOP,
    ]
    for message in sent:
        assert pickle.loads(pickle.dumps(message)) == message
    back = pickle.loads(pickle.dumps(job))
    assert back.policy is Policy.LEGACY_THREAD and back.samples.dtype == np.float32
