"""Negotiating a price: at what price would another offer cost what we pay now?

A buyer who knows this campaign's calls and what the current plan charges for them asks
each other provider's offer one question: *at what minute price (or connection fee, or
per-dial fee, or bundle price) would you cost exactly what we pay today?* That is the
indifference price. Below it the offer saves money on these calls; the saving at the
listed price says how much today.

A plan's total is a non-decreasing function of any one of its prices, but with per-call
rounding (say, up to the cent) it is a staircase, not a line. The indifference price is
therefore defined on a price grid of ``10**-places`` currency units: the largest grid
price at which the plan's total, rated exactly as the plan rates (rounding, minimum and
maximum charges, bundles and fees included), does not exceed the current total. It is
found by bisection on the exact rater — every probe is an exact Decimal total — started
from the linear solution, which is also reported: where rounding does not bite, the
total is ``a + b·price`` and the exact indifference price is ``(T - a) / b`` (for a
per-minute plan without fees, T ÷ the plan's billed minutes; VALIDATION.md).

Bundle sizing is a newsvendor problem: a bundle of Q minutes costs ``c`` per minute
whether used or not (unused minutes expire), minutes beyond it cost the overage price
``o``. The expected cost ``c·Q + o·E[(D - Q)+]`` over the uncertain monthly demand D is
smallest at the critical fractile, ``F(Q*) = (o - c) / o``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from sim.billing import CampaignInfo, Plan, rate
from sim.billing.fees import DAYS_PER_MONTH
from sim.billing.plans import Bundle, Step, shorthand_steps
from sim.cdr import CDRTable
from sim.errors import PlanError

__all__ = [
    "FREE_KEYS",
    "TEMPLATES",
    "BundleSizing",
    "Demand",
    "Indifference",
    "Negotiation",
    "default_free",
    "indifference_price",
    "negotiate",
    "plan_total",
    "size_bundle",
    "template_plan",
    "with_price",
]

#: Prices that can be left free, and what each means.
FREE_KEYS: dict[str, str] = {
    "price_per_min": "price per minute (all steps in proportion for a stepped tariff)",
    "connect_fee": "fee per answered call",
    "per_attempt_fee": "fee per dial attempt",
    "min_cost": "minimum charge per call",
    "bundle_price": "monthly price of the minute bundle",
    "overage_per_min": "bundle overage price per minute",
}

#: Offer shapes to ask a provider for (``--template``): increments only, price free.
TEMPLATES: tuple[str, ...] = ("1/1", "6/6", "30/6", "60/1", "60/60")

#: Largest price the search will consider before calling an offer cheaper at any price.
_PRICE_CEILING = Fraction(10**9)


def default_free(plan: Plan) -> str:
    """The price a buyer would negotiate on this plan: what it bills most by."""
    if plan.contract.tiers:
        raise PlanError(f"plan {plan.name!r}: priced by volume tiers; negotiating tier "
                        "prices is not supported (give --free connect_fee or another key)")
    if plan.bundle is not None:
        return "bundle_price"
    if any(s.price > 0 for s in plan.steps):
        return "price_per_min"
    if plan.connect_fee > 0:
        return "connect_fee"
    if plan.per_attempt_fee > 0:
        return "per_attempt_fee"
    return "price_per_min"


def listed_price(plan: Plan, free: str) -> Decimal:
    """The plan's own value of the free price (currency)."""
    if free == "price_per_min":
        if plan.price_per_min is not None:
            return plan.price_per_min
        return _lead_price(plan.steps)
    if free in ("bundle_price", "overage_per_min"):
        if plan.bundle is None:
            raise PlanError(f"plan {plan.name!r}: --free {free} needs a bundle plan")
        return plan.bundle.price if free == "bundle_price" else plan.bundle.overage_per_min
    if free in FREE_KEYS:
        return Decimal(getattr(plan, free))
    raise PlanError(f"--free: must be one of {', '.join(FREE_KEYS)} (got {free!r})")


def _lead_price(steps: tuple[Step, ...]) -> Decimal:
    """The price a stepped tariff is quoted by: its first step with a price (a free
    first segment, "first 10 s free", is not the price)."""
    return next((st.price for st in steps if st.price > 0), Decimal(0))


#: Decimal places of a stepped tariff's other steps when scaled to a negotiated price.
SCALED_PLACES = 12


def _scaled_steps(steps: tuple[Step, ...], factor: Fraction) -> tuple[Step, ...]:
    """Steps with every price multiplied by ``factor``, each rounded half up to
    :data:`SCALED_PLACES` decimals when the product has no finite decimal form."""
    out = []
    for st in steps:
        value = Fraction(st.price) * factor
        price = _decimal(value)
        if price is None:
            units = value.numerator * 10**SCALED_PLACES * 2 + value.denominator
            price = Decimal(units // (2 * value.denominator)).scaleb(-SCALED_PLACES)
        out.append(dataclasses.replace(st, price=price))
    return tuple(out)


def _decimal(value: Fraction) -> Decimal | None:
    """``value`` as an exact Decimal, or None when it has no finite decimal form."""
    d = value.denominator
    twos = fives = 0
    while d % 2 == 0:
        d //= 2
        twos += 1
    while d % 5 == 0:
        d //= 5
        fives += 1
    if d != 1:
        return None
    places = max(twos, fives)
    return Decimal(value.numerator * 10**places // value.denominator).scaleb(-places)


def with_price(plan: Plan, free: str, price: Decimal) -> Plan:
    """A copy of ``plan`` with its ``free`` price set to ``price`` (currency)."""
    if price < 0:
        raise PlanError(f"plan {plan.name!r}: {free} must be >= 0 (got {price})")
    if free == "price_per_min":
        if plan.bundle is not None:
            raise PlanError(f"plan {plan.name!r}: a bundle plan prices minutes by its bundle; "
                            "use --free bundle_price or overage_per_min")
        if plan.increments is not None and plan.price_per_min is not None:
            x, y = (int(v) for v in plan.increments.split("/"))
            return dataclasses.replace(plan, price_per_min=price,
                                       steps=shorthand_steps(price, x, y))
        lead = _lead_price(plan.steps)
        if lead == 0:  # a tariff with no price yet: every step at the price
            steps = tuple(dataclasses.replace(st, price=price) for st in plan.steps)
        else:  # the quoted step at the price, the others (free ones stay free) in proportion
            steps = _scaled_steps(plan.steps, Fraction(price) / Fraction(lead))
        return dataclasses.replace(plan, steps=steps)
    if free in ("bundle_price", "overage_per_min"):
        if plan.bundle is None:
            raise PlanError(f"plan {plan.name!r}: --free {free} needs a bundle plan")
        key = "price" if free == "bundle_price" else "overage_per_min"
        return dataclasses.replace(plan, bundle=dataclasses.replace(plan.bundle, **{key: price}))
    if free in FREE_KEYS:
        return dataclasses.replace(plan, **{free: price})
    raise PlanError(f"--free: must be one of {', '.join(FREE_KEYS)} (got {free!r})")


def template_plan(increments: str, currency: str, *, decimals: int = 4) -> Plan:
    """A per-minute offer with ``increments`` ("X/Y") and its price left to negotiate."""
    try:
        x, y = (int(v) for v in increments.split("/"))
    except ValueError:
        x = y = 0
    if x < 1 or y < 1:
        raise PlanError(f"--template: must be increments \"X/Y\" like \"6/6\" (got "
                        f"{increments!r})")
    from sim.billing.plans import Rounding

    price = Decimal("0.1")
    return Plan(name=f"template {x}/{y}", currency=currency, increments=f"{x}/{y}",
                price_per_min=price, steps=shorthand_steps(price, x, y),
                description=f"{x}/{y} at a negotiated price",
                rounding=Rounding(decimals=decimals, method="half_up"))


def plan_total(cdrs: CDRTable, plan: Plan, campaign: CampaignInfo) -> Decimal:
    """The plan's exact total (telecom + prorated fees) on these calls."""
    return rate(cdrs, [plan], campaign=campaign).summary(plan.name).total


@dataclass(frozen=True, slots=True, kw_only=True)
class Indifference:
    """One offer's indifference price against the current total.

    Attributes
    ----------
    plan, free
        The offer and the price left free (a key of :data:`FREE_KEYS`).
    listed
        The offer's own value of that price (None for a template).
    indifference
        Largest price on the ``10**-places`` grid at which the offer costs no more than
        the current plan; None when none (fixed costs alone exceed it) or when any price
        will do (``note`` says which).
    exact
        The linear solution ``(T - a) / b`` as a Fraction (exact where rounding does not
        bite); None when the total does not depend on the price.
    total_at_listed, saving_at_listed
        The offer's total at its listed price and the current total minus it.
    """

    plan: str
    free: str
    listed: Decimal | None
    indifference: Decimal | None
    exact: Fraction | None
    total_at_listed: Decimal | None
    saving_at_listed: Decimal | None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        def s(v: Decimal | None) -> str | None:
            return None if v is None else str(v)

        return {"plan": self.plan, "free": self.free, "listed": s(self.listed),
                "indifference": s(self.indifference),
                "exact": None if self.exact is None else f"{self.exact.numerator}/"
                                                         f"{self.exact.denominator}",
                "total_at_listed": s(self.total_at_listed),
                "saving_at_listed": s(self.saving_at_listed), "note": self.note}


def indifference_price(cdrs: CDRTable, plan: Plan, target: Decimal, *, free: str | None = None,
                       campaign: CampaignInfo | None = None, places: int = 6,
                       listed: bool = True) -> Indifference:
    """The price of ``plan``'s ``free`` term at which it costs ``target`` on ``cdrs``.

    Parameters
    ----------
    cdrs
        The calls (answered by disposition; billed from billsec).
    plan
        The offer.
    target
        The current total to match (currency).
    free
        Which price is free (default :func:`default_free`).
    campaign
        Campaign facts for plan-level fees (default: estimated from the CDRs).
    places
        Decimal places of the price grid (6: a millionth of the currency).
    listed
        Report the saving at the plan's own price (False for templates).
    """
    free = free or default_free(plan)
    campaign = campaign or CampaignInfo.from_cdrs(cdrs)
    own = listed_price(plan, free)
    step = Fraction(1, 10**places)

    def total(price: Fraction) -> Decimal:
        return plan_total(cdrs, with_price(plan, free, _grid(price, places)), campaign)

    at_listed = plan_total(cdrs, plan, campaign) if listed else None
    saving = None if at_listed is None else target - at_listed
    t0 = total(Fraction(0))
    slope = _slope(cdrs, plan, free, campaign)
    exact = None if slope == 0 else (Fraction(target) - Fraction(t0)) / slope
    common = dict(plan=plan.name, free=free, listed=own if listed else None, exact=exact,
                  total_at_listed=at_listed, saving_at_listed=saving)
    if t0 > target:
        return Indifference(indifference=None, note="costs more than the current plan even "
                            f"at {free} = 0 (its other charges alone)", **common)
    # Bracket: f(lo) <= target < f(hi), on grid points.
    lo = Fraction(0)
    hi = max(step, (exact if exact is not None and exact > 0 else Fraction(1))
             * Fraction(11, 10) + step)
    while total(hi) <= target:
        lo, hi = hi, hi * 2
        if hi > _PRICE_CEILING:
            return Indifference(indifference=None, note="costs no more than the current plan "
                                "at any price (its total does not grow with the price)",
                                **common)
    k_lo, k_hi = int(lo / step), math.ceil(hi / step)
    while k_hi - k_lo > 1:  # invariant: f(k_lo·step) <= target < f(k_hi·step)
        mid = (k_lo + k_hi) // 2
        if total(mid * step) <= target:
            k_lo = mid
        else:
            k_hi = mid
    return Indifference(indifference=_grid(k_lo * step, places), **common)


def _telecom_exact(cdrs: CDRTable, plan: Plan, campaign: CampaignInfo) -> Fraction:
    """The plan's call charges summed without rounding (rated per invoice)."""
    exact = dataclasses.replace(plan, rounding=dataclasses.replace(plan.rounding,
                                                                   per="invoice"))
    pc = rate(cdrs, [exact], campaign=campaign).per_call(plan.name)
    return Fraction(pc.units_total, pc.den)


def _slope(cdrs: CDRTable, plan: Plan, free: str, campaign: CampaignInfo) -> Fraction:
    """d total / d price before any rounding (exactly linear without min/max charges)."""
    if free == "bundle_price":
        return campaign.months
    if free == "overage_per_min":
        assert plan.bundle is not None
        allowance_s = plan.bundle.minutes * 60 * campaign.months
        billed = billed_seconds(cdrs, plan, campaign)
        return max(Fraction(0), billed - allowance_s) / 60
    return (_telecom_exact(cdrs, with_price(plan, free, Decimal(1)), campaign)
            - _telecom_exact(cdrs, with_price(plan, free, Decimal(0)), campaign))


def _grid(price: Fraction, places: int) -> Decimal:
    """``price`` rounded down to ``places`` decimals, as an exact Decimal."""
    units = price.numerator * 10**places // price.denominator
    value = Decimal(units).scaleb(-places)
    if not units:
        return Decimal(0)
    trimmed = value.normalize()  # 0.187000 -> 0.187, but 1E+3 -> 1000 (no exponent)
    return trimmed if trimmed.as_tuple().exponent <= 0 else trimmed.quantize(Decimal(1))


@dataclass(frozen=True, slots=True, kw_only=True)
class Negotiation:
    """The current plan's total and every other offer's indifference price."""

    current: str
    currency: str
    current_total: Decimal
    plans: tuple[Indifference, ...]
    skipped: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"current": self.current, "currency": self.currency,
                "current_total": str(self.current_total),
                "plans": [p.to_dict() for p in self.plans], "skipped": list(self.skipped)}

    def to_pandas(self) -> Any:
        import pandas as pd

        return pd.DataFrame([p.to_dict() for p in self.plans])


def negotiate(cdrs: CDRTable, plans: Sequence[Plan], current: str, *,
              templates: Sequence[str] = (), free: str | None = None,
              campaign: CampaignInfo | None = None, places: int = 6) -> Negotiation:
    """Indifference prices of every plan (and template) against plan ``current``.

    Parameters
    ----------
    cdrs
        The calls.
    plans
        The offers, ``current`` among them.
    current
        Name of the plan in force.
    templates
        Increments ("6/6", ...) of offers to ask for at a free minute price.
    free
        The price left free in every offer (default: each plan's :func:`default_free`).
    campaign
        Campaign facts for plan-level fees (default: estimated from the CDRs).
    places
        Decimal places of the price grid.

    Raises
    ------
    PlanError
        ``current`` is not among ``plans``, or a free price does not apply to a plan.
    """
    by_name = {p.name: p for p in plans}
    if current not in by_name:
        from ..validate import no_such_plan

        raise PlanError(no_such_plan("--current", current, by_name))
    campaign = campaign or CampaignInfo.from_cdrs(cdrs)
    base = by_name[current]
    target = plan_total(cdrs, base, campaign)
    out: list[Indifference] = []
    skipped: list[str] = []
    for plan in plans:
        if plan.name == current:
            continue
        if plan.currency != base.currency:
            skipped.append(f"{plan.name}: bills in {plan.currency}, the current plan in "
                           f"{base.currency}")
            continue
        try:  # one offer that cannot be negotiated this way must not stop the others
            key = free or default_free(plan)
            out.append(indifference_price(cdrs, plan, target, free=key, campaign=campaign,
                                          places=places))
        except PlanError as exc:
            skipped.append(f"{plan.name}: {exc}")
    for inc in templates:
        tpl = template_plan(inc, base.currency, decimals=max(base.rounding.decimals, 4))
        out.append(indifference_price(cdrs, tpl, target, free="price_per_min",
                                      campaign=campaign, places=places, listed=False))
    return Negotiation(current=current, currency=base.currency, current_total=target,
                       plans=tuple(out), skipped=tuple(skipped))


# -- bundle sizing ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Demand:
    """Uncertain monthly demand for billed minutes: equally likely samples, or a uniform
    law on ``[low, high]``.

    ``samples`` (minutes per month, e.g. from replications scaled to a month) or
    ``low``/``high`` (e.g. the observed volume ± X %).
    """

    samples: tuple[Fraction, ...] = ()
    low: Fraction | None = None
    high: Fraction | None = None

    @classmethod
    def from_samples(cls, minutes: Sequence[float | Fraction | Decimal]) -> Demand:
        if not minutes:
            raise ValueError("Demand: needs at least one sample")
        return cls(samples=tuple(sorted(Fraction(m) for m in minutes)))

    @classmethod
    def plus_minus(cls, minutes: float | Fraction | Decimal, share: float | Decimal) -> Demand:
        m, x = Fraction(minutes), Fraction(share)
        if m < 0 or not 0 <= x < 1:
            raise ValueError(f"Demand: needs minutes >= 0 and 0 <= share < 1 (got {m}, {x})")
        return cls(low=m * (1 - x), high=m * (1 + x))

    def quantile(self, q: Fraction) -> Fraction:
        """The smallest Q with P(D <= Q) >= q."""
        if self.samples:
            n = len(self.samples)
            k = max(1, math.ceil(q * n))
            return self.samples[k - 1]
        assert self.low is not None and self.high is not None
        return self.low + q * (self.high - self.low)

    def expected_excess(self, q: Fraction) -> Fraction:
        """E[(D - q)+], minutes."""
        if self.samples:
            return sum((max(Fraction(0), d - q) for d in self.samples), Fraction(0)) \
                / len(self.samples)
        assert self.low is not None and self.high is not None
        a, b = self.low, self.high
        if q >= b:
            return Fraction(0)
        if q <= a or a == b:
            return (a + b) / 2 - q
        return (b - q) ** 2 / (2 * (b - a))

    @property
    def mean(self) -> Fraction:
        """E[D], minutes (demand is never negative, so E[(D - 0)+])."""
        return self.expected_excess(Fraction(0))


@dataclass(frozen=True, slots=True, kw_only=True)
class BundleSizing:
    """The bundle size that minimises expected monthly cost, against the plan's own.

    Money per month in the plan's currency (exact), minutes per month.
    """

    plan: str
    price_per_min: Fraction
    overage_per_min: Decimal
    fractile: Fraction
    best_minutes: int
    best_cost: Fraction
    current_minutes: int
    current_cost: Fraction
    mean_demand_min: Fraction

    def to_dict(self) -> dict[str, Any]:
        def money(v: Fraction) -> str:
            return f"{Decimal(v.numerator * 100 // v.denominator).scaleb(-2):f}"

        return {"plan": self.plan, "bundle_price_per_min": str(_grid(self.price_per_min, 6)),
                "overage_per_min": str(self.overage_per_min),
                "critical_fractile": float(self.fractile),
                "best_minutes": self.best_minutes, "best_expected_cost": money(self.best_cost),
                "current_minutes": self.current_minutes,
                "current_expected_cost": money(self.current_cost),
                "mean_demand_min": float(self.mean_demand_min)}


def expected_bundle_cost(minutes: int, price_per_min: Fraction, overage: Fraction,
                         demand: Demand) -> Fraction:
    """``c·Q + o·E[(D - Q)+]`` for a bundle of ``minutes`` (exact)."""
    return price_per_min * minutes + overage * demand.expected_excess(Fraction(minutes))


def size_bundle(bundle: Bundle, demand: Demand, *, plan: str = "") -> BundleSizing:
    """The critical-fractile bundle size for ``demand``, at the bundle's price per minute.

    The bundle is assumed to scale: Q minutes cost ``Q × price / minutes``. With the
    overage price ``o`` above that unit price ``c``, Q* is the ``(o - c)/o`` quantile of
    demand, rounded to the whole minute that costs least; otherwise no bundle (0) is best.
    """
    c = Fraction(bundle.price) / bundle.minutes
    o = Fraction(bundle.overage_per_min)
    fractile = (o - c) / o if o > c else Fraction(0)
    if fractile <= 0:
        best = 0
    else:
        q = demand.quantile(fractile)
        candidates = {max(0, math.floor(q)), max(0, math.ceil(q))}
        best = min(candidates, key=lambda m: (expected_bundle_cost(m, c, o, demand), m))
    return BundleSizing(plan=plan, price_per_min=c, overage_per_min=bundle.overage_per_min,
                        fractile=fractile, best_minutes=best,
                        best_cost=expected_bundle_cost(best, c, o, demand),
                        current_minutes=bundle.minutes,
                        current_cost=expected_bundle_cost(bundle.minutes, c, o, demand),
                        mean_demand_min=demand.mean)


def monthly_minutes(billed_s: int, days: Decimal | Fraction) -> Fraction:
    """A campaign's billed seconds as minutes per billing month (prorated by days)."""
    d = Fraction(days)
    if d <= 0:
        raise ValueError("monthly_minutes: the campaign's days must be > 0")
    return Fraction(billed_s, 60) * DAYS_PER_MONTH / d


def demand_from_billed(billed_s: Sequence[int], days: Sequence[Decimal | Fraction]) -> Demand:
    """Monthly demand samples from several runs' billed seconds and lengths."""
    return Demand.from_samples([monthly_minutes(b, d) for b, d in zip(billed_s, days,
                                                                       strict=True)])


def billed_seconds(cdrs: CDRTable, plan: Plan, campaign: CampaignInfo) -> int:
    """Billed seconds of ``cdrs`` under ``plan``'s increments."""
    return rate(cdrs, [plan], campaign=campaign).summary(plan.name).billed_s
