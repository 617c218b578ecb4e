"""The figures a run's row holds, known before any run: ``--metric``, ``--objective`` and
``--constraint`` names are checked against them so that a misspelt name is an error at
once (with did-you-mean), not after an hour of simulation.

A row (:func:`sim.experiment.row_from_result`) holds every KPI
(:data:`sim.analysis.kpis.KPI_LABELS`), the dialer's statistics as ``dialer.<name>``,
and per priced plan ``<field>:<plan>``: the cost fields
(:data:`sim.experiment.COST_FIELDS`), ``traffic_fees`` and ``term.<term>`` /
``fired.<term>`` for a plan with traffic terms, ``tax`` for a plan with a tax rate.
The dialer's statistics depend on its mode (a predictive dialer reports its level
estimates, a ratio dialer its level), so ``dialer.<name>`` is accepted here and checked
against the runs' figures afterwards, as before.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from ..errors import SweepError

__all__ = ["check_metric", "check_metrics", "plan_fields"]


def plan_fields(plan: Any) -> list[str]:
    """The ``<field>`` names a row holds as ``<field>:<plan.name>`` for ``plan``."""
    from ..experiment import COST_FIELDS

    fields = list(COST_FIELDS)
    if plan.traffic_terms:
        fields.append("traffic_fees")
    if plan.contract.tax_rate:
        fields.append("tax")
    for term in plan.traffic_terms:
        fields += [f"term.{term.name}", f"fired.{term.name}"]
    return fields


def check_metric(what: str, name: str, plans: Sequence[Any], where: object) -> None:
    """Raise :class:`SweepError` unless ``name`` is a figure of a run priced under
    ``plans``. ``what`` opens the message (the option as given: ``--metric bogus``,
    ``--constraint bogus<=3``); ``where`` names where the plans come from."""
    from ..analysis.kpis import KPI_LABELS
    from ..experiment import COST_FIELDS
    from ..validate import did_you_mean, no_such_plan

    kpis = list(KPI_LABELS)
    head = what
    if name in kpis or (name.startswith("dialer.") and len(name) > len("dialer.")):
        return
    field, sep, plan = name.partition(":")
    if not sep:
        if any(field in plan_fields(p) for p in plans) or field in COST_FIELDS:
            example = f"{field}:{plans[0].name}" if plans else None
            raise SweepError(f"{head}: a plan figure needs its plan: {field}:PLAN"
                             + (f", e.g. {example}" if example else
                                "; but no plan is priced (give --plans or billing.plans)"))
        raise SweepError(f"{head}: no such figure{did_you_mean(name, kpis)}; the KPIs: "
                         f"{', '.join(kpis)}; plan figures are FIELD:PLAN with FIELD one "
                         f"of {', '.join(COST_FIELDS)}; dialer statistics dialer.NAME")
    by_name = {p.name: p for p in plans}
    if plan not in by_name:
        if not plans:
            raise SweepError(f"{head}: no plan is priced (give --plans or billing.plans)")
        raise SweepError(no_such_plan(f"{head}: plan", plan, by_name, where))
    fields = plan_fields(by_name[plan])
    if field not in fields:
        raise SweepError(f"{head}: plan {plan!r} has no figure {field!r}"
                         f"{did_you_mean(field, fields)}; its figures: {', '.join(fields)}")


def check_metrics(option: str, names: Iterable[str], plans: Sequence[Any],
                  where: object) -> None:
    """:func:`check_metric` for each of ``names``, given as ``option NAME``."""
    for name in names:
        check_metric(f"{option} {name}", name, plans, where)
