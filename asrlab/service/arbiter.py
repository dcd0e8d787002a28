"""The GPU lease arbiter: a pure state machine, the same code in the real service and the simulator.

In the incident job A held its lease past ``hold_max_ms``; the arbiter flipped to
``GPU_USAGE_HIGH`` and granted nothing more, so job B's acquire timed out with the text
``GPU lease timeout: GPU_USAGE_HIGH`` while the GPU was 27 % busy (docs/incident.md).
`LeaseArbiter` rebuilds that arbiter with four policies to compare (`POLICIES`). It never reads a
clock: every call takes ``now_ms``, so the real service (`asrlab.service.realtime`) and the SimPy
model (`asrlab.sim.core`) run the same code.

Units: times are milliseconds on the caller's clock; usage is the busy fraction of the device,
0..1.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import Literal

from asrlab.checks import Check, check_fields


class ArbiterPolicy(enum.StrEnum):
    """How the arbiter treats an overdue lease and a request it cannot grant (`LeaseArbiter`)."""

    INCIDENT = "incident"  # production's: nothing is granted while a lease is overdue
    REVOKE_OVERDUE = "revoke_overdue"  # an overdue lease is revoked (its job cancelled)
    DEADLINE_AWARE = "deadline_aware"  # refused at once when the wait would pass the deadline
    FIFO = "fifo"  # granted in order whenever a slot is free, overdue or not


POLICIES: tuple[str, ...] = tuple(p.value for p in ArbiterPolicy)
# The incident's arbiter: holdMaxMs (a lease held longer is overdue) and the acquire timeout.
INCIDENT_HOLD_MAX_MS = 20_000.0
INCIDENT_ACQUIRE_TIMEOUT_MS = 5_000.0
OVERDUE_REASON = "held past its hold_max_ms"  # why `tick` revoked a lease (revoke_overdue)


class State(str, enum.Enum):
    """Device pressure as the arbiter sees it."""

    NORMAL = "NORMAL"
    HIGH_PRESSURE = "HIGH_PRESSURE"  # every slot is leased, none overdue
    GPU_USAGE_HIGH = "GPU_USAGE_HIGH"  # a live lease is overdue, or sampled usage >= usage_high


def timeout_reason(state: State) -> str:
    """The client-visible text of an acquire that outlived ``acquire_timeout_ms`` in `state`."""
    return f"GPU lease timeout: {state.value}"


@dataclass(frozen=True)
class ArbiterConfig:
    """Parameters of the incident's arbiter (docs/design.md, "The arbiter").

    Attributes:
        capacity: leases held at once per device.
        default_hold_max_ms: a lease held longer than this (ms) is overdue, unless its request
            gave its own ``hold_max_ms``.
        acquire_timeout_ms: how long (ms) a caller may wait for a grant before it is told
            ``GPU lease timeout: <STATE>``.
        usage_high: sampled usage (0..1) at or above which the device counts as busy.
        policy: the `ArbiterPolicy` (its string is accepted, and held as the enum).
    """

    capacity: int = 1
    default_hold_max_ms: float = INCIDENT_HOLD_MAX_MS
    acquire_timeout_ms: float = INCIDENT_ACQUIRE_TIMEOUT_MS
    usage_high: float = 0.90
    policy: ArbiterPolicy = ArbiterPolicy.INCIDENT

    def __post_init__(self) -> None:
        checks: list[Check] = [
            ("capacity", self.capacity == int(self.capacity) >= 1, "must be a whole number >= 1"),
            ("default_hold_max_ms", self.default_hold_max_ms > 0, "must be > 0 ms"),
            ("acquire_timeout_ms", self.acquire_timeout_ms >= 0, "must be >= 0 ms"),
            ("usage_high", 0 < self.usage_high <= 1, "must be in (0, 1]"),
            ("policy", self.policy in POLICIES, f"unknown policy; choose one of {POLICIES}"),
        ]
        check_fields(self, checks)
        object.__setattr__(self, "policy", ArbiterPolicy(self.policy))


@dataclass(frozen=True)
class Lease:
    """One grant. ``token`` is a fencing token: strictly increasing over the arbiter's life."""

    token: int
    holder: str
    granted_ms: float
    hold_max_ms: float

    @property
    def due_ms(self) -> float:
        """Instant (ms) after which the lease is overdue."""
        return self.granted_ms + self.hold_max_ms


@dataclass(frozen=True)
class Decision:
    """Answer to a request or poll. ``ticket`` is set for a wait (poll with it); ``reason`` says
    why it was refused (client-visible text) or must wait (a `State` name or a sentence)."""

    status: Literal["granted", "wait", "refused"]
    lease: Lease | None = None
    ticket: int | None = None
    reason: str | None = None


@dataclass(frozen=True)
class Event:
    """One trace entry. ``kind`` is request, grant, wait, refuse, release, stale_release, revoke,
    cancel or state (then ``detail`` is the new state's name and ``holder`` is empty)."""

    t_ms: float
    kind: str
    token: int | None
    holder: str
    detail: str = ""


@dataclass(frozen=True)
class _Waiter:
    ticket: int
    holder: str
    hold_max_ms: float
    deadline_ms: float | None


class LeaseArbiter:
    """The lease state machine: pure (no clock, threads or sleeping) and deterministic.

    Policies: ``incident`` grants only when a slot is free and the state is not GPU_USAGE_HIGH,
    and never revokes, so one overdue lease blocks every grant until it is released.
    ``revoke_overdue`` is incident, but `tick`, `request` and `poll` first revoke (fence) every
    overdue lease. ``deadline_aware`` is incident, but a request whose ``deadline_ms`` cannot be
    met is refused at once (and at any later `poll`) instead of timing out. ``fifo`` grants
    whenever a slot is free; overdue leases and usage are reported, not obeyed.

    Under every policy only the head of the waiting queue can be granted (FIFO). Usage is
    sample-and-hold: a call without ``usage`` keeps the latest one given. Time must not go
    backwards. A state change is recorded in `events` when a call observes it.
    """

    def __init__(self, config: ArbiterConfig) -> None:
        self.config = config
        self.events: list[Event] = []
        self._live: dict[int, Lease] = {}  # token -> lease, in grant order
        self._waiters: dict[int, _Waiter] = {}  # ticket -> waiter, in arrival order
        self._next_token = 1
        self._next_ticket = 1
        self._now_ms = -math.inf
        self._usage: float | None = None
        self._state = State.NORMAL

    @property
    def live(self) -> tuple[Lease, ...]:
        """Live leases in grant order."""
        return tuple(self._live.values())

    @property
    def waiters(self) -> tuple[int, ...]:
        """Tickets of the waiting requests, head of the queue first."""
        return tuple(self._waiters)

    @property
    def next_token(self) -> int:
        """The token the next grant will carry."""
        return self._next_token

    def request(
        self,
        holder: str,
        now_ms: float,
        *,
        hold_max_ms: float | None = None,
        deadline_ms: float | None = None,
        usage: float | None = None,
    ) -> Decision:
        """Ask for a lease at ``now_ms``; ``deadline_ms`` is when the caller's job must be done."""
        hold = self.config.default_hold_max_ms if hold_max_ms is None else hold_max_ms
        if not hold > 0:
            raise ValueError(f"hold_max_ms must be > 0 ms, got {hold}")
        self._advance(now_ms, usage)
        self._revoke_overdue(now_ms)
        self._record(now_ms, "request", None, holder, f"hold_max_ms={hold:g}")
        waiter = _Waiter(self._next_ticket, holder, hold, deadline_ms)
        self._next_ticket += 1
        return self._decide(waiter, now_ms, queued=False)

    def poll(self, ticket: int, now_ms: float, *, usage: float | None = None) -> Decision:
        """Ask again for the waiting request ``ticket``."""
        if ticket not in self._waiters:
            raise ValueError(f"ticket {ticket} is not waiting (granted, refused or cancelled)")
        self._advance(now_ms, usage)
        self._revoke_overdue(now_ms)
        return self._decide(self._waiters[ticket], now_ms, queued=True)

    def cancel(self, ticket: int, now_ms: float) -> None:
        """A waiter gives up (its acquire timed out); an unknown ticket is ignored."""
        self._advance(now_ms, None)
        waiter = self._waiters.pop(ticket, None)
        if waiter is not None:
            self._record(now_ms, "cancel", None, waiter.holder, f"ticket {ticket}")

    def release(self, token: int, now_ms: float) -> bool:
        """End a live lease. A stale token (ended, or never issued) changes nothing: False."""
        return self._end(token, now_ms, "release", "") is not None

    def revoke(self, token: int, now_ms: float, reason: str) -> Lease | None:
        """Take a live lease away and fence its token; None (no change) for a stale token."""
        return self._end(token, now_ms, "revoke", reason)

    def tick(self, now_ms: float, *, usage: float | None = None) -> list[Lease]:
        """Advance time; under revoke_overdue revoke the overdue leases and return them."""
        self._advance(now_ms, usage)
        revoked = self._revoke_overdue(now_ms)
        self._observe(now_ms)
        return revoked

    def state(self, now_ms: float, *, usage: float | None = None) -> State:
        """The state at ``now_ms`` (recording a change, if any)."""
        self._advance(now_ms, usage)
        return self._observe(now_ms)

    def overdue(self, now_ms: float) -> list[Lease]:
        """Live leases held past their ``due_ms`` at ``now_ms``, in grant order."""
        return [lease for lease in self._live.values() if now_ms > lease.due_ms]

    def _advance(self, now_ms: float, usage: float | None) -> None:
        if not now_ms >= self._now_ms:  # also rejects NaN
            raise ValueError(f"time went backwards: now_ms={now_ms} < {self._now_ms}")
        if usage is not None and not 0 <= usage <= 1:
            raise ValueError(f"usage must be in [0, 1], got {usage}")
        self._now_ms = now_ms
        self._usage = self._usage if usage is None else usage

    def _observe(self, now_ms: float) -> State:
        busy = self._usage is not None and self._usage >= self.config.usage_high
        if busy or self.overdue(now_ms):
            state = State.GPU_USAGE_HIGH
        elif len(self._live) >= self.config.capacity:
            state = State.HIGH_PRESSURE
        else:
            state = State.NORMAL
        if state is not self._state:
            self._state = state
            self._record(now_ms, "state", None, "", state.value)
        return state

    def _decide(self, waiter: _Waiter, now_ms: float, *, queued: bool) -> Decision:
        ahead = list(self._waiters).index(waiter.ticket) if queued else len(self._waiters)
        state = self._observe(now_ms)
        free = len(self._live) < self.config.capacity
        blocked = state is State.GPU_USAGE_HIGH and self.config.policy != ArbiterPolicy.FIFO
        if ahead == 0 and free and not blocked:
            self._waiters.pop(waiter.ticket, None)
            return Decision("granted", lease=self._grant(waiter, now_ms))
        refusal = self._deadline_refusal(waiter, now_ms)
        if refusal is not None:
            self._waiters.pop(waiter.ticket, None)
            self._record(now_ms, "refuse", None, waiter.holder, refusal)
            return Decision("refused", reason=refusal)
        if ahead:
            reason = f"queued behind {ahead} earlier request(s)"
        elif self.config.policy == ArbiterPolicy.FIFO:
            reason = f"all {self.config.capacity} lease slot(s) are held"
        else:
            reason = state.value
        if not queued:
            self._waiters[waiter.ticket] = waiter
            self._record(now_ms, "wait", None, waiter.holder, reason)
        return Decision("wait", ticket=waiter.ticket, reason=reason)

    def _grant(self, waiter: _Waiter, now_ms: float) -> Lease:
        lease = Lease(self._next_token, waiter.holder, now_ms, waiter.hold_max_ms)
        self._next_token += 1
        self._live[lease.token] = lease
        self._record(now_ms, "grant", lease.token, lease.holder, f"ticket {waiter.ticket}")
        self._observe(now_ms)
        return lease

    def _deadline_refusal(self, waiter: _Waiter, now_ms: float) -> str | None:
        if self.config.policy != ArbiterPolicy.DEADLINE_AWARE or waiter.deadline_ms is None:
            return None
        remaining = waiter.deadline_ms - now_ms
        if self.overdue(now_ms):  # nothing says when an overdue lease ends: unbounded
            expected = math.inf
        elif len(self._live) >= self.config.capacity:
            expected = min(lease.due_ms for lease in self._live.values()) - now_ms
        else:  # a free slot blocked by the queue or by usage, neither of which can be forecast
            expected = 0.0
        if expected <= remaining:
            return None
        # What the client reads: "inf ms" says nothing a person can act on.
        wait = "unbounded (a lease is overdue)" if math.isinf(expected) else f"{expected:.0f} ms"
        return (
            f"GPU lease refused: expected wait {wait} exceeds the remaining "
            f"deadline {remaining:.0f} ms"
        )

    def _revoke_overdue(self, now_ms: float) -> list[Lease]:
        if self.config.policy != ArbiterPolicy.REVOKE_OVERDUE:
            return []
        revoked = self.overdue(now_ms)
        for lease in revoked:
            del self._live[lease.token]
            self._record(now_ms, "revoke", lease.token, lease.holder, OVERDUE_REASON)
        return revoked

    def _end(self, token: int, now_ms: float, kind: str, reason: str) -> Lease | None:
        self._advance(now_ms, None)
        lease = self._live.pop(token, None)
        if lease is None:
            known = "ended earlier" if 0 < token < self._next_token else "never issued"
            self._record(now_ms, "stale_release", token, "", f"{kind}: token {known}")
            return None
        self._record(now_ms, kind, token, lease.holder, reason)
        self._observe(now_ms)
        return lease

    def _record(self, t: float, kind: str, token: int | None, holder: str, detail: str) -> None:
        self.events.append(Event(t, kind, token, holder, detail))
