"""Plan-level terms: rent for seats, channels and numbers, and minute bundles.

Providers invoice these per month whatever the traffic. A campaign bears its share:
``days / DAYS_PER_MONTH`` of each monthly amount. A bundle ("10,000 CNY buys 50,000
minutes", unused minutes expire) is prorated the same way — the campaign's share of the
price buys the same share of the minutes — which equals costing the campaign's traffic
as if it ran steadily all month. Minutes are the calls' billed seconds (rounded by the
plan's increments); what exceeds the prorated allowance costs ``overage_per_min``.

Every line of this invoice is exact and rounded once, to the plan's decimals by its
rounding method.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any

import numpy as np

from sim.cdr import CDRTable

from .plans import DAY_S, Plan
from .tariff import rounded, week_offset_s

__all__ = ["DAYS_PER_MONTH", "CampaignInfo", "PlanFees", "money", "peak_concurrency",
           "plan_fees", "with_periods"]

#: Days in a billing month for proration (a 30-day campaign bears one month of rent).
DAYS_PER_MONTH = 30


def _decimal(value: int | float | str | Decimal) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


@dataclass(frozen=True, slots=True, kw_only=True)
class CampaignInfo:
    """What prorating plan-level fees needs to know about a campaign.

    Parameters
    ----------
    seats
        Agent seats rented (agents, or robot seats) for the campaign.
    channels
        Concurrent trunk channels rented.
    numbers
        Caller-ID numbers rented.
    days
        Calendar length of the campaign, days (fractions allowed).
    labour
        Agent labour cost of the campaign, in the plans' currency.
    estimated
        True when derived from CDRs (:meth:`from_cdrs`) rather than stated.
    """

    seats: int = 0
    channels: int = 0
    numbers: int = 0
    days: Decimal = Decimal(1)
    labour: Decimal = Decimal(0)
    estimated: bool = field(default=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "days", _decimal(self.days))
        object.__setattr__(self, "labour", _decimal(self.labour))
        for name in ("seats", "channels", "numbers"):
            if getattr(self, name) < 0:
                raise ValueError(f"CampaignInfo.{name} must be >= 0 (got {getattr(self, name)})")
        if not self.days.is_finite() or self.days < 0 or self.labour < 0:
            raise ValueError(f"CampaignInfo: days and labour must be >= 0 "
                             f"(got {self.days}, {self.labour})")

    @property
    def months(self) -> Fraction:
        """The campaign's length in billing months (exact)."""
        return Fraction(self.days) / DAYS_PER_MONTH

    @classmethod
    def from_cdrs(cls, cdrs: CDRTable, *, labour: Decimal = Decimal(0)) -> CampaignInfo:
        """Estimate from the calls alone: seats = distinct agents, channels = peak
        concurrent calls, one number, days = calendar days touched by dial times."""
        start = cdrs["start"]
        ok = np.isfinite(start)
        days = 0
        if ok.any():
            off = week_offset_s(cdrs.epoch) % DAY_S
            first, last = (np.floor((off + x) / DAY_S) for x in (start[ok].min(), start[ok].max()))
            days = int(last - first) + 1
        agents = cdrs["agent_id"]
        return cls(seats=len(np.unique(agents[agents >= 0])),
                   channels=peak_concurrency(cdrs), numbers=1 if len(cdrs) else 0,
                   days=Decimal(days), labour=labour, estimated=True)


def peak_concurrency(cdrs: CDRTable) -> int:
    """Most calls in progress (dial to hang-up) at once."""
    start, end = cdrs["start"], cdrs["end"]
    ok = np.isfinite(start) & np.isfinite(end)
    if not ok.any():
        return 0
    s = np.sort(start[ok])
    e = np.sort(np.maximum(end[ok], start[ok]))
    # calls started at or before each start, minus those already ended (strictly) by then
    live = np.arange(1, len(s) + 1) - np.searchsorted(e, s, side="left")
    return int(live.max())


def money(amount: Fraction, plan: Plan) -> Decimal:
    """``amount`` rounded once to the plan's decimals by its rounding method."""
    return rounded(amount, plan.rounding.decimals, plan.rounding.method)


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanFees:
    """One plan's invoice lines outside the call charges (currency, minutes)."""

    seats: Decimal
    channels: Decimal
    numbers: Decimal
    bundle: Decimal
    overage: Decimal
    bundle_min: Decimal  # prorated allowance
    bundle_used_min: Decimal
    overage_min: Decimal
    volume: Decimal = Decimal(0)  # volume tiers' charge for the billed minutes
    minimum: Decimal = Decimal(0)  # minimum-spend top-ups
    periods: tuple[Any, ...] = ()  # sim.billing.contract.Period per billing period

    @property
    def rent(self) -> Decimal:
        return self.seats + self.channels + self.numbers

    @property
    def total(self) -> Decimal:
        return (self.rent + self.bundle + self.overage + self.volume + self.minimum)


def _minutes(seconds: Fraction) -> Decimal:
    """Seconds as minutes to 4 decimals (bundle use is a quantity, not money)."""
    return rounded(seconds / 60, 4)


def with_periods(fees: PlanFees, plan: Plan, campaign: CampaignInfo,
                 periods: tuple[Any, ...]) -> PlanFees:
    """``fees`` with bundle, overage, volume and minimum taken from billing periods
    (:func:`sim.billing.contract.period_invoice`): per-period expiry and rollover."""
    if not periods:
        return fees
    allowance = (Fraction(plan.bundle.minutes) * campaign.months * 60
                 if plan.bundle is not None else Fraction(0))
    return dataclasses.replace(
        fees, bundle=sum((p.bundle for p in periods), Decimal(0)),
        overage=sum((p.overage for p in periods), Decimal(0)),
        bundle_min=_minutes(allowance),
        bundle_used_min=_minutes(sum((p.bundle_used_min for p in periods), Fraction(0)) * 60),
        overage_min=_minutes(sum((p.overage_min for p in periods), Fraction(0)) * 60),
        volume=sum((p.volume for p in periods), Decimal(0)),
        minimum=sum((p.minimum for p in periods), Decimal(0)), periods=periods)


def plan_fees(plan: Plan, campaign: CampaignInfo, billed_s: int) -> PlanFees:
    """Prorated rent and bundle lines of ``plan`` for a campaign that billed ``billed_s``."""
    months = campaign.months
    channel = Fraction(0)
    for tier in plan.channel_tiers:  # all-units: the highest tier reached prices every unit
        if campaign.channels >= tier.from_channels:
            channel = Fraction(tier.price_per_month)
    bundle = over = Fraction(0)
    allowance_s = used_s = over_s = Fraction(0)
    if plan.bundle is not None:
        b = plan.bundle
        bundle = Fraction(b.price) * months
        allowance_s = b.minutes * 60 * months
        used_s = Fraction(billed_s)
        over_s = max(Fraction(0), used_s - allowance_s)
        over = over_s * Fraction(b.overage_per_min) / 60
    return PlanFees(
        seats=money(Fraction(plan.seat_per_month) * campaign.seats * months, plan),
        channels=money(channel * campaign.channels * months, plan),
        numbers=money(Fraction(plan.number_per_month) * campaign.numbers * months, plan),
        bundle=money(bundle, plan), overage=money(over, plan),
        bundle_min=_minutes(allowance_s), bundle_used_min=_minutes(min(used_s, allowance_s)),
        overage_min=_minutes(over_s))
