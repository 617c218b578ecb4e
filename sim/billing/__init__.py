"""Billing: plans, the exact vectorised rater, plan-level fees and cost tables.

Rating imports only numpy and the CDR schema — never the simulation model — so saved
or imported CDRs can be re-rated under new plans cheaply::

    plans = load_plans("scenarios/plans/china.toml")
    rating = rate(cdrs, plans, campaign=CampaignInfo(seats=20, channels=60, days=5))
    print(format_comparison(rating))
"""

from __future__ import annotations

from .chunks import ChunkedRating, rate_chunks
from .contract import Contract, Period, Tier
from .costs import format_comparison, format_terms, write_costs
from .fees import DAYS_PER_MONTH, CampaignInfo, PlanFees
from .plans import (
    Band,
    Bundle,
    ChannelTier,
    Destination,
    Plan,
    Rounding,
    Step,
    load_plans,
    plans_from_dict,
)
from .rater import rate
from .results import PlanCalls, PlanSummary, Rating
from .terms import TermResult, TrafficTerm, WindowResult

__all__ = [
    "DAYS_PER_MONTH",
    "Band",
    "Bundle",
    "CampaignInfo",
    "ChannelTier",
    "ChunkedRating",
    "Contract",
    "Destination",
    "Period",
    "Plan",
    "PlanCalls",
    "PlanFees",
    "PlanSummary",
    "Rating",
    "Rounding",
    "Step",
    "TermResult",
    "Tier",
    "TrafficTerm",
    "WindowResult",
    "format_comparison",
    "format_terms",
    "load_plans",
    "plans_from_dict",
    "rate",
    "rate_chunks",
    "write_costs",
]
