"""The report sections about the campaign itself (:mod:`sim.report`): the KPI table,
the variants compared on the same customers, compliance and operations over time.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from .report_folder import RunFolder
from .report_html import _CI, _e, _empty, _est, _f, _Figures, _note, _num, _table


def _kpis(run: RunFolder) -> str:
    from .analysis.kpis import KPI_LABELS

    kpis = run.summary.get("kpis", {})
    est = (run.replications or {}).get("estimates", {})
    header = ["KPI", f"seed {run.summary.get('seed')}"]
    if est:
        seeds = run.replications.get("seeds", []) if run.replications else []
        header += [f"mean ± 95% CI ({len(seeds)} replications)", "low", "high"]
    rows = []
    for key, (label, fmt) in KPI_LABELS.items():
        v = kpis.get(key)
        if v is None and key not in est:
            continue
        row = [label, "n/a" if v is None else _num(v, fmt)]
        if est:
            e = est.get(key)
            f = "{:,.1f}" if fmt == "{:,.0f}" else fmt  # a mean of counts has decimals
            row += ["–", "", ""] if e is None else [
                _est(e["mean"], e["low"], e["high"], f), _num(e["low"], f), _num(e["high"], f)]
        rows.append(row)
    intro = _note("One run of the campaign" + (
        "; the columns on the right are means over replications with common seeds, each "
        "with a Student-t 95% confidence interval." if est else
        ". One run is one draw: `dialsim run --reps R` adds 95% confidence intervals."))
    return intro + _table(header, rows) + _lead_status(run.summary.get("lead_status") or {})


def _lead_status(status: Mapping[str, int]) -> str:
    """Leads by final status, each as a share of the dialable leads (the list minus its
    DNC leads), and the closed ones together: the KPI table's "Leads closed"."""
    from .analysis.kpis import CLOSED_STATUSES, KPI_LABELS, dialable_leads

    if not status:
        return ""
    fmt = KPI_LABELS["leads_closed"][1]
    base = dialable_leads(sum(status.values()), dict(status))

    def share(n: int) -> str:
        return _num(n / base, fmt) if base else "n/a"

    rows = [[k, f"{v:,}", "– (never dialled)" if k == "dnc" else share(v)]
            for k, v in status.items()]
    closed = sum(status.get(k, 0) for k in CLOSED_STATUSES)
    rows.append([f"closed ({' + '.join(CLOSED_STATUSES)})", f"{closed:,}", share(closed)])
    return ("<h3>Leads by final status</h3>"
            + _note(f"Shares of the {base:,} dialable leads (the list less its DNC leads, "
                    "which are never dialled); the closed ones are the KPI table's "
                    "'Leads closed'.")
            + _table(["status", "leads", "share of dialable leads"], rows))


def _variants_section(run: RunFolder, figs: _Figures) -> str:
    comp = run.comparison
    declared = [v.get("name", "?") for v in
                run.summary.get("scenario", {}).get("values", {}).get("variant", [])]
    if comp is None:
        text = ("No variant comparison in this folder. "
                + (f"The scenario declares {len(declared)} variant(s) "
                   f"({', '.join(declared)}): run `dialsim compare SCENARIO --out DIR "
                   "--report` to compare them on the same customers." if declared else
                   "The scenario declares no [[variant]] entries."))
        return _empty(text)
    from .analysis.plots import plot_variant_costs

    rows = comp["rows"]
    names = [v["name"] for v in comp["variants"]]
    seeds = comp.get("seeds", [])
    out = [_note(f"The base scenario and each variant ran on the same {len(seeds)} seeds "
                 "(common random numbers): the same leads answer and react the same way. "
                 "Differences to the base are paired per seed, with a 95% CI; bold = the "
                 "interval excludes zero.")]
    desc = [[v["name"], v.get("description", ""),
             "; ".join(f"{k} = {json.dumps(val)}" for k, val in v.get("overrides", {}).items())]
            for v in comp["variants"]]
    out.append(_table(["variant", "description", "overrides"], desc, left=3))

    def cell(r: Mapping[str, Any], fmt: str | None = None, cur: str | None = None) -> str:
        is_money = cur is not None
        text = _e(_est(r["mean"], r["low"], r["high"], fmt, currency=cur, money_=is_money))
        if r["diff"] is None:
            return text
        d = _est(r["diff"], r["diff_low"], r["diff_high"], fmt, currency=cur,
                 money_=is_money, sign=True)
        lo, hi = r["diff_low"], r["diff_high"]
        sure = lo is not None and hi is not None and (lo > 0 or hi < 0)
        cls = "sure" if sure else "muted"
        return f'{text}<br><span class="{cls}">Δ {_e(d)}</span>'

    index = {(r["metric"], r["plan"], r["variant"]): r for r in rows}
    plans = [p["name"] for p in comp.get("plans", [])]
    currency = {p["name"]: p["currency"] for p in comp.get("plans", [])}
    plan_free = [m for m in ("contacts", "conversions", "abandonment_rate")
                 if any(k[0] == m for k in index)]
    table = [[m.replace("_", " "), *[cell(index[(m, "", n)], "{:.2%}" if "rate" in m
                                          else None)
                                     for n in names]] for m in plan_free]
    out.append("<h3>All plans</h3>" + _table(["figure", *names], table, raw=True))
    for metric, label in (("per_conversion", "Cost per conversion"),
                          ("per_contact", "Cost per contact")):
        table = [[_e(p), *[cell(index[(metric, p, n)], None, currency.get(p, "")) for n in names]]
                 for p in plans if all((metric, p, n) in index for n in names)]
        if table:
            out.append(f"<h3>{label}</h3>" + _table(["plan", *names], table, raw=True))
    if plans:
        def base_cost(p: str) -> float:
            r = index.get(("per_conversion", p, names[0]))
            return r["mean"] if r and r["mean"] is not None and math.isfinite(r["mean"]) \
                else math.inf
        plan = min(plans, key=base_cost)
        found = [index.get(("per_conversion", plan, n)) for n in names]
        key = [r for r in found if r is not None and r["mean"] is not None]
        if len(key) == len(names):
            est = {n: _CI(mean=r["mean"], low=_f(r["low"]), high=_f(r["high"]), n=r["n"])
                   for n, r in zip(names, key, strict=True)}
            diffs = {n: _CI(mean=r["diff"], low=_f(r["diff_low"]), high=_f(r["diff_high"]),
                                 n=r["n"]) for n, r in zip(names, key, strict=True)
                     if r["diff"] is not None}
            ax = plot_variant_costs(est, diffs=diffs, currency=currency.get(plan, ""),
                                    plan=plan)
            out.append(figs.add("variants-per-conversion", ax,
                                f"Cost per conversion by variant under {plan}"))
    return "\n".join(out)


def _compliance_section(run: RunFolder) -> str:
    items = run.summary.get("compliance")
    if items is None:
        return _empty("Compliance: not evaluated for this run.")
    if not items:
        return _empty("Compliance: no rules configured for this scenario.")
    epoch = run.cdrs.epoch if run.cdrs is not None else None
    rows = []
    for c in items:
        ok = c.get("passed")
        mark = ('<span class="pass">pass</span>' if ok else '<span class="fail">FAIL</span>'
                if ok is not None else "–")
        limit = c.get("limit")
        # Shares (a limit between 0 and 1, like 3 %) read best as percentages.
        fmt = "{:.2%}" if isinstance(limit, int | float) and 0 < limit < 1 else None
        rows.append([_e(c.get("rule", "")), _e(c.get("measure", "")),
                     _e(_num(c.get("value"), fmt)), _e(_num(limit, fmt)), mark,
                     _e(_num(c.get("calls"), "{:,.0f}")), _e(_window(c.get("worst_window"), epoch)),
                     _e(c.get("detail", ""))])
    failed = sum(1 for c in items if c.get("passed") is False)
    head = _note(f"{len(items)} rule(s) evaluated, {failed} failed. Windows are local "
                 "dates and clock times of the campaign.")
    return head + _table(["rule", "measure", "value", "limit", "result", "calls",
                          "worst window", "detail"], rows, left=2, raw=True, wrap=(1, 7))


def _clock(t_s: Any, epoch: str | None = None) -> str:
    """A time (s from the epoch) as ``Mon 2 Mar 09:00`` (``day N 09:00`` without one)."""
    import datetime as dt

    try:
        t = float(t_s)
    except (TypeError, ValueError):
        return str(t_s)
    if not math.isfinite(t):
        return "–"
    if epoch is not None:
        try:
            when = dt.datetime.fromisoformat(epoch) + dt.timedelta(seconds=t)
        except (ValueError, OverflowError):
            pass
        else:
            return f"{when:%a} {when.day} {when:%b %H:%M}"
    day, rest = divmod(int(t), 86_400)
    return f"day {day + 1} {rest // 3600:02d}:{rest % 3600 // 60:02d}"


def _window(w: Any, epoch: str | None = None) -> str:
    if w is None:
        return "–"
    if isinstance(w, Sequence) and not isinstance(w, str) and len(w) == 2:
        return f"{_clock(w[0], epoch)} – {_clock(w[1], epoch)}"
    return str(w)


def _operations_section(run: RunFolder, figs: _Figures) -> str:
    from .analysis.plots import plot_abandonment, plot_agent_states, plot_dial_level

    out = []
    if run.agents is not None and len(run.agents):
        epoch = run.cdrs.epoch if run.cdrs is not None else None
        out.append(figs.add("agent-states", plot_agent_states(run.agents, epoch=epoch),
                            "Average agents talking, in wrap-up, previewing and idle"))
    else:
        out.append(_empty("No agent log in this folder."))
    if run.cdrs is not None:
        limit = run.summary.get("scenario", {}).get("values", {}).get(
            "dialer", {}).get("target_abandon", 0.03)
        out.append(figs.add("abandonment", plot_abandonment(run.cdrs, limit=float(limit)),
                            "Abandoned share of live answers per hour and to date"))
    if run.timeline:
        out.append(figs.add("dial-level", plot_dial_level(
            run.timeline, epoch=run.cdrs.epoch if run.cdrs is not None else None),
                            "Dial level and abandonment rate of the pooled dialer"))
    else:
        out.append(_note("No dialer timeline in this folder (timeline.csv)."))
    return "\n".join(out)
