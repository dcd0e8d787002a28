"""`Slots` grants as `simpy.Resource` does, at the same steps: random traffic on whole seconds
(so that many things happen at one instant, where the order of steps shows), run on both."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
import simpy

from asrlab.sim.slots import Slots


class _Resource:
    """`simpy.Resource` used as the simulator used it before `Slots`."""

    def __init__(self, env: simpy.Environment, capacity: int) -> None:
        self.resource = simpy.Resource(env, capacity=capacity)
        self.held: list[Any] = []

    def request(self) -> simpy.Event:
        request = self.resource.request()
        self.held.append(request)
        return request

    def take(self) -> simpy.Event | None:
        request = self.request()
        return None if request.triggered else request

    def cancel(self, request: Any) -> None:
        request.cancel()
        self.held.remove(request)

    def release(self) -> None:
        # Whichever granted request: the grants' order is what is compared, not their holders.
        granted = next(r for r in self.held if r.triggered)
        self.held.remove(granted)
        self.resource.release(granted)


def _traffic(make: Callable[[simpy.Environment, int], Any], seed: int, capacity: int) -> list:
    """Callers that wait (clients), callers that go on or give up (workers), releases from
    callbacks (a killed worker's respawn), all on whole seconds; what happened, in order."""
    env = simpy.Environment()
    slots = make(env, capacity)
    rng = np.random.default_rng(seed)
    log: list[tuple[float, int, str]] = []

    def waiter(k: int, hold_s: int) -> Iterator[simpy.Event]:
        yield slots.request()
        log.append((env.now, k, "got"))
        yield env.timeout(hold_s)
        slots.release()

    def patient(k: int, hold_s: int, patience_s: int, by_callback: bool) -> Iterator[simpy.Event]:
        slot = slots.take()
        if slot is not None:
            yield env.any_of([slot, env.timeout(patience_s)])
            if not slot.triggered:
                slots.cancel(slot)
                log.append((env.now, k, "gave up"))
                return
        log.append((env.now, k, "got"))
        if by_callback:
            env.timeout(hold_s).callbacks.append(lambda _: slots.release())
            log.append((env.now, k, "left"))
        else:
            yield env.timeout(hold_s)
            slots.release()

    def arrivals() -> Iterator[simpy.Event]:
        for k in range(300):
            yield env.timeout(int(rng.integers(0, 2)))
            hold = int(rng.integers(0, 4))
            if rng.random() < 0.5:
                env.process(waiter(k, hold))
            else:
                env.process(patient(k, hold, int(rng.integers(0, 3)), bool(rng.random() < 0.3)))

    env.process(arrivals())
    env.run()
    return log


@pytest.mark.parametrize("capacity", [1, 2, 5])
def test_slots_grant_as_simpy_resource_does(capacity: int) -> None:
    seen = set()
    for seed in range(8):
        got = _traffic(Slots, seed, capacity)
        assert got == _traffic(_Resource, seed, capacity), seed
        seen |= {what for _, _, what in got}
    assert seen == {"got", "gave up", "left"}  # every path taken
