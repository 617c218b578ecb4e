"""Calibration: estimate a scenario of *your* campaign from its CDR export.

``sim.fit(cdrs)`` estimates the customer model — failed / busy shares, the pick-up
probability and ring-to-answer law by censored maximum likelihood (a no-answer call
only says the pick-up time exceeded how long the line rang), pick-up by attempt and
hour, talk time as a mixture of short calls and conversations mapped to a script,
machines (``answered_by``, else a joint ring/talk split admitted by a likelihood-ratio
test, :mod:`.machine`), retry delays, calendar, agents — and writes a commented
scenario whose every value names its source, sample size and 95 % CI, or says it
could not be identified::

    imp = sim.read_cdrs("Master.csv")
    f = sim.fit(imp.cdrs)
    print(f.toml)                       # the scenario, commented
    check = f.check(reps=5)             # re-simulated against the export
    print(check.table())
    f.write("fitted/", check=check)     # scenario.toml, fit.json, check.json, fit.html

The package never imports the simulator itself; the check runs it through ``sim.run``.
"""

from __future__ import annotations

import sys
import types
from typing import Any

from .core import Fit, fit
from .estimate import Estimate

__all__ = ["Estimate", "Fit", "fit"]


class _CallableModule(types.ModuleType):
    """``sim.fit`` is both this package and the function: importing a submodule
    (``sim.fit.synthetic``) binds the package as ``sim.fit``, so the package itself
    calls :func:`fit`."""

    def __call__(self, *args: Any, **kwargs: Any) -> Fit:
        return fit(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
