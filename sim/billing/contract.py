"""Contract terms: what a carrier's contract adds to the call charges per billing period.

Outbound-calling contracts carry terms that only exist per billing period: a minimum
monthly spend (保底: what the usage falls short of it is topped up), graduated volume
tiers (the first 10,000 minutes at one price, the next at another; or, ``all_units``,
every minute at the price of the tier the volume reaches), bundles whose unused minutes
expire at the end of the period or roll over, and tax on the stated items. Keys of a
``[[plan]]``::

    min_monthly = "5000"                       # minimum usage spend per period
    tiers = [{up_to_min = 10000, price_per_min = "0.10"}, {price_per_min = "0.08"}]
    tier_mode = "graduated" | "all_units"      # default graduated
    bundle = {..., expires = "period" | "never", rollover = false}
    tax_rate = "0.06", tax_on = ["calls", "traffic", "rent", "bundle", "volume", "minimum"]
    period_start = 1                           # the billing period's anchor day (1-28)

Billing periods run from ``period_start`` of one month to the day before it in the
next, on the CDR table's local calendar; a call belongs to the period of its dial time,
so a campaign that crosses an anchor day is split into two invoices. As elsewhere
(:mod:`sim.billing.fees`), a campaign bears its share of each period: the campaign's
days are spread over the periods its calls' calendar span touches, and the minimum,
the bundle (price and minutes) and the tier limits of a period are prorated by its
share of a 30-day month — which equals costing the traffic as if it ran steadily all
month. Usage spend (compared with the minimum) is the call charges, the bundle, its
overage and the volume charge of the period; rent and traffic fees are not usage.
With ``tiers`` the plan's own time price must be 0: its increments give the billed
minutes, the tiers price them. Every line is rounded once per period.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any, Literal

import numpy as np

from sim.cdr import CDRTable
from sim.validate import MISSING, Section

__all__ = ["TAX_ITEMS", "Contract", "Period", "Tier", "billing_periods", "parse_contract",
           "period_invoice", "period_lines", "tier_charge"]

#: Invoice items ``tax_on`` may name.
TAX_ITEMS: tuple[str, ...] = ("calls", "traffic", "rent", "bundle", "volume", "minimum")
_DAY_S = 86_400
DAYS_PER_MONTH = 30  # as sim.billing.fees (not imported: fees imports the plans)


@dataclass(frozen=True, slots=True, kw_only=True)
class Tier:
    """A volume tier: minutes up to ``up_to_min`` of the period (None: no limit)."""

    up_to_min: int | None
    price_per_min: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class Contract:
    """A plan's period terms (defaults: none)."""

    min_monthly: Decimal = Decimal(0)
    tiers: tuple[Tier, ...] = ()
    tier_mode: Literal["graduated", "all_units"] = "graduated"
    tax_rate: Decimal = Decimal(0)
    tax_on: tuple[str, ...] = TAX_ITEMS
    period_start: int = 1


def parse_contract(p: Section) -> Contract:
    """The contract keys of a plan section (problems recorded)."""
    min_monthly = p.decimal("min_monthly", Decimal(0))
    mode = p.string("tier_mode", "graduated", choices=("graduated", "all_units"))
    tax_rate = p.decimal("tax_rate", Decimal(0))
    start = p.integer("period_start", 1, lo=1, hi=28)
    tax_on = p.raw_get("tax_on", list(TAX_ITEMS))
    if not isinstance(tax_on, list) or not all(isinstance(x, str) and x in TAX_ITEMS
                                               for x in tax_on):
        p.problems.must(p.path("tax_on"), "a list of items among "
                        + ", ".join(map(repr, TAX_ITEMS)), tax_on)
        tax_on = list(TAX_ITEMS)
    if tax_rate is not MISSING and tax_rate > 1:
        p.problems.must(p.path("tax_rate"), "a rate between 0 and 1 like \"0.06\"",
                        str(tax_rate))
    tiers: list[Tier] = []
    raw = p.raw_get("tiers", [])
    if not isinstance(raw, list):
        p.problems.must(p.path("tiers"), "a list of {up_to_min, price_per_min} tables", raw)
        raw = []
    for i, r in enumerate(raw):
        t = Section(r, f"{p.path('tiers')}[{i}]", p.problems)
        last = i + 1 == len(raw)
        up = t.integer("up_to_min", None if last else MISSING, lo=1)
        price = t.decimal("price_per_min")
        t.finish()
        if tiers and up not in (None, MISSING) and tiers[-1].up_to_min is not None \
                and up <= tiers[-1].up_to_min:
            t.problems.must(t.path("up_to_min"), "greater than the previous tier's "
                            f"{tiers[-1].up_to_min}", up)
        if MISSING not in (up, price):
            tiers.append(Tier(up_to_min=up, price_per_min=price))
    return Contract(min_monthly=min_monthly, tiers=tuple(tiers), tier_mode=mode,
                    tax_rate=tax_rate if tax_rate is not MISSING else Decimal(0),
                    tax_on=tuple(dict.fromkeys(tax_on)),
                    period_start=start if start is not MISSING else 1)


# -- periods -------------------------------------------------------------------------


def _local_days(cdrs: CDRTable, t: np.ndarray) -> np.ndarray:
    """Local calendar day (days since 1970-01-01) of table times ``t`` (NaN: epoch)."""
    epoch = np.datetime64(cdrs.epoch, "s").astype(np.int64)
    t = np.where(np.isfinite(t), t, 0.0)
    return np.floor((epoch + t) / _DAY_S).astype(np.int64)


def _period_of(day: np.ndarray, anchor: int) -> np.ndarray:
    """Month index (since 1970-01) of the period holding each day."""
    d = day.astype("datetime64[D]")
    month = d.astype("datetime64[M]")
    dom = (d - month.astype("datetime64[D]")).astype(np.int64) + 1
    return month.astype(np.int64) - (dom < anchor)


def _period_start_day(month: int, anchor: int) -> int:
    return int(np.datetime64(month, "M").astype("datetime64[D]").astype(np.int64)) + anchor - 1


def billing_periods(cdrs: CDRTable, anchor: int
                    ) -> tuple[np.ndarray | None, list[str], list[int]]:
    """Per call its period index (None: all in the one period); each period's label;
    the calendar days of the calls' span (first to last call day) in each period.
    Periods without calls inside the span are kept (their minimum is still due)."""
    if len(cdrs) == 0:
        return None, ["-"], [1]
    start = cdrs["start"]
    lo_t, hi_t = float(start.min()), float(start.max())  # no temporary in the usual case
    t: np.ndarray | None = None
    if not (np.isfinite(lo_t) and np.isfinite(hi_t)):  # calls without a dial time
        t = np.where(np.isfinite(start), start, cdrs["answer"])
        ok = t[np.isfinite(t)]
        lo_t, hi_t = (float(ok.min()), float(ok.max())) if ok.size else (0.0, 0.0)
    ends = _local_days(cdrs, np.array([lo_t, hi_t]))
    k0, labels, spans = period_calendar(int(ends[0]), int(ends[1]), anchor)
    if len(labels) == 1:  # the usual case: no per-call work
        return None, labels, spans
    k, timeless = call_periods(cdrs, anchor)
    return np.where(timeless, 0, k - k0), labels, spans  # timeless rows: the first period


def period_calendar(first: int, last: int, anchor: int) -> tuple[int, list[str], list[int]]:
    """The billing periods from local day ``first`` to ``last`` (days since 1970-01-01):
    the first period's index, each period's label and its calendar days in the span."""
    k0, k1 = (int(k) for k in _period_of(np.array([first, last]), anchor))
    labels, spans = [], []
    for k in range(k0, k1 + 1):
        lo, hi = _period_start_day(k, anchor), _period_start_day(k + 1, anchor)
        labels.append(f"{np.datetime64(lo, 'D')}..{np.datetime64(hi - 1, 'D')}")
        spans.append(max(0, min(hi, last + 1) - max(lo, first)))
    return k0, labels, spans


def call_times(cdrs: CDRTable) -> np.ndarray:
    """The time a call is placed in a billing period by: its dial time, else its answer."""
    start = cdrs["start"]
    return np.where(np.isfinite(start), start, cdrs["answer"])


def call_periods(cdrs: CDRTable, anchor: int) -> tuple[np.ndarray, np.ndarray]:
    """Each call's billing-period index (months since 1970-01, shifted by the anchor),
    and which calls have no time at all (neither dial nor answer): those are billed in
    the campaign's first period."""
    t = call_times(cdrs)
    return _period_of(_local_days(cdrs, t), anchor), ~np.isfinite(t)


@dataclass(frozen=True, slots=True, kw_only=True)
class Period:
    """One billing period's share of the campaign and its invoice lines (currency)."""

    label: str
    days: Fraction  # campaign days borne in this period
    calls: Decimal  # call charges of the period's calls
    billed_min: Fraction
    bundle: Decimal
    bundle_min: Fraction  # allowance incl. minutes carried in
    bundle_used_min: Fraction
    overage_min: Fraction
    overage: Decimal
    volume: Decimal
    minimum: Decimal  # the top-up

    def to_dict(self) -> dict[str, Any]:
        return {"period": self.label, "days": float(self.days), "calls": self.calls,
                "billed_min": float(self.billed_min), "bundle": self.bundle,
                "bundle_min": float(self.bundle_min),
                "bundle_used_min": float(self.bundle_used_min),
                "overage_min": float(self.overage_min), "overage": self.overage,
                "volume": self.volume, "minimum_topup": self.minimum}


def tier_charge(tiers: tuple[Tier, ...], mode: str, minutes: Fraction,
                scale: Fraction) -> Fraction:
    """Volume charge of ``minutes`` under tiers whose limits are scaled by ``scale``
    (the last tier has no upper limit)."""
    lo = Fraction(0)
    total = Fraction(0)
    for i, t in enumerate(tiers):
        price = Fraction(t.price_per_min)
        hi = None if i + 1 == len(tiers) or t.up_to_min is None else t.up_to_min * scale
        if mode == "all_units":
            if hi is None or minutes <= hi:
                return minutes * price
            continue
        top = minutes if hi is None else min(minutes, hi)
        if top > lo:
            total += (top - lo) * price
        if hi is None or minutes <= hi:
            break
        lo = hi
    return total


def period_invoice(plan: Any, cdrs: CDRTable, days: Decimal, units: np.ndarray, den: int,
                   billed: np.ndarray, money: Any,
                   cache: dict[int, tuple[np.ndarray | None, list[str], list[int]]],
                   totals: tuple[int, int] | None = None) -> tuple[Period, ...]:
    """The plan's billing periods over ``cdrs`` (per-call ``units``/``billed`` seconds);
    ``cache`` keeps :func:`billing_periods` per anchor day across plans; ``totals``
    (charge units, billed seconds of all calls) spare a pass when there is one period."""
    from .terms import _group_sums

    anchor = plan.contract.period_start
    if anchor not in cache:
        cache[anchor] = billing_periods(cdrs, anchor)
    index, labels, spans = cache[anchor]
    m = len(labels)
    if index is None and totals is not None:  # one period: the rater's exact totals
        return period_lines(plan, days, [totals[0]], den, [totals[1]], labels, spans, money)
    return period_lines(plan, days, _group_sums(index, units, m), den,
                        _group_sums(index, billed, m), labels, spans, money)


def period_lines(plan: Any, days: Decimal, units: list[int], den: int, billed_s: list[int],
                 labels: list[str], spans: list[int], money: Any) -> tuple[Period, ...]:
    """Each period's invoice lines for a plan (``units``/``billed_s`` per period)."""
    c: Contract = plan.contract
    total_span = sum(spans) or 1
    out: list[Period] = []
    carried = Fraction(0)
    for label, u, b, span in zip(labels, units, billed_s, spans, strict=True):
        share = Fraction(days) * span / total_span
        months = share / DAYS_PER_MONTH
        calls = Fraction(u, den)
        minutes = Fraction(b, 60)
        bundle = over = Fraction(0)
        allowance = used = over_min = Fraction(0)
        if plan.bundle is not None:
            bd = plan.bundle
            bundle = Fraction(bd.price) * months
            allowance = bd.minutes * months + carried
            used = min(minutes, allowance)
            over_min = minutes - used
            over = over_min * Fraction(bd.overage_per_min)
            left = allowance - used
            if bd.expires == "never":
                carried = left
            elif bd.rollover:  # this period's unused minutes, for one more period
                carried = min(left, bd.minutes * months)
            else:
                carried = Fraction(0)
        volume = tier_charge(c.tiers, c.tier_mode, minutes, months) if c.tiers else Fraction(0)
        spend = money(calls) + money(bundle) + money(over) + money(volume)
        minimum = max(Decimal(0), money(Fraction(c.min_monthly) * months) - spend)
        out.append(Period(label=label, days=share, calls=money(calls), billed_min=minutes,
                          bundle=money(bundle), bundle_min=allowance, bundle_used_min=used,
                          overage_min=over_min, overage=money(over), volume=money(volume),
                          minimum=minimum))
    return tuple(out)
