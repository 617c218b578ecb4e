"""Auditing a carrier's bill: match their CDRs with ours, re-rate, explain the difference.

::

    result = sim.audit(ours_cdrs, theirs_side, "plans.toml:contract")
    print(result.difference, [(c.cause, c.amount) for c in result.causes])

Modules: :mod:`.numbers` (dialled numbers to comparable keys), :mod:`.match` (clock
correction and one-to-one assignment), :mod:`.infer` (the carrier's tariff from its
charges), :mod:`.inputs` (sides, contract, charges), :mod:`.core` (re-rating and
attribution), :mod:`.files` (reading both sides, writing audit.json, disputes.csv and
audit.html), :mod:`.infer_only` (a charge list alone), :mod:`.synthetic` (test data).
Nothing here imports the simulation engine.
"""

from __future__ import annotations

import sys
import types
from typing import Any

from .core import CAUSES, METHOD, Audit, Cause, audit
from .errors import AuditError
from .infer import InferredTariff, PriceChange, infer_tariff, infer_with_change
from .inputs import Side, load_contract, parse_charges
from .match import Matching, match_calls
from .numbers import infer_country, normalise, number_keys

__all__ = [
    "CAUSES",
    "METHOD",
    "Audit",
    "AuditError",
    "Cause",
    "InferredTariff",
    "Matching",
    "PriceChange",
    "Side",
    "audit",
    "infer_country",
    "infer_tariff",
    "infer_with_change",
    "load_contract",
    "match_calls",
    "normalise",
    "number_keys",
    "parse_charges",
]


class _CallableModule(types.ModuleType):
    """``sim.audit`` is both this package and the function :func:`audit`: importing the
    package makes it the attribute ``sim.audit``, so the package calls the function."""

    def __call__(self, *args: Any, **kwargs: Any) -> Audit:
        return audit(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
