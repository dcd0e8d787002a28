"""`LeaseArbiter` on a real clock, shared by the threads of a running service.

The pure state machine (`asrlab.service.arbiter`) decides; this wrapper gives it a clock, a lock,
blocking acquires with a timeout, a usage sampler (`asrlab.service.usage`) and a ticker that wakes
just after the earliest due so that overdue leases are noticed on time.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from collections.abc import Callable, Iterator

from asrlab.errors import LeaseRejected
from asrlab.service.arbiter import (
    OVERDUE_REASON,
    ArbiterConfig,
    Lease,
    LeaseArbiter,
    State,
    timeout_reason,
)
from asrlab.service.usage import UsageSampler

log = logging.getLogger(__name__)


class RealtimeArbiter:
    """`LeaseArbiter` on a real clock, shared by threads.

    Every call runs the core under one lock (`lock`, a `threading.Condition`; hold it to inspect
    `core` while other threads run). Waiters block on the condition and poll the core at least
    every ``poll_interval_s``; usage is sampled at most every ``sample_interval_s`` (the core holds
    the last sample in between); a ticker thread wakes just after the earliest ``due_ms`` so that
    overdue leases are noticed, and under revoke_overdue revoked, on time. ``on_revoke(lease,
    reason)`` is called outside the lock, so it may cancel the holder's job.
    """

    def __init__(
        self,
        config: ArbiterConfig,
        *,
        clock: Callable[[], float] = time.monotonic,
        sampler: UsageSampler | None = None,
        on_revoke: Callable[[Lease, str], None] | None = None,
        poll_interval_s: float = 0.05,
        sample_interval_s: float = 0.1,
    ) -> None:
        self.core = LeaseArbiter(config)
        self.lock = threading.Condition()
        self._clock = clock  # seconds
        self._sampler = sampler
        self._on_revoke = on_revoke
        self._poll_s = poll_interval_s
        self._sample_ms = sample_interval_s * 1000.0
        self._sampled_ms = -math.inf
        self._closed = False
        self._ticker = threading.Thread(target=self._run_ticker, name="lease-ticker", daemon=True)
        self._ticker.start()

    def __enter__(self) -> RealtimeArbiter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the ticker thread; idempotent."""
        with self.lock:
            self._closed = True
            self.lock.notify_all()
        self._ticker.join()

    @contextlib.contextmanager
    def lease(
        self, holder: str, *, hold_max_ms: float | None = None, deadline: float | None = None
    ) -> Iterator[Lease]:
        """``with arb.lease("job-1") as lease:`` acquires, and releases on every exit path."""
        granted = self.acquire(holder, hold_max_ms=hold_max_ms, deadline=deadline)
        try:
            yield granted
        finally:
            self.release(granted)

    def acquire(
        self, holder: str, *, hold_max_ms: float | None = None, deadline: float | None = None
    ) -> Lease:
        """Block up to ``acquire_timeout_ms`` for a lease; ``deadline`` is in clock seconds.

        Raises:
            LeaseRejected: the wait timed out (``GPU lease timeout: <STATE>``) or the policy
                refused at once.
        """
        revoked: list[Lease] = []  # by the ticks below; the holders are told outside the lock
        try:
            with self.lock:
                start = now = self._now_ms()
                revoked += self.core.tick(now, usage=self._sample(now))
                deadline_ms = None if deadline is None else deadline * 1000.0
                decision = self.core.request(
                    holder, now, hold_max_ms=hold_max_ms, deadline_ms=deadline_ms
                )
                give_up_ms = start + self.core.config.acquire_timeout_ms
                while decision.status == "wait" and decision.ticket is not None:
                    if now >= give_up_ms:
                        self.core.cancel(decision.ticket, now)
                        self.lock.notify_all()  # the head of the queue may have changed
                        state = self.core.state(now)
                        raise LeaseRejected(timeout_reason(state), state.value, now - start)
                    self.lock.wait(min(give_up_ms - now, self._poll_s * 1000.0) / 1000.0)
                    now = self._now_ms()
                    revoked += self.core.tick(now, usage=self._sample(now))
                    decision = self.core.poll(decision.ticket, now)
                if decision.lease is None:
                    state = self.core.state(now)
                    raise LeaseRejected(decision.reason or state.value, state.value, now - start)
                # The next waiter may now head the queue; the ticker has a new due to wait for.
                self.lock.notify_all()
                return decision.lease
        finally:
            self._notify_revoked(revoked)

    def release(self, lease: Lease) -> bool:
        """Release ``lease``; False if its token is stale (it was revoked, or released already)."""
        with self.lock:
            released = self.core.release(lease.token, self._now_ms())
            self.lock.notify_all()
            return released

    def state(self) -> State:
        """The state now (with a new usage sample if ``sample_interval_s`` has passed)."""
        with self.lock:
            now = self._now_ms()
            return self.core.state(now, usage=self._sample(now))

    def _now_ms(self) -> float:
        return self._clock() * 1000.0

    def _sample(self, now_ms: float) -> float | None:
        # Sampling at every call would hammer NVML, and psutil measuring over microseconds reads
        # 0 or 100 % per core; None makes the core hold the previous sample.
        if self._sampler is None or now_ms - self._sampled_ms < self._sample_ms:
            return None
        self._sampled_ms = now_ms
        return self._sampler.sample()

    def _notify_revoked(self, revoked: list[Lease]) -> None:
        if self._on_revoke is None:
            return
        for lease in revoked:
            try:
                self._on_revoke(lease, OVERDUE_REASON)
            except Exception:  # a failing callback must not leak an acquired lease or the ticker
                log.exception("on_revoke failed for lease %d", lease.token)

    def _run_ticker(self) -> None:
        while True:
            with self.lock:
                if self._closed:
                    return
                revoked = self.core.tick(self._now_ms())
                if revoked:
                    self.lock.notify_all()  # freed slots
            self._notify_revoked(revoked)
            with self.lock:
                # Overdue means now > due: wake 1 ms past the earliest due still ahead. A grant
                # notifies the ticker, so the 1 s cap only bounds an idle wait.
                now = self._now_ms()
                due = min((x.due_ms for x in self.core.live if x.due_ms >= now), default=math.inf)
                if not self._closed:
                    self.lock.wait(min(1.0, (due - now + 1.0) / 1000.0))
