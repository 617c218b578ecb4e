"""A plan's terms in one line: what a call costs, as a buyer would read it.

``describe_tariff(plan)`` joins the clauses of :data:`CLAUSES` that apply, e.g.
``0.10/min 1/1 + 0.05 connect``, ``0.20 per connected call > 3 s``, ``0.08 per dial``,
``bundle 50,000 min for 10,000, then 0.20/min 60/60``. Amounts are written exactly as
in the plan file (Decimals keep their places), with thousands separators.

To describe a new kind of term, write one function ``clause(plan) -> str | None``
(None when the plan does not have that term) and append it to :data:`CLAUSES`; the
first clause that returns text starts the line, the others follow after ``" + "`` or
``", "`` as they return them (a clause starting with ``", "`` is appended as is).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .plans import Plan, Step

__all__ = ["CLAUSES", "bills_time", "describe_tariff"]


def _d(x: Decimal) -> str:
    """A Decimal as written, with thousands separators (``10,000``, ``0.20``)."""
    return f"{x:,}" if x == x.to_integral_value() or abs(x) >= 1000 else str(x)


def bills_time(plan: Plan) -> bool:
    """True when the plan's charge depends on talk time (a per-minute price somewhere,
    a bundle, or per-destination minute prices)."""
    if plan.bundle is not None or plan.contract.tiers:
        return True
    if any(s.price != 0 for s in plan.steps):
        return True
    for d in plan.destinations:
        if d.price_per_min not in (None, Decimal(0)):
            return True
        if d.steps and any(s.price != 0 for s in d.steps):
            return True
    return False


def _steps_text(steps: tuple[Step, ...]) -> str:
    parts = []
    for i, s in enumerate(steps):
        per = "min" if s.unit_s == 60 else f"{s.unit_s} s"
        upto = f"{s.from_s}-{steps[i + 1].from_s} s" if i + 1 < len(steps) else f"{s.from_s} s+"
        parts.append(f"{upto}: {_d(s.price)}/{per} by {s.increment_s} s")
    return "; ".join(parts)


def _time(plan: Plan) -> str | None:
    c = plan.contract
    if c.tiers and not any(s.price != 0 for s in plan.steps):
        prices = "/".join(_d(t.price_per_min) for t in c.tiers)
        inc = f" {plan.increments}" if plan.increments else ""
        return f"{c.tier_mode.replace('_', '-')} volume tiers {prices}/min{inc}"
    if plan.bundle is not None:
        b = plan.bundle
        inc = f" {plan.increments}" if plan.increments else ""
        return (f"bundle {b.minutes:,} min for {_d(b.price)}, "
                f"then {_d(b.overage_per_min)}/min{inc}")
    if not bills_time(plan) and not plan.destinations:
        return None
    if plan.increments is not None and plan.price_per_min is not None:
        return f"{_d(plan.price_per_min)}/min {plan.increments}"
    return _steps_text(plan.steps)


def _connect(plan: Plan) -> str | None:
    if plan.connect_fee == 0:
        return None
    if bills_time(plan):
        return f"{_d(plan.connect_fee)} connect"
    over = f" > {plan.no_charge_under_s} s" if plan.no_charge_under_s else ""
    return f"{_d(plan.connect_fee)} per connected call{over}"


def _attempt(plan: Plan) -> str | None:
    return None if plan.per_attempt_fee == 0 else f"{_d(plan.per_attempt_fee)} per dial"


def _free_short(plan: Plan) -> str | None:
    if not plan.no_charge_under_s or (plan.connect_fee and not bills_time(plan)):
        return None
    return f", calls ≤ {plan.no_charge_under_s} s free"


def _included(plan: Plan) -> str | None:
    return f", first {plan.included_s} s free" if plan.included_s else None


def _limits(plan: Plan) -> str | None:
    out = ""
    if plan.min_cost:
        out += f", min {_d(plan.min_cost)}"
    if plan.max_cost is not None:
        out += f", max {_d(plan.max_cost)}"
    return out or None


def _legs(plan: Plan) -> str | None:
    return f", × {plan.legs} legs" if plan.legs > 1 else None


def _bands(plan: Plan) -> str | None:
    if not plan.bands:
        return None
    return ", " + ", ".join(f"{b.name} ×{b.factor}" for b in plan.bands)


def _destinations(plan: Plan) -> str | None:
    n = len(plan.destinations)
    return None if not n else f", {n} destination price{'s' if n > 1 else ''}"


def _contract(plan: Plan) -> str | None:
    c = plan.contract
    out = []
    if c.min_monthly:
        out.append(f"min spend {_d(c.min_monthly)}/mo")
    if c.tax_rate:
        out.append(f"tax {_d((c.tax_rate * 100).normalize())} %")
    if plan.traffic_terms:
        n = len(plan.traffic_terms)
        out.append(f"{n} traffic term{'s' if n > 1 else ''}")
    return " + ".join(out) or None


def _rent(plan: Plan) -> str | None:
    out = []
    if plan.seat_per_month:
        out.append(f"seat {_d(plan.seat_per_month)}/mo")
    if plan.channel_tiers:
        t = plan.channel_tiers
        out.append(f"channel {_d(t[0].price_per_month)}/mo"
                   + (f" ({len(t)} tiers)" if len(t) > 1 else ""))
    if plan.number_per_month:
        out.append(f"number {_d(plan.number_per_month)}/mo")
    return " + ".join(out) or None


#: The clauses of a tariff line, in order (see the module docstring to add one).
CLAUSES: list[Callable[[Plan], str | None]] = [
    _time, _connect, _attempt, _free_short, _included, _limits, _legs, _bands,
    _destinations, _rent, _contract,
]


def describe_tariff(plan: Plan) -> str:
    """The plan's call terms in one line (``"free"`` when nothing is charged)."""
    text = ""
    for clause in CLAUSES:
        part = clause(plan)
        if not part:
            continue
        if not text:
            text = part.removeprefix(", ")
        elif part.startswith(", "):
            text += part
        else:
            text += " + " + part
    return text or "free"
