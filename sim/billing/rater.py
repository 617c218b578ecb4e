"""Rating a CDR table under several plans: per-call charges and per-plan costs.

This is the question a campaign manager brings: the same calls, priced under every
offer on the table, with what each costs per dial, per contact and per conversion.
Only answered calls (by disposition, not billsec) pay for time; every attempt pays the
per-attempt fee. Billed seconds come from ``billsec``.

For plans without time bands a call's charge depends only on its billsec (and tariff),
so each plan is rated once over every billsec value up to the longest call and the
table is gathered per call: exact, and a few nanoseconds per call. Banded plans run the
kernel of :mod:`sim.billing.tariff` over cache-sized chunks.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

import numpy as np

from sim.cdr import CDRTable
from sim.errors import CDRFormatError, PlanError

from .fees import CampaignInfo, PlanFees, money, plan_fees
from .plans import Plan
from .tariff import CompiledPlan, compile_plan, tariff_index, units_to_decimal, week_offset_s

__all__ = ["TABLE_MAX_S", "PlanCalls", "PlanSummary", "Rating", "exact_sum", "rate"]

#: Longest billsec rated through a lookup table (72 h); longer calls use the kernel.
TABLE_MAX_S = 1 << 18
#: Calls per chunk of the kernel: keeps its temporaries in cache.
CHUNK = 1 << 15


def exact_sum(units: np.ndarray) -> int:
    """Sum of an int64 or object array as an exact Python int (no int64 overflow)."""
    if units.dtype == object:
        return int(sum(units.tolist()))
    if len(units) == 0:
        return 0
    top = max(abs(int(units.max())), abs(int(units.min())), 1)
    step = max(1, ((1 << 63) - 1) // top)
    return sum(int(units[i:i + step].sum()) for i in range(0, len(units), step))


@dataclass(frozen=True, slots=True, eq=False)
class PlanCalls:
    """Per-call results of one plan.

    Attributes
    ----------
    billed_s
        Billed seconds per call (int64, all legs; 0 for free and unanswered calls).
    units
        Charge per call in units of ``1 / den`` currency (int64, or object for huge values).
    den
        ``10**decimals`` for per-call rounding; the plan's exact denominator per invoice.
    """

    plan: Plan
    billed_s: np.ndarray
    units: np.ndarray
    den: int

    def charge(self, i: int) -> Decimal:
        """Charge of call ``i`` (currency)."""
        return units_to_decimal(int(self.units[i]), self.den)

    def charges(self) -> np.ndarray:
        """Every charge as a Decimal (object array; slow for millions of calls)."""
        return np.array([units_to_decimal(int(u), self.den) for u in self.units.tolist()],
                        dtype=object)

    def charges_float(self) -> np.ndarray:
        """Charges as float64, for plots and statistics only (not exact)."""
        return self.units.astype(np.float64) / self.den

    def total_units(self) -> int:
        return exact_sum(self.units)


def _per(total: Decimal, count: int, decimals: int) -> Decimal | None:
    if count == 0:
        return None
    q = Fraction(total) / count
    scale = 10 ** (decimals + 2)
    return Decimal((q.numerator * scale * 2 + q.denominator) // (2 * q.denominator)).scaleb(
        -(decimals + 2))


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanSummary:
    """One plan's costs for the whole table (money in the plan's currency).

    Per-dial, -contact and -conversion costs are rounded half up to two places more than
    the plan's decimals, and are None when the count is 0.
    """

    plan: str
    currency: str
    decimals: int
    calls: int
    answered: int
    contacts: int
    conversions: int
    talk_s: float
    billed_s: int
    telecom: Decimal
    fees: PlanFees
    labour: Decimal

    @property
    def talk_min(self) -> float:
        return self.talk_s / 60

    @property
    def billed_min(self) -> float:
        return self.billed_s / 60

    @property
    def overhead_min(self) -> float:
        """Billed minus talk minutes: what increments, minimums and legs add."""
        return (self.billed_s - self.talk_s) / 60

    @property
    def overhead_pct(self) -> float | None:
        return None if self.talk_s == 0 else 100 * (self.billed_s - self.talk_s) / self.talk_s

    @property
    def total(self) -> Decimal:
        """Telecom charges plus prorated plan-level fees."""
        return self.telecom + self.fees.total

    @property
    def campaign_total(self) -> Decimal:
        """Total plus labour."""
        return self.total + self.labour

    def per_dial(self) -> Decimal | None:
        return _per(self.total, self.calls, self.decimals)

    def per_contact(self) -> Decimal | None:
        return _per(self.total, self.contacts, self.decimals)

    def per_conversion(self) -> Decimal | None:
        return _per(self.total, self.conversions, self.decimals)

    def row(self) -> dict[str, Any]:
        """A flat dict for tables, CSV and sweeps (Decimal money, float minutes)."""
        f = self.fees
        pct = self.overhead_pct
        return {
            "plan": self.plan, "currency": self.currency, "calls": self.calls,
            "answered": self.answered, "contacts": self.contacts,
            "conversions": self.conversions, "talk_min": round(self.talk_min, 4),
            "billed_min": round(self.billed_min, 4), "overhead_min": round(self.overhead_min, 4),
            "overhead_pct": None if pct is None else round(pct, 2),
            "telecom": self.telecom, "seat_fees": f.seats, "channel_fees": f.channels,
            "number_fees": f.numbers, "bundle_fee": f.bundle, "overage": f.overage,
            "bundle_min": f.bundle_min, "bundle_used_min": f.bundle_used_min,
            "overage_min": f.overage_min, "fees": f.total, "total": self.total,
            "per_dial": self.per_dial(), "per_contact": self.per_contact(),
            "per_conversion": self.per_conversion(), "labour": self.labour,
            "campaign_total": self.campaign_total,
            "campaign_per_contact": _per(self.campaign_total, self.contacts, self.decimals),
            "campaign_per_conversion": _per(self.campaign_total, self.conversions,
                                            self.decimals),
        }


@dataclass(frozen=True, slots=True, eq=False)
class Rating:
    """Every plan's per-call results and summary for one CDR table."""

    call_id: np.ndarray
    campaign: CampaignInfo
    calls: Mapping[str, PlanCalls]
    summaries: Mapping[str, PlanSummary]

    @property
    def plans(self) -> tuple[Plan, ...]:
        return tuple(c.plan for c in self.calls.values())

    def per_call(self, name: str) -> PlanCalls:
        """Per-call billed seconds and charges of plan ``name``."""
        return self.calls[name]

    def summary(self, name: str) -> PlanSummary:
        return self.summaries[name]

    def ranked(self) -> list[PlanSummary]:
        """Summaries sorted by currency, then total cost (cheapest first), then name."""
        return sorted(self.summaries.values(), key=lambda s: (s.currency, s.total, s.plan))

    def rows(self) -> list[dict[str, Any]]:
        """One flat dict per plan, in plan order."""
        return [s.row() for s in self.summaries.values()]

    def totals(self) -> dict[str, Decimal]:
        """Total cost per plan name, e.g. for a sweep table's columns."""
        return {name: s.total for name, s in self.summaries.items()}


# -- rating -----------------------------------------------------------------------------


def _week_times(cdrs: CDRTable, d: np.ndarray) -> np.ndarray:
    """Week time (s after a Monday 00:00) of each answer, placed at ``floor(answer)``."""
    at = np.where(np.isfinite(cdrs["answer"]), cdrs["answer"], cdrs["start"])
    known = np.isfinite(at)
    missing = int(np.count_nonzero((d > 0) & ~known))
    if missing:
        raise CDRFormatError(f"{missing} answered calls have neither an answer nor a start "
                             "time: a banded plan cannot place them")
    return np.floor(np.where(known, at, 0)).astype(np.int64) + week_offset_s(cdrs.epoch)


def _rate_banded(cp: CompiledPlan, d: np.ndarray, tariff: np.ndarray | None,
                 start_t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = len(d)
    dtype = cp.dtype(int(d.max(initial=0)), int(start_t.max(initial=0)))
    billed = np.empty(n, dtype=np.int64)
    units: np.ndarray = np.empty(n, dtype=dtype)
    for i in range(0, n, CHUNK):
        s = slice(i, i + CHUNK)
        billed[s], units[s] = cp.rate_calls(d[s], None if tariff is None else tariff[s],
                                            start_t[s], dtype=dtype)
    return billed, units


def _rate_by_table(cp: CompiledPlan, d: np.ndarray, d_max: int,
                   tariff: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    n = len(d)
    cap = min(d_max, TABLE_MAX_S)
    width = cap + 1
    n_tar = 1 if tariff is None else len(cp.tariffs)
    grid = np.tile(np.arange(width, dtype=np.int64), n_tar)
    which = None if tariff is None else np.repeat(np.arange(n_tar), width)
    table_b, table_u = cp.rate_calls(grid, which)
    billed = np.empty(n, dtype=np.int64)
    units: np.ndarray = np.empty(n, dtype=table_u.dtype)
    if tariff is None:
        # mode="clip" skips the bounds check (d >= 0 is checked; d > cap is redone below)
        np.take(table_b, d, out=billed, mode="clip")
        np.take(table_u, d, out=units, mode="clip")
    else:
        idx = np.empty(min(n, CHUNK), dtype=np.int64)
        for i in range(0, n, CHUNK):
            s = slice(i, i + CHUNK)
            k = idx[:len(d[s])]
            np.minimum(d[s], cap, out=k)
            k += tariff[s] * width
            np.take(table_b, k, out=billed[s], mode="clip")
            np.take(table_u, k, out=units[s], mode="clip")
    if d_max > cap:
        over = np.flatnonzero(d > cap)
        b, u = cp.rate_calls(d[over], None if tariff is None else tariff[over])
        if u.dtype == object:
            units = units.astype(object)
        billed[over], units[over] = b, u
    return billed, units


def rate(cdrs: CDRTable, plans: Iterable[Plan], *,
         campaign: CampaignInfo | None = None) -> Rating:
    """Rate every call of ``cdrs`` under each plan.

    Parameters
    ----------
    cdrs
        The calls (simulated or imported).
    plans
        Plans with unique names (e.g. from :func:`~sim.billing.load_plans`).
    campaign
        Seats, channels, numbers, days and labour for plan-level fees; None estimates
        them from the CDRs (:meth:`CampaignInfo.from_cdrs`, labour 0).

    Returns
    -------
    Rating
        Per-call billed seconds and charges of every plan, and per-plan summaries.

    Raises
    ------
    PlanError
        Two plans share a name.
    CDRFormatError
        An answered call has a negative billsec, or a banded plan meets an answered
        call without a time.
    """
    plans = tuple(plans)
    names = [p.name for p in plans]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise PlanError(f"plan names must be unique when rated together (repeated: "
                        f"{', '.join(dupes)})")
    if campaign is None:
        campaign = CampaignInfo.from_cdrs(cdrs)
    answered = cdrs.answered
    d = np.multiply(cdrs["billsec"], answered)  # unanswered calls have no billable time
    if len(d) and int(d.min()) < 0:
        raise CDRFormatError(f"{int(np.count_nonzero(d < 0))} answered calls have a negative "
                             "billsec")
    d_max = int(d.max(initial=0))
    talk = cdrs["talk_s"]
    shared = dict(
        calls=len(cdrs), answered=int(np.count_nonzero(answered)),
        contacts=int(np.count_nonzero(cdrs.mask("answered_by", "person")
                                      & np.isfinite(cdrs["connect"]))),
        conversions=int(np.count_nonzero(cdrs.mask("result", "converted"))),
        talk_s=float(np.sum(talk, where=answered & np.isfinite(talk))),
    )
    week_times: Callable[[], np.ndarray] = functools.cache(lambda: _week_times(cdrs, d))
    calls: dict[str, PlanCalls] = {}
    summaries: dict[str, PlanSummary] = {}
    for plan in plans:
        cp = compile_plan(plan)
        tariff = tariff_index(plan, cdrs["destination"], cdrs.vocabulary("destination"),
                              cdrs["number_type"], cdrs.vocabulary("number_type"))
        if plan.bands:
            billed, units = _rate_banded(cp, d, tariff, week_times())
        else:
            billed, units = _rate_by_table(cp, d, d_max, tariff)
        pc = PlanCalls(plan=plan, billed_s=billed, units=units, den=cp.out_den)
        calls[plan.name] = pc
        summaries[plan.name] = _summary(pc, campaign, shared)
    return Rating(call_id=cdrs["call_id"], campaign=campaign, calls=calls,
                  summaries=summaries)


def _summary(pc: PlanCalls, campaign: CampaignInfo, shared: dict[str, Any]) -> PlanSummary:
    plan = pc.plan
    billed_s = int(pc.billed_s.sum())
    total = pc.total_units()
    if plan.rounding.per == "call":
        telecom = Decimal(total).scaleb(-plan.rounding.decimals)
    else:
        telecom = money(Fraction(total, pc.den), plan)
    return PlanSummary(plan=plan.name, currency=plan.currency,
                       decimals=plan.rounding.decimals, billed_s=billed_s, telecom=telecom,
                       fees=plan_fees(plan, campaign, billed_s), labour=campaign.labour,
                       **shared)

