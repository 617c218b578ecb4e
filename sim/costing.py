"""Pricing a simulated run: the campaign facts plan-level fees need, and the rating call.

A bridge between the model's results and the rater, which knows nothing of scenarios:
seats are the scenario's agents, channels its trunk limit (or, without one, the peak
number of lines the run actually held), labour the agents' logged-in hours at the
scenario's hourly cost. Total campaign cost = telecom + plan fees + labour.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from .agentlog import AgentLog
from .billing import CampaignInfo, Plan, Rating, load_plans, rate
from .billing.fees import peak_concurrency
from .cdr import CDRTable
from .errors import PlanError
from .scenario import Scenario

__all__ = ["campaign_info", "load_plan_files", "rate_run"]


def campaign_info(scenario: Scenario, cdrs: CDRTable, agents: AgentLog, *,
                  peak: int | None = None) -> CampaignInfo:
    """Seats, channels, numbers, calendar days and labour of one simulated run
    (``peak``: the most calls at once, when known; else from ``cdrs``)."""
    hours = Decimal(repr(agents.logged_in() / 3600))
    labour = (hours * scenario.agents.hourly_cost).quantize(Decimal("0.01"), ROUND_HALF_UP)
    channels = scenario.dialer.channels or (peak_concurrency(cdrs) if peak is None else peak)
    seats = scenario.agents.count
    if scenario.dialer.mode == "robot" and scenario.dialer.robot_transfer_stage < 0:
        seats = 0  # a robot-only campaign rents no agent seats
    return CampaignInfo(seats=seats, channels=channels, numbers=scenario.numbers,
                        days=Decimal(scenario.campaign.days), labour=labour)


def load_plan_files(paths: Sequence[str | Path]) -> list[Plan]:
    """Plans of several files, checking that names are unique across them."""
    plans: list[Plan] = []
    seen: dict[str, Path] = {}
    for p in paths:
        for plan in load_plans(p):
            if plan.name in seen:
                raise PlanError(f"{p}: plan {plan.name!r} is also defined in {seen[plan.name]}")
            seen[plan.name] = Path(p)
            plans.append(plan)
    return plans


def rate_run(scenario: Scenario, cdrs: CDRTable, agents: AgentLog,
             plans: Sequence[Plan]) -> Rating:
    """Rate a run's CDRs under ``plans`` with its campaign facts and labour."""
    return rate(cdrs, plans, campaign=campaign_info(scenario, cdrs, agents))
