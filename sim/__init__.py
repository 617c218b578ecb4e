"""dialsim: simulate outbound calling campaigns and price them under every billing plan.

The public API, imported lazily so that ``import sim`` (and the rater) stay light and
never import simpy unless a simulation is run::

    scenario = sim.load_scenario("scenarios/baseline.toml", overrides={"agents.count": 20})
    result = sim.run(scenario, seed=1)          # CDRs, agent log, KPIs
    plans = sim.load_plans("scenarios/plans/china.toml")
    costs = sim.rate(result.cdrs, plans)        # exact charges per call and per plan
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import lazy_attributes

__version__ = "0.1.0"

# public name -> module that defines it
_LAZY: dict[str, str] = {
    "CDRFile": "cdrfile",
    "CDRFormatError": "errors",
    "CDRTable": "cdr",
    "CallMix": "analysis.breakeven",
    "Comparison": "variants",
    "Fit": "fit",
    "OutputExistsError": "errors",
    "PlanError": "errors",
    "Scenario": "scenario",
    "ScenarioError": "errors",
    "SimError": "errors",
    "SweepError": "errors",
    "audit": "audit",
    "breakeven_map": "analysis.breakeven",
    "compare": "variants",
    "cost_curve": "analysis.breakeven",
    "fit": "fit",
    "format_comparison": "billing",
    "independent_diff": "variants",
    "iter_cdrs": "cdrio",
    "load_plans": "billing",
    "load_scenario": "scenario",
    "negotiate": "decide.negotiate",
    "optimize": "decide.optimize",
    "paired_diff": "analysis.stats",
    "plans_from_dict": "billing",
    "quick": "scenario",
    "rate": "billing",
    "rate_chunks": "billing",
    "rate_run": "costing",
    "read_cdrs": "cdrio",
    "replicate": "experiment",
    "rounding_analysis": "analysis.rounding",
    "run": "model",
    "sweep": "sweeps",
    "write_cdrs": "cdrio",
    "write_report": "report",
}

__all__ = sorted([*_LAZY, "__version__"])


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, globals())


if TYPE_CHECKING:  # pragma: no cover
    from .analysis.breakeven import CallMix, breakeven_map, cost_curve
    from .analysis.rounding import rounding_analysis
    from .analysis.stats import paired_diff
    from .audit import audit
    from .billing import format_comparison, load_plans, plans_from_dict, rate, rate_chunks
    from .cdr import CDRTable
    from .cdrfile import CDRFile
    from .cdrio import iter_cdrs, read_cdrs, write_cdrs
    from .costing import rate_run
    from .decide.negotiate import negotiate
    from .decide.optimize import optimize
    from .errors import (
        CDRFormatError,
        OutputExistsError,
        PlanError,
        ScenarioError,
        SimError,
        SweepError,
    )
    from .experiment import replicate
    from .fit import Fit, fit
    from .model import run
    from .report import write_report
    from .scenario import Scenario, load_scenario, quick
    from .sweeps import sweep
    from .variants import Comparison, compare, independent_diff
