"""The SimPy internals the engine relies on (pinned in pyproject.toml: simpy>=4.1,<4.2).

sim/model/engine.py and pacing.py skip ``Environment.schedule`` on the hot path: they
push ``(time, priority, next(env._eid), event)`` onto ``env._queue`` with heapq and read
``env._now``. If a SimPy release changes any of that, these tests fail with the reason,
before the simulation silently mis-orders events. Then: re-check the engine's pushes
against the new ``Environment.schedule`` and ``step``, and move the pin.
"""

from __future__ import annotations

import heapq
import itertools

import pytest
import simpy
from simpy.core import NORMAL

WHY = ("SimPy {version}: {what}. The dialsim engine pushes events onto "
       "Environment._queue directly (sim/model/engine.py, pacing.py); re-check it against "
       "this SimPy's Environment.schedule/step and update the pin in pyproject.toml.")


def _fail(what: str) -> None:
    pytest.fail(WHY.format(version=simpy.__version__, what=what))


def test_version_is_within_the_pin():
    major, minor = (int(x) for x in simpy.__version__.split(".")[:2])
    if (major, minor) != (4, 1):
        _fail("outside the tested range >=4.1,<4.2")


def test_private_attributes_exist_with_their_types():
    env = simpy.Environment(initial_time=5.0)
    for name in ("_queue", "_eid", "_now"):
        if not hasattr(env, name):
            _fail(f"Environment has no attribute {name}")
    if not isinstance(env._queue, list):
        _fail(f"Environment._queue is a {type(env._queue).__name__}, not a heap list")
    if not isinstance(env._eid, itertools.count):
        _fail(f"Environment._eid is a {type(env._eid).__name__}, not an itertools.count")
    if env._now != 5.0 or env.now != env._now:
        _fail("Environment._now is not the simulation clock")


def test_schedule_pushes_the_tuple_the_engine_pushes():
    env = simpy.Environment()
    ev = env.event()
    env.schedule(ev, NORMAL, 3.0)
    entry = env._queue[0]
    if not (isinstance(entry, tuple) and len(entry) == 4 and entry[0] == 3.0
            and entry[1] == NORMAL and isinstance(entry[2], int) and entry[3] is ev):
        _fail(f"schedule() pushed {entry!r}, not (time, priority, eid, event)")


def test_events_pushed_directly_run_in_time_then_id_order():
    env = simpy.Environment()
    seen: list[tuple[float, str]] = []
    for t, label in ((2.0, "b"), (1.0, "a"), (2.0, "c")):
        ev = env.event()
        ev._ok, ev._value = True, None
        ev.callbacks.append(lambda _e, t=t, label=label: seen.append((env._now, label)))
        heapq.heappush(env._queue, (t, NORMAL, next(env._eid), ev))
    env.run()
    if seen != [(1.0, "a"), (2.0, "b"), (2.0, "c")]:
        _fail(f"events pushed onto _queue ran as {seen}")
