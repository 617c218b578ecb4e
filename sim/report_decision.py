"""The decision a report leads with: which plan, by how much, against what, and is it legal.

:func:`decide` reads a run folder's rating (the same numbers as the plan table and
``costs.csv``), its replications (``replications.csv``: one row per seed), its variant
comparison (``compare.json``) and its compliance results, and returns a
:class:`Decision`; :func:`decision_html` writes it as the box at the top of the report.

* **Cheapest plan** and its **margin over the runner-up** in this run; with
  replications, the mean margin over the seeds and its paired 95 % t-interval (the
  same customers under both plans in every replication).
* **Saving against the current plan**: a plan named by the caller, else the plain
  60/60 plan (a per-minute price billed in whole minutes, no fees), else none.
* **Best variant**: the variant whose paired difference in cost per conversion under the
  cheapest plan is the most negative with an interval below zero.
* **Compliance**: rules passed and failed.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from .fmt import ci, money, pct
from .report_html import _e

__all__ = ["Decision", "decide", "decision_html", "reference_plan"]

#: Student-t 0.975 quantiles for 1..30 degrees of freedom (beyond: 1.96 + 2.4 / df).
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201,
         2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074,
         2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)


def _t975(df: int) -> float:
    return _T975[df - 1] if df <= len(_T975) else 1.96 + 2.4 / df


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """What the report's first box says (money in ``currency``; None = not available)."""

    currency: str
    cheapest: str
    cheapest_total: Decimal
    runner_up: str | None = None
    margin: Decimal | None = None
    #: Mean margin over replications and its 95 % CI (low, high), and how many.
    margin_mean: float | None = None
    margin_ci: tuple[float, float] | None = None
    replications: int = 0
    reference: str | None = None
    reference_total: Decimal | None = None
    reference_named: bool = False
    best_variant: str | None = None
    variant_plan: str | None = None
    variant_diff: tuple[float, float, float] | None = None  # mean, low, high
    variants_compared: int = 0
    rules_passed: int | None = None
    rules_failed: tuple[str, ...] = ()
    other_currencies: tuple[str, ...] = ()

    @property
    def saving(self) -> Decimal | None:
        """What the cheapest plan saves against the reference plan in this run."""
        if self.reference_total is None:
            return None
        return self.reference_total - self.cheapest_total

    @property
    def compliant(self) -> bool | None:
        return None if self.rules_passed is None else not self.rules_failed


def reference_plan(plans: Sequence[Any], current: str | None = None) -> tuple[str | None, bool]:
    """The plan to measure the saving against: ``current`` if given (and known), else
    the plain 60/60 plan (per-minute price, ``60/60``, no fees, no bundle)."""
    names = [p.name for p in plans]
    if current is not None and current in names:
        return current, True
    for p in plans:
        if (p.increments == "60/60" and p.price_per_min and not p.connect_fee
                and not p.per_attempt_fee and p.bundle is None and not p.seat_per_month
                and not p.channel_tiers and not p.number_per_month and p.legs == 1):
            return p.name, False
    return None, False


def _paired(rows: Sequence[Mapping[str, str]], a: str, b: str) -> tuple[float, float, float, int]:
    """Mean of ``b - a`` over the rows and its 95 % t-interval."""
    diffs = []
    for r in rows:
        try:
            diffs.append(float(r[b]) - float(r[a]))
        except (KeyError, ValueError):
            continue
    n = len(diffs)
    if n < 2:
        return math.nan, math.nan, math.nan, n
    m = sum(diffs) / n
    sd = math.sqrt(sum((d - m) ** 2 for d in diffs) / (n - 1))
    h = _t975(n - 1) * sd / math.sqrt(n)
    return m, m - h, m + h, n


def _read_rows(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def decide(folder: Path, rating: Any, summary: Mapping[str, Any],
           comparison: Mapping[str, Any] | None = None, *,
           current: str | None = None) -> Decision | None:
    """The decision of a run folder (None when it has no rated plans)."""
    if rating is None:
        return None
    ranked = rating.ranked()
    if not ranked:
        return None
    currency = ranked[0].currency
    group = [s for s in ranked if s.currency == currency]
    others = tuple(dict.fromkeys(s.currency for s in ranked if s.currency != currency))
    best = group[0]
    kw: dict[str, Any] = {"currency": currency, "cheapest": best.plan,
                          "cheapest_total": best.total, "other_currencies": others}
    if len(group) > 1:
        second = group[1]
        kw.update(runner_up=second.plan, margin=second.total - best.total)
        rows = _read_rows(folder / "replications.csv")
        if rows:
            m, lo, hi, n = _paired(rows, f"total:{best.plan}", f"total:{second.plan}")
            if n >= 2:
                kw.update(margin_mean=m, margin_ci=(lo, hi), replications=n)
    plans = [p for p in rating.plans if p.currency == currency]
    ref, named = reference_plan(plans, current)
    if ref is not None and ref != best.plan:
        kw.update(reference=ref, reference_total=rating.summary(ref).total,
                  reference_named=named)
    elif ref is not None:
        kw.update(reference=ref, reference_total=best.total, reference_named=named)
    if comparison:
        kw.update(_best_variant(comparison, best.plan))
    items = summary.get("compliance")
    if items is not None:
        kw.update(rules_passed=sum(1 for c in items if c.get("passed")),
                  rules_failed=tuple(str(c.get("rule", "?")) for c in items
                                     if c.get("passed") is False))
    return Decision(**kw)


def _best_variant(comp: Mapping[str, Any], plan: str) -> dict[str, Any]:
    names = [v["name"] for v in comp.get("variants", [])]
    base = names[0] if names else None
    cands = []
    for r in comp.get("rows", []):
        if (r.get("metric") == "per_conversion" and r.get("plan") == plan
                and r.get("variant") != base and r.get("diff") is not None
                and r.get("diff_high") is not None and r["diff_high"] < 0):
            cands.append((r["diff"], r["variant"], r["diff_low"], r["diff_high"]))
    out: dict[str, Any] = {"variants_compared": max(0, len(names) - 1), "variant_plan": plan}
    if cands:
        d, name, lo, hi = min(cands)
        out.update(best_variant=name, variant_diff=(d, lo, hi))
    return out


def decision_html(d: Decision | None, *, has_plans: bool = True) -> str:
    """The decision box: one line per question, each with a ``data-k`` key for tests."""
    if d is None:
        return ('<div class="decision"><p data-k="cheapest">No billing plans in this run: '
                'no cost decision to make.</p></div>')
    cur = d.currency
    lines = [("cheapest", f"Cheapest plan: <b>{_e(d.cheapest)}</b> at "
                          f"{_e(money(d.cheapest_total, cur, code=True))} for this run.")]
    if d.runner_up is not None and d.margin is not None:
        rel = (f" ({_e(pct(float(d.margin / d.cheapest_total)))})"
               if d.cheapest_total else "")
        text = (f"Margin over the runner-up <b>{_e(d.runner_up)}</b>: "
                f"{_e(money(d.margin, cur, code=True))}{rel}")
        if d.margin_ci is not None and d.margin_mean is not None:
            half = (d.margin_ci[1] - d.margin_ci[0]) / 2
            sure = d.margin_ci[0] > 0
            text += (f"; over {d.replications} replications {_e(ci(d.margin_mean, half, cur))} "
                     f"{_e(cur)} (95% CI, paired), "
                     + ("a real difference." if sure else
                        "<b>not a clear difference</b>: the interval includes 0."))
        else:
            text += " (one run: `dialsim run --reps R --report` gives its 95% CI)."
        lines.append(("margin", text))
    else:
        lines.append(("margin", "Only one plan in this currency: no runner-up."))
    if d.reference is not None and d.saving is not None:
        what = "the current plan" if d.reference_named else "plain 60/60 billing"
        if d.reference == d.cheapest:
            lines.append(("saving", f"Saving against {what} ({_e(d.reference)}): none, it is "
                                    "the cheapest."))
        else:
            rel = (f" ({_e(pct(float(d.saving / d.reference_total)))} of its cost)"
                   if d.reference_total else "")
            lines.append(("saving", f"Saving against {what} <b>{_e(d.reference)}</b>: "
                                    f"{_e(money(d.saving, cur, code=True))}{rel}."))
    else:
        lines.append(("saving", "No 60/60 plan among the plans and no current plan named: "
                                "no saving to show."))
    if d.variants_compared:
        if d.best_variant is not None and d.variant_diff is not None:
            m, lo, hi = d.variant_diff
            lines.append(("variant", f"Best variant: <b>{_e(d.best_variant)}</b>, cost per "
                                     f"conversion under {_e(d.variant_plan)} "
                                     f"{_e(ci(m, (hi - lo) / 2, cur, sign=True))} {_e(cur)} "
                                     "against the base (95% CI, paired)."))
        else:
            lines.append(("variant", f"Best variant: none of {d.variants_compared} beats the "
                                     "base on cost per conversion under "
                                     f"{_e(d.variant_plan)} (no interval below 0)."))
    if d.rules_passed is None:
        lines.append(("compliance", "Compliance: not evaluated."))
    elif d.rules_failed:
        lines.append(("compliance", f'Compliance: <span class="fail">FAIL</span> '
                                    f"({_e(', '.join(d.rules_failed))}); "
                                    f"{d.rules_passed} rule(s) pass."))
    else:
        lines.append(("compliance", f'Compliance: <span class="pass">pass</span> '
                                    f"(all {d.rules_passed} rules)."))
    if d.other_currencies:
        lines.append(("currencies", "Plans in " + _e(", ".join(d.other_currencies))
                      + " are compared in the plan table, within their currency."))
    body = "\n".join(f'<p data-k="{k}">{v}</p>' for k, v in lines)
    return f'<div class="decision">\n{body}\n</div>'
