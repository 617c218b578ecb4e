"""What a rating gives back: per-call results and per-plan summaries.

A :class:`Rating` holds, for every plan, the billed seconds and exact charge of each call
(:class:`PlanCalls`) and the costs an analyst compares (:class:`PlanSummary`): telecom
charges, prorated plan-level fees, total, and cost per dial, contact and conversion.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

import numpy as np

from .fees import CampaignInfo, PlanFees
from .plans import Plan
from .tariff import rounded, units_to_decimal
from .terms import TermResult

__all__ = ["PlanCalls", "PlanSummaries", "PlanSummary", "Rating", "exact_sum"]


def exact_sum(units: np.ndarray) -> int:
    """Sum of an integer or object array as an exact Python int (no int64 overflow)."""
    if units.dtype == object:
        return int(sum(units.tolist()))
    if len(units) == 0:
        return 0
    top = max(abs(int(units.max())), abs(int(units.min())), 1)
    step = max(1, ((1 << 63) - 1) // top)
    return sum(int(units[i:i + step].sum(dtype=np.int64)) for i in range(0, len(units), step))


@dataclass(frozen=True, slots=True, eq=False)
class PlanCalls:
    """Per-call results of one plan.

    Attributes
    ----------
    billed_s
        Billed seconds per call (int32, or int64 if needed; all legs; 0 for free and
        unanswered calls).
    units
        Charge per call in units of ``1 / den`` currency (int32 or int64 as the values
        need, object (Python ints) for huge ones).
    den
        ``10**decimals`` for per-call rounding; the plan's exact denominator per invoice.
    billed_total_s, units_total
        Exact sums of ``billed_s`` and ``units``.
    """

    plan: Plan
    billed_s: np.ndarray
    units: np.ndarray
    den: int
    billed_total_s: int
    units_total: int

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


def _per(total: Decimal, count: int, decimals: int) -> Decimal | None:
    return None if count == 0 else rounded(Fraction(total) / count, decimals + 2)


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanSummary:
    """One plan's costs for the whole table (money in the plan's currency).

    Per-dial, -contact and -conversion costs are rounded half up to two places more than
    the plan's decimals, and are None when the count is 0 or unknown.
    ``outcomes_known`` is False when the CDRs cannot tell contacts and conversions (a
    foreign export: no lead, no answered-by, no result; dialsim's own Asterisk export
    carries them in its userfield): those figures are then unknown (None, "n/a"), not 0.
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
    traffic: tuple[TermResult, ...] = ()
    outcomes_known: bool = True
    tax: Decimal = Decimal(0)

    @property
    def traffic_fees(self) -> Decimal:
        """What the plan's traffic terms add (currency)."""
        return sum((t.cost for t in self.traffic), Decimal(0))

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
        """Telecom charges, traffic-term fees, prorated plan-level fees and tax."""
        return self.telecom + self.traffic_fees + self.fees.total + self.tax

    @property
    def campaign_total(self) -> Decimal:
        """Total plus labour."""
        return self.total + self.labour

    def per_dial(self) -> Decimal | None:
        return _per(self.total, self.calls, self.decimals)

    def per_contact(self) -> Decimal | None:
        if not self.outcomes_known:
            return None
        return _per(self.total, self.contacts, self.decimals)

    def per_conversion(self) -> Decimal | None:
        if not self.outcomes_known:
            return None
        return _per(self.total, self.conversions, self.decimals)

    def row(self) -> dict[str, Any]:
        """A flat dict for tables, CSV and sweeps (Decimal money, float minutes)."""
        f = self.fees
        pct = self.overhead_pct
        known = self.outcomes_known
        return {
            "plan": self.plan, "currency": self.currency, "calls": self.calls,
            "answered": self.answered, "contacts": self.contacts if known else None,
            "conversions": self.conversions if known else None, "talk_min": round(self.talk_min, 4),
            "billed_min": round(self.billed_min, 4), "overhead_min": round(self.overhead_min, 4),
            "overhead_pct": None if pct is None else round(pct, 2),
            "telecom": self.telecom, "traffic_fees": self.traffic_fees,
            "seat_fees": f.seats, "channel_fees": f.channels,
            "number_fees": f.numbers, "bundle_fee": f.bundle, "overage": f.overage,
            "bundle_min": f.bundle_min, "bundle_used_min": f.bundle_used_min,
            "overage_min": f.overage_min, "volume": f.volume, "minimum_topup": f.minimum,
            "fees": f.total, "tax": self.tax, "total": self.total,
            "per_dial": self.per_dial(), "per_contact": self.per_contact(),
            "per_conversion": self.per_conversion(), "labour": self.labour,
            "campaign_total": self.campaign_total,
            "campaign_per_contact": _per(self.campaign_total, self.contacts, self.decimals)
            if known else None,
            "campaign_per_conversion": _per(self.campaign_total, self.conversions,
                                            self.decimals) if known else None,
        }


class PlanSummaries:
    """What a rating answers per plan, from its ``summaries`` (shared by :class:`Rating`
    and :class:`~sim.billing.chunks.ChunkedRating`)."""

    __slots__ = ()
    summaries: Mapping[str, PlanSummary]

    def summary(self, name: str) -> PlanSummary:
        return self.summaries[name]

    def ranked(self) -> list[PlanSummary]:
        """Summaries sorted by currency, then total cost (cheapest first), then name."""
        return sorted(self.summaries.values(), key=lambda s: (s.currency, s.total, s.plan))

    def rows(self) -> list[dict[str, Any]]:
        """One flat dict per plan, in plan order."""
        return [s.row() for s in self.summaries.values()]

    def traffic(self) -> dict[str, list[dict[str, Any]]]:
        """Per plan with traffic terms: each term's line, windows, fired and cost."""
        return {name: [t.to_dict() for t in s.traffic]
                for name, s in self.summaries.items() if s.traffic}

    def periods(self) -> dict[str, list[dict[str, Any]]]:
        """Per plan with period terms (bundle, tiers, minimum): each period's lines."""
        return {name: [p.to_dict() for p in s.fees.periods]
                for name, s in self.summaries.items() if s.fees.periods}

    def to_pandas(self, *, money: str = "decimal") -> Any:
        """One row per plan (index ``plan``), the columns of :meth:`rows` / costs.csv.

        ``money="decimal"`` keeps amounts exact (``Decimal`` objects); ``"float"`` gives
        float columns for plotting and arithmetic (needs pandas).
        """
        import pandas as pd

        if money not in ("decimal", "float"):
            raise ValueError(f"money: must be 'decimal' or 'float' (got {money!r})")
        rows = self.rows()
        if money == "float":
            rows = [{k: float(v) if isinstance(v, Decimal) else v for k, v in r.items()}
                    for r in rows]
        return pd.DataFrame(rows).set_index("plan")

    def totals(self) -> dict[str, Decimal]:
        """Total cost per plan name, e.g. for a sweep table's columns."""
        return {name: s.total for name, s in self.summaries.items()}


@dataclass(frozen=True, slots=True, eq=False)
class Rating(PlanSummaries):
    """Every plan's per-call results and summary for one CDR table."""

    call_id: np.ndarray
    campaign: CampaignInfo
    calls: Mapping[str, PlanCalls]
    summaries: Mapping[str, PlanSummary]
    #: For an imported export: each row's 1-based file line and the export's own call
    #: id (``charges.csv`` carries them so it joins back to the export); else None.
    source_line: np.ndarray | None = None
    source_id: np.ndarray | None = None

    @property
    def plans(self) -> tuple[Plan, ...]:
        return tuple(c.plan for c in self.calls.values())

    def per_call(self, name: str) -> PlanCalls:
        """Per-call billed seconds and charges of plan ``name``."""
        return self.calls[name]
