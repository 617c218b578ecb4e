"""The report sections about money, shared by the run report (:mod:`sim.report`) and the
rate report (:mod:`sim.report_rate`): the plan comparison, the rounding analysis (what
block rounding costs each plan) and the break-even between plans.

Each section prices the same calls with the same :class:`~sim.billing.Rating`, so the
page agrees with ``costs.csv`` to the last digit.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import numpy as np

from .billing import Plan, Rating, rate
from .billing.costs import plan_table
from .cdr import CDRTable
from .fmt import money, unit_places
from .report_folder import RunFolder
from .report_html import _CI, _e, _empty, _f, _Figures, _note, _num, _pct, _slug, _table

__all__ = ["rounding_costs"]


def _plans_section(run: RunFolder, rating: Rating | None, figs: _Figures) -> str:
    if rating is None:
        return _empty("No billing plans in this run (the scenario has no billing.plans and "
                      "no --plans were given), so there is nothing to compare.")
    from .analysis.plots import plot_plan_costs

    out = [_note("The same calls priced under every plan: telecom charges plus prorated "
                 "plan-level fees (seats, channels, numbers, bundles); 'with labour' adds "
                 "the agents' logged-in hours. Cheapest first, per currency.")]
    plans = {p.name: p for p in rating.plans}
    groups: dict[str, list[Any]] = {}
    for s in rating.ranked():
        groups.setdefault(s.currency, []).append(s)
    est = (run.replications or {}).get("estimates", {})
    for currency, group in groups.items():
        header, rows = plan_table(group, plans, currency, labour=True,
                                  traffic=any(s.traffic for s in group),
                                  tax=any(s.tax for s in group), dash="–")
        header[3] = "rounding overhead"
        out.append(f"<h3>{_e(currency)}</h3>")
        out.append(_table(header, rows, left=2,
                          best=lambda j: j == 0, wrap=(1,)))
        terms = [[s.plan, t.term.name, t.term.line, t.term.action,
                  f"{sum(w.fired for w in t.windows)} / {len(t.windows)}",
                  "–" if t.worst != t.worst else (f"{t.worst:.2f} s" if t.term.metric == "acd_s"
                                                  else f"{100 * t.worst:.2f}%"),
                  _num(t.cost)] for s in group for t in s.traffic]
        if terms:  # portfolio terms: their fees are in the total (above)
            out.append(_note("Traffic terms: each term's line, the windows in which it "
                             "fired, the metric of its worst window and what it cost "
                             "(included in the total; per window in summary.json)."))
            out.append(_table(["plan", "term", "line", "action", "windows fired",
                               "worst window", f"cost {currency}"], terms, left=4))
        if len(group) > 1:
            gap = group[1].total - group[0].total
            rel = f" (+{100 * gap / group[0].total:.1f}%)" if group[0].total else ""
            out.append(_note(f"Cheapest: {group[0].plan} at "
                             f"{money(group[0].total, currency, code=True)}; "
                             f"the runner-up {group[1].plan} costs "
                             f"{money(gap, currency, code=True)} more{rel}. Plans that bill "
                             "no talk time (flat fee per call or per dial) show no billed "
                             "minutes or rounding overhead."))
        names = [s.plan for s in group]
        if est and all(f"total:{n}" in est for n in names):
            costs: dict[str, Any] = {
                n: _CI(mean=_f(est[f"total:{n}"]["mean"]), low=_f(est[f"total:{n}"]["low"]),
                            high=_f(est[f"total:{n}"]["high"]), n=int(est[f"total:{n}"]["n"]))
                for n in names}
            caption = (f"Total cost per plan ({currency}), mean and 95% CI over "
                       f"{len(run.replications.get('seeds', [])) if run.replications else 0} "
                       "replications")
        else:
            costs = {s.plan: s.total for s in group}
            caption = f"Total cost per plan ({currency}), this run"
        ax = plot_plan_costs(costs, currency=currency)
        out.append(figs.add(f"plan-costs-{currency}", ax, caption))
    return "\n".join(out)


def rounding_costs(cdrs: CDRTable, rating: Rating) -> dict[str, Decimal | None]:
    """What block rounding costs each plan on these calls (currency): its total minus
    the total of the same plan billed by the second (every step's increment 1 s), both
    from the rater. None for plans that bill no talk time."""
    from dataclasses import replace

    from .billing.describe import bills_time

    def per_second(p: Plan) -> Plan:
        steps = tuple(replace(st, increment_s=1) for st in p.steps)
        dests = tuple(replace(d, steps=tuple(replace(st, increment_s=1) for st in d.steps))
                      if d.steps else d for d in p.destinations)
        return replace(p, steps=steps, destinations=dests)

    timed = [p for p in rating.plans if bills_time(p)]
    out: dict[str, Decimal | None] = {p.name: None for p in rating.plans}
    if not timed:
        return out
    flat = rate(cdrs, [per_second(p) for p in timed], campaign=rating.campaign)
    for p in timed:
        out[p.name] = rating.summary(p.name).total - flat.summary(p.name).total
    return out


def _rounding_section(run: RunFolder, rating: Rating | None, figs: _Figures) -> str:
    if rating is None or run.cdrs is None:
        return _empty("No billing plans (or no CDRs) in this run: no rounding to analyse.")
    from .analysis.plots import plot_talk_histogram
    from .analysis.rounding import rounding_analysis

    ra = rounding_analysis(run.cdrs, rating)
    cost = rounding_costs(run.cdrs, rating)
    trims = sorted({t.trim_s for p in ra for t in p.trims})
    lines = any(p.short_lines for p in ra)  # plans with a short-call surcharge line
    rank = {s.plan: i for i, s in enumerate(rating.ranked())}
    # Costliest rounding first; plans that bill no time (nothing to round) last.
    order = sorted(ra, key=lambda p: (cost[p.plan] is None,
                                      -(cost[p.plan] or 0), rank[p.plan]))
    rows = []
    for p in order:
        c = cost[p.plan]
        if c is None:
            rows.append([p.plan, "no time billed", "–", "–", "–", "–",
                         f"{p.short_calls:,}", "–", *["–" for _ in trims],
                         *(["–"] if lines else [])])
            continue
        by_k = {t.trim_s: t for t in p.trims}
        rows.append([p.plan, f"{p.first_block_s}/{p.next_block_s}",
                     money(c, p.currency, code=True), f"{p.billed_s / 60:,.1f}",
                     f"{p.rounding_s / 60:,.1f}", _pct(p.rounding_share),
                     f"{p.short_calls:,} ({_pct(p.short_share)})",
                     f"{money(p.short_charge, p.currency)} ({_pct(p.short_charge_share)})",
                     *[f"{by_k[k].calls:,} / {money(by_k[k].saved, p.currency)}"
                       for k in trims],
                     *(["; ".join(f"≤{x.max_s} s: {_pct(x.share)} vs {_pct(float(x.threshold))}"
                                  for x in p.short_lines) or "–"] if lines else [])])
    out = [_note("Carriers bill talk time in blocks; what a call leaves unused of its last "
                 "block is billed anyway. Plans are ranked by what rounding costs them on "
                 "these calls: the plan's total minus the same plan billed by the second "
                 "(both from the rater). 'Rounding min' is billed minus billable time "
                 "(whole seconds, all legs); 'short calls' are calls billed a whole first "
                 "block though shorter than it (their charges include connection and "
                 "attempt fees); 'trim ≤ k s' counts the calls ending at most k s past a "
                 "block boundary (after the first block) and what ending them at the "
                 "boundary would save in call charges. Plans that bill no talk time (a "
                 "flat fee per call or per dial) have nothing to round."),
           _table(["plan", "blocks (first / next, s)", "rounding costs", "billed min",
                   "rounding min", "rounding share", "short calls (share)",
                   "their cost (share)", *[f"trim ≤ {k} s: calls / saving" for k in trims]],
                  rows)]
    # Histograms of the two plans rounding costs most (plans that bill time only).
    picks = [p.plan for p in order if cost[p.plan] is not None and (cost[p.plan] or 0) > 0][:2]
    plans = {p.name: p for p in rating.plans}
    for name in picks:
        ax = plot_talk_histogram(run.cdrs, plans[name], rounding_share=ra[name].rounding_share)
        out.append(figs.add(f"talk-{_slug(name)}", ax,
                            f"Talk time of answered calls against the blocks of {name} "
                            "(rounding costs "
                            f"{money(cost[name], plans[name].currency, code=True)})"))
    return "\n".join(out)


def _breakeven_section(run: RunFolder, rating: Rating | None, figs: _Figures) -> str:
    if rating is None or run.cdrs is None:
        return _empty("No billing plans (or no CDRs) in this run: no break-even to compute.")
    from .analysis.breakeven import CallMix, breakeven_map, charge_table, cost_curve
    from .analysis.plots import plot_breakeven_map, plot_cost_curve

    mix = CallMix.from_cdrs(run.cdrs)
    sigma = min(mix.sigma, 1.5)  # a wider fit comes from few calls; keep the map meaningful
    talk = run.summary.get("kpis", {}).get("mean_talk_s")
    talk_text = (f"Answered calls talk {talk:,.1f} s on average (the KPI table's mean talk "
                 "time); of them " if isinstance(talk, int | float) and math.isfinite(talk)
                 else "Of the answered calls, ")
    out = [_note(
        f"{talk_text}{100 * mix.p_short:.0f}% are short calls (1–{mix.short_max_s} s) and the "
        f"rest, the conversations, average {mix.mean_talk_s:.0f} s (fitted as a lognormal, "
        f"log-sd {sigma:.2f}). The map and curve give the expected cost per answered call "
        "of each plan for call mixes around this one. Charges come from the rater; each "
        "plan's fees of this run (rent, bundles) are added per answered call, and "
        "per-attempt fees at this run's dials per answer.")]
    ranked_names = [s.plan for s in rating.ranked()]
    groups: dict[str, list[Plan]] = {}
    for p in rating.plans:
        groups.setdefault(p.currency, []).append(p)
    for currency, plans in groups.items():
        answered = rating.summary(plans[0].name).answered
        if answered == 0:
            out.append(_empty(f"{currency}: no answered calls, no mix to compare plans on."))
            continue
        fixed = {p.name: rating.summary(p.name).fees.total / answered for p in plans}
        dpa = max(1.0, len(run.cdrs) / answered)
        means = np.geomspace(5, 600, 40)
        # One charge table (every plan, every billed second) for the map and the curve.
        table = charge_table(plans, CallMix(mean_talk_s=600, sigma=sigma).d_max(),
                             fixed_per_call=fixed, dials_per_answer=dpa)
        bmap = breakeven_map(plans, means, np.linspace(0, 0.95, 39), sigma=sigma, table=table)
        out.append(f"<h3>{_e(currency)}</h3>")
        out.append(figs.add(f"breakeven-map-{currency}", plot_breakeven_map(bmap, mix=mix),
                            "Cheapest plan by mean conversation length and share of short "
                            "calls; the star is this campaign"))
        curve = cost_curve(plans, means, p_short=mix.p_short, sigma=sigma, table=table,
                           xtol_s=0.01)
        at_mix = {name: float(np.interp(mix.mean_talk_s, means, c))
                  for name, c in curve.costs.items()}
        by_cost = sorted(at_mix, key=lambda n: at_mix[n])
        shown = list(dict.fromkeys([*bmap.winners(), *by_cost[:4]]))
        out.append(figs.add(f"breakeven-curve-{currency}",
                            plot_cost_curve(curve, plans=shown, mark_s=mix.mean_talk_s),
                            f"Cost per answered call against mean conversation length at "
                            f"{100 * mix.p_short:.0f}% short calls"))
        cross_places = unit_places([c.cost for c in curve.crossings], currency)
        rows = [[c.left, c.right, f"{c.mean_talk_s:,.1f}",
                 money(c.cost, currency, places=cross_places)] for c in curve.crossings]
        if rows:
            out.append(_table(["cheaper below", "cheaper above", "mean talk (s)",
                               f"cost per answered call ({currency})"], rows, left=2))
        else:
            out.append(_note("The same plan is cheapest over the whole range."))
        best = by_cost[0]
        table_best = next(n for n in ranked_names if n in at_mix)
        places = unit_places(list(at_mix.values()), currency)
        if best == table_best:
            out.append(_note(f"At this campaign's own mix the model agrees with the plan "
                             f"table: {best} is cheapest "
                             f"({money(at_mix[best], currency, places=places, code=True)} "
                             "per answered call)."))
        else:
            out.append(_note(
                f"The plan table, which prices this run's actual calls, ranks {table_best} "
                f"cheapest; the model at the fitted mix ranks {best} first "
                f"({money(at_mix[best], currency, places=places, code=True)} against "
                f"{money(at_mix[table_best], currency, places=places, code=True)} per "
                "answered call). They differ because the model replaces the run's call "
                "lengths by a smooth fitted mix, and the two plans are close at it; for this "
                "run's bill, the plan table is the answer."))
    return "\n".join(out)
