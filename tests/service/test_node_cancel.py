"""What a server asks of the node on real parts: segments handed over as they come, and a job
stopped because its client left (`Node.cancel`). A request's own options (`Node.run`'s
``decode``) are checked over the wire (tests/endpoint)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

import asrlab
from asrlab.audio.signals import pink_noise
from asrlab.decoding.trace import SegmentRecord
from asrlab.service.build import service
from asrlab.service.node import JobRecord
from asrlab.service.rows import Mark
from asrlab.service.settings import ServiceSettings

JFK = Path(asrlab.__file__).parent / "data" / "audio" / "jfk.flac"
# A cancelled job's worker is killed by its slot within a poll; the lease is released as soon as
# the node's thread sees the error. A second is far more than either needs, and far less than the
# noise's decode (about 8 s on tiny.en), so a cancel that did nothing cannot pass.
CANCELLED_WITHIN_S = 1.0


@pytest.mark.model
@pytest.mark.worker
@pytest.mark.slow
def test_segments_and_cancel_on_one_streaming_node(worker_processes: None) -> None:
    settings = ServiceSettings(model="tiny.en", remedy="streaming", asr_timeout_s=30.0)
    with service(settings) as node:
        # Segments reach the caller while the job runs, the same ones the record keeps.
        seen: list[tuple[SegmentRecord, float]] = []
        jfk = JFK.read_bytes()
        record = node.run(
            "jfk", jfk, on_segment=lambda s: seen.append((s, time.monotonic()))
        )
        assert record.status == "ok" and record.segments
        assert tuple(s for s, _ in seen) == record.segments
        first = seen[0][1] - record.received
        assert first == pytest.approx(record.marks[Mark.FIRST_SEGMENT], abs=0.05)

        # A job not running here cannot be cancelled (nothing is kept for a later one).
        assert not node.cancel("early", "client disconnected")
        # A job whose client left while it waited for the lease never takes a worker.
        box: dict[str, JobRecord] = {}
        with node.arbiter.lease("blocker", hold_max_ms=60_000):
            waiting = threading.Thread(target=lambda: box.update(early=node.run("early", jfk)))
            waiting.start()
            while "early" not in node._active:
                time.sleep(0.01)
            assert node.cancel("early", "client disconnected")
        waiting.join(30)
        early = box["early"]
        assert early.status == "failed" and early.details[Mark.FAILED] == "JobCancelled"
        assert Mark.SUBMITTED not in early.marks and Mark.LEASE_RELEASED in early.marks

        # A running job: its worker is killed (and replaced), its lease released, promptly.
        noise = pink_noise(11.2, seed=2)
        pids = set(node.manager.pids)
        runner = threading.Thread(target=lambda: box.update(noise=node.run("noise", noise)))
        runner.start()
        while "noise" not in node._handles or node._handles["noise"].metrics.worker_pid is None:
            time.sleep(0.02)
        asked = time.monotonic()
        assert node.cancel("noise", "client disconnected")
        runner.join(30)
        cancelled = box["noise"]
        assert cancelled.status == "failed" and cancelled.details[Mark.FAILED] == "JobCancelled"
        released = cancelled.received + cancelled.marks[Mark.LEASE_RELEASED]
        assert released - asked < CANCELLED_WITHIN_S
        with node.arbiter.lock:
            assert node.arbiter.core.live == ()
        node.settle(cancelled)
        node.forget("noise")
        assert "noise" not in node._handles
        # The killed worker is replaced (its slot respawns it and loads the model again).
        end = time.monotonic() + 60
        while (not node.manager.pids or set(node.manager.pids) == pids) and time.monotonic() < end:
            time.sleep(0.05)
        assert node.manager.pids and set(node.manager.pids) != pids
