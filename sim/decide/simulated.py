"""Negotiating on a simulated campaign: indifference prices after a change, with CIs.

"If we end uninterested calls faster, what minute price should we ask for?" The
scenario (after the variant) is run on R seeds; every replication gives its own
current total and indifference prices, and their mean and Student-t interval are
reported. Bundle plans are sized on the replications' monthly billed minutes. With
uncertain inputs, :mod:`.uncertainty` says how sure the cheapest choice is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from fractions import Fraction
from typing import Any

from sim.analysis.stats import mean_ci
from sim.billing import Plan
from sim.scenario import Scenario

from .negotiate import Demand, billed_seconds, monthly_minutes, negotiate, size_bundle
from .uncertainty import days_to_be_sure, how_sure

__all__ = ["negotiate_simulated"]


def _mean(values: Sequence[Decimal], places: int) -> Decimal:
    """Exact mean rounded down to ``places`` decimals."""
    m = sum((Fraction(v) for v in values), Fraction(0)) / len(values)
    return Decimal(m.numerator * 10**places // m.denominator).scaleb(-places)


def _q(x: float, places: int) -> str:
    return f"{x:.{places}f}"


def negotiate_simulated(scenario: Scenario, plans: Sequence[Plan], current: str, *,
                        reps: int = 10, seed: int = 1, templates: Sequence[str] = (),
                        free: str | None = None, places: int = 6,
                        uncertain: Mapping[str, tuple[float, float]] | None = None,
                        samples: int = 20, fitted: Mapping[str, float] | None = None,
                        progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Indifference prices of every plan on ``reps`` replications of ``scenario``.

    Returns a JSON-able dict: ``current``, ``currency``, ``current_total`` (mean, decimal
    string), ``plans`` (each with ``indifference`` = mean over the replications where one
    exists, ``indifference_ci`` = {mean, low, high, n}, ``saving_at_listed`` mean),
    ``bundles`` and, with ``uncertain``, ``how_sure``; with ``fitted`` (the point
    estimates of a fit whose CIs are ``uncertain``) also ``more_days``: how much more data
    would make the choice safe at 95 % (:func:`.uncertainty.days_to_be_sure`).
    """
    from sim.costing import rate_run
    from sim.experiment import replication_seeds
    from sim.model import run

    seeds = replication_seeds(seed, reps)
    extra = samples * reps if uncertain else 0
    total_runs = reps + extra
    per_plan: dict[str, list[Any]] = {}
    currents: list[Decimal] = []
    monthly: dict[str, list[Fraction]] = {}
    currency = ""
    first = None
    for i, s in enumerate(seeds):
        result = run(scenario, seed=s)
        campaign = rate_run(scenario, result.cdrs, result.agents, plans[:1]).campaign
        neg = negotiate(result.cdrs, plans, current, templates=templates, free=free,
                        campaign=campaign, places=places)
        first = first or neg
        currency = neg.currency
        currents.append(neg.current_total)
        for p in neg.plans:
            per_plan.setdefault(p.plan, []).append(p)
        for plan in plans:
            if plan.bundle is not None and plan.currency == currency:
                monthly.setdefault(plan.name, []).append(
                    monthly_minutes(billed_seconds(result.cdrs, plan, campaign),
                                    campaign.days))
        if progress is not None:
            progress(i + 1, total_runs)
    assert first is not None
    rows = []
    for name, items in per_plan.items():
        found = [p.indifference for p in items if p.indifference is not None]
        savings = [p.saving_at_listed for p in items if p.saving_at_listed is not None]
        est = mean_ci([float(v) for v in found]) if found else None
        rows.append({
            "plan": name, "free": items[0].free,
            "listed": None if items[0].listed is None else str(items[0].listed),
            "indifference": str(_mean(found, places)) if found else None,
            "indifference_ci": None if est is None else {
                "mean": _q(est.mean, places), "low": _q(est.low, places),
                "high": _q(est.high, places), "n": len(found)},
            "saving_at_listed": str(_mean(savings, 2)) if savings else None,
            "note": "" if len(found) == len(items) else
                    f"no indifference price in {len(items) - len(found)} of {len(items)} "
                    f"replications: {next(p.note for p in items if p.indifference is None)}",
        })
    bundles = []
    for plan in plans:
        if plan.name in monthly and plan.bundle is not None:
            bundles.append(size_bundle(plan.bundle, Demand.from_samples(monthly[plan.name]),
                                       plan=plan.name).to_dict())
    cur_est = mean_ci([float(v) for v in currents])
    out: dict[str, Any] = {
        "current": current, "currency": currency,
        "current_total": str(_mean(currents, 2)),
        "current_total_ci": {"mean": _q(cur_est.mean, 2), "low": _q(cur_est.low, 2),
                             "high": _q(cur_est.high, 2), "n": reps},
        "seeds": seeds, "plans": rows, "bundles": bundles, "skipped": list(first.skipped)}
    if uncertain:
        done = [reps]

        def evaluate(inputs: Mapping[str, float], s: int) -> dict[str, Decimal]:
            sc = scenario.with_overrides(dict(inputs))
            res = run(sc, seed=s)
            rating = rate_run(sc, res.cdrs, res.agents, plans)
            done[0] += 1
            if progress is not None:
                progress(done[0], total_runs)
            return {p.name: rating.summary(p.name).total for p in plans
                    if p.currency == currency}

        hs = how_sure(evaluate, uncertain, samples=samples, seeds=seeds, reference=current,
                      sample_seed=seed)
        out["how_sure"] = {**hs.to_dict(), "uncertain": {k: list(v)
                                                         for k, v in uncertain.items()}}
        if fitted is not None:
            out["how_sure"]["more_days"] = days_to_be_sure(
                evaluate, uncertain, fitted, days=float(scenario.campaign.days),
                samples=samples, seeds=seeds, sample_seed=seed)
    return out
