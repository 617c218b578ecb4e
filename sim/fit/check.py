"""The twin check: is the fitted scenario's traffic the export's traffic?

The fitted scenario is re-simulated R times with the seeds of :mod:`sim.experiment`
(``seed, seed + 1, ...``: the same customers for every scenario compared, common
random numbers) and each replication's CDRs are measured like the export: answer,
no-answer and busy shares of dials, talk median and quartiles, the share of answered
calls of 6 s or less, attempts per lead, and billed minutes / talk minutes under 60/60
and 6/6. The export's figures carry 95 % CIs from its sample (Wilson, order
statistics, the delta method), the twin's from the replications (Student t).

Talk is compared in the export's own terms: whole-second exports by billsec, the
twin's talk rounded by the export's billsec rule. A very large export is simulated at
a reduced scale (fewer leads and agents, same shares): the figures are shares.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..analysis.stats import Estimate as Interval
from ..analysis.stats import mean_ci
from ..cdr import CDRTable
from ..errors import ListExhaustedWarning
from ..experiment import replication_seeds
from .estimate import dials_per_lead, quantile_ci, wilson

if TYPE_CHECKING:
    from .core import Fit

__all__ = ["METRICS", "Check", "measure", "twin_check"]

#: (key, label, unit) of the compared figures, in table order.
METRICS: tuple[tuple[str, str, str], ...] = (
    ("answer_share", "answered share of dials", "%"),
    ("no_answer_share", "no-answer share of dials", "%"),
    ("busy_share", "busy share of dials", "%"),
    ("talk_q25_s", "talk time, 1st quartile", "s"),
    ("talk_median_s", "talk time, median", "s"),
    ("talk_q75_s", "talk time, 3rd quartile", "s"),
    ("short_share", "answered calls <= 6 s", "%"),
    ("attempts_per_lead", "attempts per lead", ""),
    ("billed_ratio_60_60", "billed / talk minutes, 60/60", ""),
    ("billed_ratio_6_6", "billed / talk minutes, 6/6", ""),
)


def _bounded(e: Interval, unit: str) -> Interval:
    """A share's t interval over a few replications kept within 0..1 (a busy share of
    2 % over 5 reps gave -0.1 %..3.8 %); other figures as they are."""
    if unit != "%" or not (math.isfinite(e.low) and math.isfinite(e.high)):
        return e
    return Interval(mean=e.mean, low=max(e.low, 0.0), high=min(e.high, 1.0), n=e.n,
                    level=e.level)


def _billsec(talk_s: np.ndarray, rule: str) -> np.ndarray:
    if rule == "floor":
        return np.floor(talk_s + 1e-9)
    if rule == "round":
        return np.floor(talk_s + 0.5)
    return np.ceil(talk_s - 1e-9)


def _ratio_ci(b: np.ndarray, t: np.ndarray) -> tuple[float, float, float]:
    """sum(b) / sum(t) with a delta-method 95 % CI over calls."""
    n = len(t)
    if n == 0 or t.sum() <= 0:
        return math.nan, math.nan, math.nan
    r = float(b.sum() / t.sum())
    if n < 2:
        return r, math.nan, math.nan
    z = (b - r * t) / t.mean()
    se = float(z.std(ddof=1)) / math.sqrt(n)
    return r, r - 1.96 * se, r + 1.96 * se


def measure(cdrs: CDRTable, *, rule: str, lead: np.ndarray | None = None,
            whole_seconds: bool = False, with_ci: bool = False) -> dict[str, Any]:
    """The check's figures of one CDR table (with ``with_ci``: ``(value, low, high)``)."""
    disp = cdrs["disposition"]
    n = len(disp)
    ans = disp == 0
    if whole_seconds:
        talk = cdrs["billsec"][ans].astype(float)
    else:
        talk = _billsec(cdrs["talk_s"][ans], rule)
    lead = cdrs["lead_id"] if lead is None else lead
    out: dict[str, Any] = {}

    def put(key: str, v: tuple[float, float, float]) -> None:
        out[key] = v if with_ci else v[0]

    put("answer_share", wilson(int(ans.sum()), n))
    put("no_answer_share", wilson(int((disp == 1).sum()), n))
    put("busy_share", wilson(int((disp == 2).sum()), n))
    for q, key in ((0.25, "talk_q25_s"), (0.5, "talk_median_s"), (0.75, "talk_q75_s")):
        put(key, quantile_ci(talk, q))
    put("short_share", wilson(int((talk <= 6).sum()), len(talk)))
    per = np.unique(lead, return_counts=True)[1] if n else np.zeros(0)
    put("attempts_per_lead", dials_per_lead(per))
    billed = talk > 0
    tb = talk[billed]
    put("billed_ratio_60_60", _ratio_ci(np.ceil(tb / 60) * 60, tb))
    put("billed_ratio_6_6", _ratio_ci(np.ceil(tb / 6) * 6, tb))
    return out


@dataclass(frozen=True, slots=True)
class Check:
    """The export against its twin: per metric the export's value and CI, the twin's."""

    export: dict[str, tuple[float, float, float]]
    twin: dict[str, Interval]
    reps: int
    seed: int
    scale: float

    def rows(self) -> list[dict[str, Any]]:
        out = []
        for key, label, unit in METRICS:
            v, lo, hi = self.export[key]
            t = self.twin[key]
            diff = t.mean - v
            rel = diff / v if v else math.nan
            overlap = (math.isfinite(lo) and math.isfinite(t.low)
                       and t.low <= hi and lo <= t.high)
            out.append({"metric": key, "label": label, "unit": unit, "export": v,
                        "export_low": lo, "export_high": hi, "twin": t.mean,
                        "twin_low": t.low, "twin_high": t.high, "diff": diff,
                        "rel_diff": rel, "cis_overlap": bool(overlap)})
        return out

    def to_json(self) -> dict[str, Any]:
        return {"reps": self.reps, "seed": self.seed, "scale": self.scale,
                "metrics": self.rows()}

    def table(self) -> str:
        from ..commands._common import format_table

        def fmt(x: float, unit: str) -> str:
            if not math.isfinite(x):
                return "-"
            return f"{100 * x:.1f}" if unit == "%" else f"{x:.3g}"

        body = []
        for r in self.rows():
            u = r["unit"]
            body.append([r["label"] + (" (%)" if u == "%" else " (s)" if u == "s" else ""),
                         fmt(r["export"], u),
                         f"{fmt(r['export_low'], u)}..{fmt(r['export_high'], u)}",
                         fmt(r["twin"], u),
                         f"{fmt(r['twin_low'], u)}..{fmt(r['twin_high'], u)}",
                         ("+" if r["diff"] >= 0 else "") + fmt(r["diff"], u),
                         "yes" if r["cis_overlap"] else "NO"])
        return format_table(body, ["figure", "export", "95% CI", f"twin ({self.reps} reps)",
                                   "95% CI", "twin - export", "CIs overlap"],
                            align="lrrrrrr")


def _replication(args: tuple[Any, int, str, bool]) -> dict[str, float]:
    import sim  # the simulator through the public API: sim.fit itself never loads simpy

    scenario, seed, rule, _ = args
    with warnings.catch_warnings():
        # the twin dials the export's own leads: its list runs out as the export's did
        warnings.simplefilter("ignore", ListExhaustedWarning)
        result = sim.run(scenario, seed=seed)
    return measure(result.cdrs, rule=rule)


def twin_check(f: Fit, *, reps: int = 5, seed: int = 1, max_leads: int = 40_000,
               executor: Any = None) -> Check:
    """Re-simulate ``f.scenario`` ``reps`` times and compare it with the export."""
    d = f.dials
    rule = d.billsec_rule if d.billsec_rule != "unknown" else "ceil"
    # d.lead is in lead order, not the table's; measure() only counts distinct leads
    export = measure(f.cdrs, rule=rule, lead=d.lead, whole_seconds=d.whole_seconds,
                     with_ci=True)
    scenario = f.scenario
    size = scenario.list.size
    scale = 1.0
    if size > max_leads:
        scale = max_leads / size
        agents = max(1, round(scenario.agents.count * scale))
        scenario = scenario.with_overrides({"list.size": max_leads, "agents.count": agents})
    jobs = [(scenario, s, rule, d.whole_seconds) for s in replication_seeds(seed, reps)]
    rows = list(executor.map(_replication, jobs) if executor is not None
                else map(_replication, jobs))
    twin = {key: _bounded(mean_ci([r[key] for r in rows]), unit)
            for key, _, unit in METRICS}
    return Check(export=export, twin=twin, reps=reps, seed=seed, scale=scale)

