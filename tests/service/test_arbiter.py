"""The lease arbiter: the incident's cascade, the policies that break it, and its invariants.

The pure core is driven with an explicit clock (milliseconds) and checked on its event trace, as
SimPy's tests check theirs; a Hypothesis state machine checks the invariants under every policy;
the real-time wrapper is checked end to end with short real times and under 8 threads.
"""

from __future__ import annotations

import pickle
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from asrlab.errors import ConfigError, LeaseRejected
from asrlab.service.arbiter import (
    OVERDUE_REASON,
    POLICIES,
    ArbiterConfig,
    Decision,
    Lease,
    LeaseArbiter,
    State,
    timeout_reason,
)
from asrlab.service.realtime import RealtimeArbiter
from asrlab.service.usage import (
    NvmlUsage,
    ProcessCpuUsage,
    ScriptedUsage,
    TorchCudaUsage,
    default_sampler,
)

INCIDENT_TEXT = "GPU lease timeout: GPU_USAGE_HIGH"


def trace(arb: LeaseArbiter) -> list[tuple[float, str, str]]:
    """(t_ms, kind, holder) per event; a state event shows the new state instead of a holder."""
    return [(e.t_ms, e.kind, e.detail if e.kind == "state" else e.holder) for e in arb.events]


# --- 3. The incident chain on the pure core, one row per policy --------------------------------
# capacity 1, hold_max 20 s, acquire timeout 5 s. A step is (t_ms, op, holder, kwargs); A's lease is
# overdue from 20.001 s on (overdue means now > due_ms, and due_ms = 20 s).

INCIDENT_STEPS: list[tuple[float, str, str, dict[str, Any]]] = [
    (0, "request", "A", {}),
    (20_000, "tick", "", {}),  # held exactly hold_max_ms: not yet overdue
    (20_001, "tick", "", {}),
    (21_000, "request", "B", {"usage": 0.27}),  # the GPU is 27 % busy
    (26_000, "poll", "B", {}),  # B has waited acquire_timeout_ms: the wrapper gives up here
    (26_000, "cancel", "B", {}),
    (30_010, "release", "A", {}),  # A's decode ends after 30 s
]
A_GRANTED = [(0, "request", "A"), (0, "grant", "A"), (0, "state", "HIGH_PRESSURE")]
REFUSED = "GPU lease refused: expected wait"

CHAIN = [
    pytest.param(
        "incident",
        INCIDENT_STEPS,
        [
            (0, "A", "granted", None),
            (21_000, "B", "wait", "GPU_USAGE_HIGH"),
            (26_000, "B", "wait", "GPU_USAGE_HIGH"),
        ],
        A_GRANTED
        + [
            (20_001, "state", "GPU_USAGE_HIGH"),
            (21_000, "request", "B"),
            (21_000, "wait", "B"),
            (26_000, "cancel", "B"),
            (30_010, "release", "A"),
            (30_010, "state", "NORMAL"),
        ],
        id="incident",
    ),
    pytest.param(
        "revoke_overdue",
        INCIDENT_STEPS[:4] + [(30_010, "release", "A", {})],
        [(0, "A", "granted", None), (21_000, "B", "granted", None)],
        A_GRANTED
        + [
            (20_001, "revoke", "A"),
            (20_001, "state", "NORMAL"),
            (21_000, "request", "B"),
            (21_000, "grant", "B"),
            (21_000, "state", "HIGH_PRESSURE"),
            (30_010, "stale_release", ""),  # A's late release is fenced: B keeps its lease
        ],
        id="revoke_overdue",
    ),
    pytest.param(
        "deadline_aware",
        [
            (0, "request", "A", {}),
            (10_000, "request", "B", {"deadline_ms": 13_000}),  # A is due in 10 s
            (15_000, "request", "C", {"deadline_ms": 40_000}),  # A due in 5 s: worth waiting
            (20_001, "tick", "", {}),
            (21_000, "poll", "C", {}),  # A is now overdue: no bound on the wait
            (21_000, "request", "D", {"deadline_ms": 51_000}),
            (21_000, "request", "E", {}),  # no deadline: waits as under incident
        ],
        [
            (0, "A", "granted", None),
            (10_000, "B", "refused", f"{REFUSED} 10000 ms exceeds the remaining deadline 3000 ms"),
            (15_000, "C", "wait", "HIGH_PRESSURE"),
            (
                21_000,
                "C",
                "refused",
                f"{REFUSED} unbounded (a lease is overdue) exceeds the remaining deadline 19000 ms",
            ),
            (
                21_000,
                "D",
                "refused",
                f"{REFUSED} unbounded (a lease is overdue) exceeds the remaining deadline 30000 ms",
            ),
            (21_000, "E", "wait", "GPU_USAGE_HIGH"),
        ],
        A_GRANTED
        + [
            (10_000, "request", "B"),
            (10_000, "refuse", "B"),
            (15_000, "request", "C"),
            (15_000, "wait", "C"),
            (20_001, "state", "GPU_USAGE_HIGH"),
            (21_000, "refuse", "C"),
            (21_000, "request", "D"),
            (21_000, "refuse", "D"),
            (21_000, "request", "E"),
            (21_000, "wait", "E"),
        ],
        id="deadline_aware",
    ),
    pytest.param(
        "fifo",
        INCIDENT_STEPS[:4] + [(22_000, "release", "A", {}), (22_000, "poll", "B", {})],
        [
            (0, "A", "granted", None),
            (21_000, "B", "wait", "all 1 lease slot(s) are held"),
            (22_000, "B", "granted", None),
        ],
        A_GRANTED
        + [
            (20_001, "state", "GPU_USAGE_HIGH"),  # reported, not obeyed
            (21_000, "request", "B"),
            (21_000, "wait", "B"),
            (22_000, "release", "A"),
            (22_000, "state", "NORMAL"),
            (22_000, "grant", "B"),
            (22_000, "state", "HIGH_PRESSURE"),
        ],
        id="fifo",
    ),
]


def run_steps(policy: str, steps: list[tuple[float, str, str, dict[str, Any]]]) -> tuple:
    config = ArbiterConfig(
        capacity=1, default_hold_max_ms=20_000, acquire_timeout_ms=5_000, policy=policy
    )
    arb = LeaseArbiter(config)
    tickets: dict[str, int] = {}
    tokens: dict[str, int] = {}
    decisions = []
    for t, op, who, kwargs in steps:
        if op == "tick":
            arb.tick(t)
        elif op == "cancel":
            arb.cancel(tickets[who], t)
        elif op == "release":
            arb.release(tokens[who], t)
        else:
            d = arb.request(who, t, **kwargs) if op == "request" else arb.poll(tickets[who], t)
            if d.ticket is not None:
                tickets[who] = d.ticket
            if d.lease is not None:
                tokens[who] = d.lease.token
            decisions.append((t, who, d.status, d.reason))
    return arb, decisions


@pytest.mark.parametrize(("policy", "steps", "decisions", "expected_trace"), CHAIN)
def test_incident_chain(policy: str, steps: list, decisions: list, expected_trace: list) -> None:
    arb, got = run_steps(policy, steps)
    assert got == decisions
    assert trace(arb) == expected_trace


def test_incident_text_at_the_acquire_timeout() -> None:
    arb, _ = run_steps("incident", INCIDENT_STEPS[:4])  # up to B's request at 21 s
    assert arb.state(21_000) is State.GPU_USAGE_HIGH
    (ticket,) = arb.waiters
    assert arb.poll(ticket, 26_000, usage=0.27).status == "wait"  # still waiting at 26 s
    assert [lease.holder for lease in arb.overdue(26_000)] == ["A"]
    # What the real-time wrapper tells the client when it gives up on B now:
    assert timeout_reason(arb.state(26_000)) == INCIDENT_TEXT


# --- 1. Invariants of the pure core under random operations, for every policy -----------------

USAGE = st.none() | st.sampled_from([0.0, 0.27, 0.89, 0.9, 1.0])
STATEFUL = settings(max_examples=500, stateful_step_count=30, deadline=None, database=None)


class ArbiterMachine(RuleBasedStateMachine):
    """A model of the arbiter: tokens granted, tokens ended, the waiting queue, the last usage."""

    policy = "incident"
    seen: ClassVar[Counter[str]]  # per policy: examples run and what they reached

    @initialize(capacity=st.integers(1, 3), hold_ms=st.sampled_from([1_000.0, 20_000.0]))
    def setup(self, capacity: int, hold_ms: float) -> None:
        self.config = ArbiterConfig(capacity, default_hold_max_ms=hold_ms, policy=self.policy)
        self.arb = LeaseArbiter(self.config)
        self.now = 0.0
        self.usage: float | None = None
        self.granted: list[int] = []  # tokens in grant order
        self.ended: set[int] = set()  # released or revoked
        self.queue: list[int] = []  # waiting tickets, in arrival order
        self.with_deadline: dict[int, bool] = {}  # ticket -> did its request give a deadline

    def snapshot(self) -> tuple:
        return (self.arb.live, self.arb.waiters, self.arb.next_token)

    def step(self, usage: float | None, call: Any) -> Any:
        """Run one call; leases it took away on its own must be overdue ones under
        revoke_overdue."""
        self.usage = self.usage if usage is None else usage
        before = {lease.token: lease for lease in self.arb.live}
        result = call()
        gone = before.keys() - {lease.token for lease in self.arb.live} - self.ended
        for token in gone:
            assert self.policy == "revoke_overdue" and self.now > before[token].due_ms
        self.ended |= gone
        self.seen["revoked as overdue"] += len(gone)
        if self.policy == "revoke_overdue":
            assert self.arb.overdue(self.now) == []
        return result

    def decided(self, ticket: int | None, d: Decision, deadline: bool) -> None:
        self.seen[f"{d.status} on {'poll' if ticket else 'request'}"] += 1
        if d.status == "granted":
            assert d.lease is not None and d.lease.granted_ms == self.now
            assert not self.queue or self.queue[0] == ticket  # FIFO: never overtakes a waiter
            assert d.lease.token > max(self.granted, default=0)
            assert d.lease.token == self.arb.next_token - 1
            if self.policy != "fifo":  # granted only outside GPU_USAGE_HIGH
                assert self.arb.overdue(self.now) == []
                assert self.usage is None or self.usage < self.config.usage_high
            self.granted.append(d.lease.token)
            if ticket is not None:
                self.queue.remove(ticket)
        elif d.status == "refused":
            assert self.policy == "deadline_aware" and deadline
            assert d.reason is not None and d.reason.startswith("GPU lease refused")
            if ticket is not None:
                self.queue.remove(ticket)
        else:
            assert d.ticket is not None and d.reason
            if ticket is None:
                self.queue.append(d.ticket)
                self.with_deadline[d.ticket] = deadline

    @rule(
        holder=st.sampled_from("ABCD"),
        hold_ms=st.none() | st.floats(1, 30_000),
        deadline_in_ms=st.none() | st.floats(-1_000, 40_000),
        usage=USAGE,
    )
    def request(
        self, holder: str, hold_ms: float | None, deadline_in_ms: float | None, usage: float | None
    ) -> None:
        deadline = None if deadline_in_ms is None else self.now + deadline_in_ms
        d = self.step(
            usage,
            lambda: self.arb.request(
                holder, self.now, hold_max_ms=hold_ms, deadline_ms=deadline, usage=usage
            ),
        )
        self.decided(None, d, deadline is not None)

    @precondition(lambda self: self.queue)
    @rule(data=st.data(), usage=USAGE)
    def poll(self, data: st.DataObject, usage: float | None) -> None:
        ticket = data.draw(st.sampled_from(self.queue))
        d = self.step(usage, lambda: self.arb.poll(ticket, self.now, usage=usage))
        self.decided(ticket, d, self.with_deadline[ticket])

    @precondition(lambda self: self.queue)
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        ticket = data.draw(st.sampled_from(self.queue))
        assert self.step(None, lambda: self.arb.cancel(ticket, self.now)) is None
        self.queue.remove(ticket)

    @precondition(lambda self: self.arb.live)
    @rule(data=st.data(), revoke=st.booleans())
    def end_live(self, data: st.DataObject, revoke: bool) -> None:
        token = data.draw(st.sampled_from([lease.token for lease in self.arb.live]))
        self.ended.add(token)
        if revoke:
            lease = self.step(None, lambda: self.arb.revoke(token, self.now, "operator"))
            assert lease is not None and lease.token == token
        else:
            assert self.step(None, lambda: self.arb.release(token, self.now)) is True

    @rule(data=st.data(), revoke=st.booleans())
    def end_stale(self, data: st.DataObject, revoke: bool) -> None:
        never = st.integers(self.arb.next_token, self.arb.next_token + 50) | st.integers(-5, 0)
        token = data.draw(st.sampled_from(sorted(self.ended)) | never if self.ended else never)
        before = self.snapshot()
        if revoke:
            assert self.arb.revoke(token, self.now, "operator") is None
        else:
            assert self.arb.release(token, self.now) is False
        assert self.snapshot() == before
        assert self.arb.events[-1].kind == "stale_release"
        self.seen["stale token"] += 1

    @rule(dt_ms=st.floats(0, 25_000), usage=USAGE)
    def advance(self, dt_ms: float, usage: float | None) -> None:
        self.now += dt_ms
        revoked = self.step(usage, lambda: self.arb.tick(self.now, usage=usage))
        assert revoked == [] or self.policy == "revoke_overdue"

    @invariant()
    def within_capacity(self) -> None:
        if hasattr(self, "arb"):
            assert len(self.arb.live) <= self.config.capacity

    @invariant()
    def every_lease_is_live_or_ended(self) -> None:
        if hasattr(self, "arb"):
            assert {lease.token for lease in self.arb.live} == set(self.granted) - self.ended
            assert list(self.arb.waiters) == self.queue
            assert all(a < b for a, b in zip(self.granted, self.granted[1:], strict=False))

    def teardown(self) -> None:
        if not hasattr(self, "arb"):
            return
        self.seen["examples"] += 1
        for lease in self.arb.live:
            assert self.arb.release(lease.token, self.now)
        assert self.arb.live == ()
        # Every grant in the trace ended exactly once, by a release or a revocation.
        grants = [e.token for e in self.arb.events if e.kind == "grant"]
        ends = [e.token for e in self.arb.events if e.kind in ("release", "revoke")]
        assert grants == self.granted and sorted(ends) == grants


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.slow
def test_core_invariants(policy: str, slow: None) -> None:  # hypothesis: ~10 s per policy
    seen: Counter[str] = Counter()
    machine = type(f"ArbiterMachine_{policy}", (ArbiterMachine,), {"policy": policy, "seen": seen})
    run_state_machine_as_test(machine, settings=STATEFUL)
    print(f"{policy}: {dict(seen)}")
    # Not vacuous: enough examples, and each reached the paths that matter for its policy.
    assert seen["examples"] >= STATEFUL.max_examples
    assert seen["granted on poll"] and seen["wait on request"] and seen["stale token"]
    if policy == "revoke_overdue":
        assert seen["revoked as overdue"]
    if policy == "deadline_aware":
        assert seen["refused on request"]  # refusal at a poll is rarer: see test_incident_chain


# --- 2. The real-time wrapper under 8 threads -------------------------------------------------

THREADS = 8
LEASES_PER_THREAD = 1_250  # 10,000 acquires and 10,000 releases in all


@pytest.mark.timeout(120)
@pytest.mark.parametrize("policy", POLICIES)
def test_realtime_stress(policy: str) -> None:
    config = ArbiterConfig(capacity=2, acquire_timeout_ms=30_000, policy=policy)
    holders = peak = 0
    count = threading.Lock()

    def worker(i: int) -> list[int]:
        nonlocal holders, peak
        mine = []
        for _ in range(LEASES_PER_THREAD):
            with arb.lease(f"t{i}", hold_max_ms=10_000) as lease:
                with count:
                    holders += 1
                    peak = max(peak, holders)
                mine.append(lease.token)
                with count:
                    holders -= 1
        return mine

    with RealtimeArbiter(config) as arb, ThreadPoolExecutor(THREADS) as pool:
        per_thread = [f.result() for f in [pool.submit(worker, i) for i in range(THREADS)]]
    assert 1 <= peak <= config.capacity
    grants = [e.token for e in arb.core.events if e.kind == "grant"]
    assert len(grants) == THREADS * LEASES_PER_THREAD
    assert all(a < b for a, b in zip(grants, grants[1:], strict=False))  # in grant order
    assert sorted(t for mine in per_thread for t in mine) == grants
    assert not [e for e in arb.core.events if e.kind in ("stale_release", "revoke", "refuse")]
    assert arb.core.live == () and arb.core.waiters == ()


# --- 4. The real-time wrapper end to end (short real times) -----------------------------------


@pytest.mark.slow  # waits on the wall clock for the deadline it asserts
def test_realtime_incident_text() -> None:
    config = ArbiterConfig(default_hold_max_ms=50, acquire_timeout_ms=200, policy="incident")
    with RealtimeArbiter(config) as arb:
        a = arb.acquire("A")
        time.sleep(0.1)  # A is now overdue, the device idle
        with pytest.raises(LeaseRejected) as info:
            arb.acquire("B")
        assert str(info.value) == INCIDENT_TEXT
        assert info.value.state == State.GPU_USAGE_HIGH
        assert 190 <= info.value.waited_ms < 2_000
        assert arb.core.waiters == ()  # the timed-out waiter was cancelled
        assert arb.release(a) and arb.state() is State.NORMAL


@pytest.mark.slow  # waits on the wall clock for the deadline it asserts
def test_realtime_revoke_callback_fires_on_time() -> None:
    config = ArbiterConfig(
        default_hold_max_ms=50, acquire_timeout_ms=2_000, policy="revoke_overdue"
    )
    fired: list[tuple[int, str, float]] = []
    done = threading.Event()

    def on_revoke(lease: Lease, reason: str) -> None:
        fired.append((lease.token, reason, time.monotonic()))
        done.set()

    with RealtimeArbiter(config, on_revoke=on_revoke) as arb:
        t0 = time.monotonic()
        a = arb.acquire("A")
        assert done.wait(2.0), "the ticker never revoked the overdue lease"
        assert fired[0][:2] == (a.token, OVERDUE_REASON)
        assert 0.05 <= fired[0][2] - t0 < 0.5
        b = arb.acquire("B")
        assert b.token > a.token
        assert arb.release(a) is False  # fenced
        assert arb.release(b) is True
    assert len(fired) == 1


def test_realtime_lease_released_on_exception() -> None:
    with RealtimeArbiter(ArbiterConfig()) as arb:
        with pytest.raises(RuntimeError, match="decode crashed"):
            with arb.lease("A") as lease:
                raise RuntimeError("decode crashed")
        assert arb.core.live == ()
        ends = [(e.kind, e.token) for e in arb.core.events if e.kind in ("grant", "release")]
        assert ends == [("grant", lease.token), ("release", lease.token)]


@pytest.mark.slow  # waits on the wall clock for the deadline it asserts
def test_realtime_waiter_granted_on_release() -> None:
    with RealtimeArbiter(ArbiterConfig(acquire_timeout_ms=5_000)) as arb:
        a = arb.acquire("A")
        threading.Timer(0.1, arb.release, args=(a,)).start()
        t0 = time.monotonic()
        with arb.lease("B") as b:
            assert 0.09 <= time.monotonic() - t0 < 2.0
            assert b.token == a.token + 1


def test_realtime_deadline_aware_refuses_at_once() -> None:
    config = ArbiterConfig(acquire_timeout_ms=5_000, policy="deadline_aware")
    with RealtimeArbiter(config) as arb, arb.lease("A", hold_max_ms=10_000):
        with pytest.raises(LeaseRejected, match="exceeds the remaining deadline") as info:
            arb.acquire("B", deadline=time.monotonic() + 0.5)
        assert info.value.waited_ms < 100
        assert info.value.state == "HIGH_PRESSURE"


# --- 5. Usage alone drives GPU_USAGE_HIGH ------------------------------------------------------


def test_scripted_usage_drives_state_without_overdue_lease() -> None:
    usage = ScriptedUsage([0.27, 0.95, 0.5])
    arb = LeaseArbiter(ArbiterConfig(capacity=2))
    a = arb.request("A", 0, usage=usage.sample())
    b = arb.request("B", 100, usage=usage.sample())
    assert (a.status, b.status, b.reason) == ("granted", "wait", "GPU_USAGE_HIGH")
    assert arb.overdue(100) == [] and arb.state(100) is State.GPU_USAGE_HIGH  # usage is held
    assert b.ticket is not None and arb.poll(b.ticket, 200, usage=usage.sample()).lease
    assert [usage.sample() for _ in range(2)] == [0.5, 0.5]  # holds the last value
    assert [e for e in trace(arb) if e[1] == "state"] == [
        (100, "state", "GPU_USAGE_HIGH"),
        (200, "state", "NORMAL"),  # usage fell to 0.5 ...
        (200, "state", "HIGH_PRESSURE"),  # ... and B took the second slot
    ]


def test_scripted_usage_cycles_and_validates() -> None:
    usage = ScriptedUsage([0.1, 0.9], cycle=True)
    assert [usage.sample() for _ in range(5)] == [0.1, 0.9, 0.1, 0.9, 0.1]
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        ScriptedUsage([1.5])


def test_realtime_usage_alone_times_out_with_the_incident_text() -> None:
    config = ArbiterConfig(acquire_timeout_ms=100)
    with RealtimeArbiter(config, sampler=ScriptedUsage([0.95])) as arb:
        assert arb.state() is State.GPU_USAGE_HIGH
        with pytest.raises(LeaseRejected, match=f"^{INCIDENT_TEXT}$"):
            arb.acquire("A")
        assert arb.core.live == ()  # no lease at all: usage alone blocked it


def test_process_cpu_usage_and_default_sampler() -> None:
    sampler = ProcessCpuUsage()
    sum(i * i for i in range(200_000))
    assert 0.0 <= sampler.sample() <= 1.0
    chosen = default_sampler()
    assert 0.0 <= chosen.sample() <= 1.0


def test_gpu_samplers_explain_a_missing_gpu() -> None:
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is present: TorchCudaUsage would work")
    with pytest.raises(RuntimeError, match="no CUDA GPU"):
        TorchCudaUsage()
    try:
        NvmlUsage().sample()
    except RuntimeError as e:
        assert "nvidia-ml-py" in str(e)


# --- Config, errors, misuse --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("capacity", 0),
        ("capacity", 1.5),
        ("default_hold_max_ms", 0.0),
        ("acquire_timeout_ms", -1.0),
        ("usage_high", 0.0),
        ("usage_high", 1.5),
        ("policy", "lifo"),
    ],
)
def test_config_rejects(field: str, value: object) -> None:
    with pytest.raises(ConfigError) as info:
        ArbiterConfig(**{field: value})
    assert info.value.field == field


def test_lease_rejected_round_trips() -> None:
    err = pickle.loads(pickle.dumps(LeaseRejected(INCIDENT_TEXT, "GPU_USAGE_HIGH", 5_000.0)))
    assert (str(err), err.state, err.waited_ms) == (INCIDENT_TEXT, "GPU_USAGE_HIGH", 5_000.0)


def test_core_rejects_time_going_backwards_and_bad_usage() -> None:
    arb = LeaseArbiter(ArbiterConfig())
    arb.tick(1_000)
    with pytest.raises(ValueError, match="backwards"):
        arb.tick(999)
    with pytest.raises(ValueError, match="usage"):
        arb.state(1_000, usage=1.2)
    with pytest.raises(ValueError, match="not waiting"):
        arb.poll(7, 1_000)


def test_the_usage_source_a_service_names_is_the_sampler_it_gets() -> None:
    """`ServiceSettings.usage` -> `usage.sampler_for`: off, scripted, and the workers' CPU,
    read from whatever pids the manager holds at each sample."""
    import subprocess
    import sys
    import time

    from asrlab.errors import ConfigError
    from asrlab.service.settings import ServiceSettings
    from asrlab.service.usage import ScriptedUsage, WorkersCpuUsage, sampler_for

    assert sampler_for("off", list) is None
    scripted = sampler_for("scripted:0.2,0.95", list)
    assert isinstance(scripted, ScriptedUsage) and [scripted.sample() for _ in range(3)] == [
        0.2, 0.95, 0.95
    ]  # fmt: skip
    spin = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    pids: list[int] = []
    try:
        cpu = sampler_for("cpu", lambda: pids)
        assert isinstance(cpu, WorkersCpuUsage) and cpu.sample() == 0.0  # no worker yet
        pids.append(spin.pid)
        cpu.sample()  # a new pid: its measurement starts here
        time.sleep(0.5)
        assert cpu.sample() > 0.2  # one core busy of at most a few
    finally:
        spin.kill()
    with pytest.raises(ValueError, match="usage source 'gpu'"):
        sampler_for("gpu", list)
    with pytest.raises(ConfigError, match="usage"):
        ServiceSettings(usage="gpu")
