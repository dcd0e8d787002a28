"""`simpy.Resource`'s grants, in its order, for less work: the clients and each worker.

A `simpy.Resource` request is an event object with a queue entry and two callbacks, and its
release another: 12 % of a simulation's time in a profile, the steps of their events aside.
`Slots` grants the same requests at the same event steps with plain events, and leaves out one
step: that of a request granted at once to a taker that goes on without waiting on it (`take`),
which SimPy schedules and then processes with nothing to run. A release still schedules the step
at which the head of the queue is looked at again, as SimPy's release event does: skipping it
when nobody is queued would move a grant when two releases and a queued request fall on one
instant.

tests/sim/test_slots.py holds it to `simpy.Resource` on random traffic.
"""

from __future__ import annotations

from collections import deque

import simpy


class Slots:
    """``capacity`` slots with a FIFO queue, as `simpy.Resource` (``Resource.request`` looks at
    the head of the queue only, once per request and once per processed release)."""

    def __init__(self, env: simpy.Environment, capacity: int) -> None:
        self.env, self.capacity = env, capacity
        self.users = 0  # slots held
        self.queue: deque[simpy.Event] = deque()  # waiting requests, head first

    def request(self) -> simpy.Event:
        """Ask for a slot, to yield on: an event triggered when the slot is granted (at once, it
        is scheduled now, and its taker resumes at the step SimPy's request resumes it)."""
        if not self.queue and self.users < self.capacity:
            self.users += 1
            return self.env.event().succeed()
        return self._wait()

    def take(self) -> simpy.Event | None:
        """Ask for a slot, going on at once if there is one: None, no event (nobody waits on
        it, so SimPy's would run nothing when processed). Else a pending event, as `request`."""
        if not self.queue and self.users < self.capacity:
            self.users += 1
            return None
        return self._wait()

    def cancel(self, request: simpy.Event) -> None:
        """A waiting request is given up (`simpy.resources.base.Put.cancel`)."""
        if not request.triggered:
            self.queue.remove(request)

    def release(self) -> None:
        """A slot is given back; the head of the queue is looked at when this step is processed
        (SimPy's release event)."""
        self.users -= 1
        step = self.env.event()
        step.callbacks.append(self._granted_on_release)
        step.succeed()

    def _wait(self) -> simpy.Event:
        request = self.env.event()
        self.queue.append(request)
        self._grant_head()  # SimPy looks at the head on every request (a release may be pending)
        return request

    def _granted_on_release(self, _: simpy.Event) -> None:
        self._grant_head()

    def _grant_head(self) -> None:
        if self.queue and self.users < self.capacity:
            self.users += 1
            self.queue.popleft().succeed()
