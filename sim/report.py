"""The HTML report of a run folder: one self-contained page a campaign manager can read.

``write_report(run_dir)`` reads what ``dialsim run`` (and ``dialsim compare``) wrote —
summary.json, cdrs.csv, agents.csv, the plan files copied under ``plans/``, and when
present replications.json, compare.json and timeline.csv — and writes ``report.html``
with every plot embedded as a base64 PNG (the page needs no other file, no network),
plus the same PNGs beside it (``report-<name>.png``) for slides and mail.

Sections, always present (each says plainly when its input is missing): the decision
box (cheapest plan, margin over the runner-up, saving against 60/60 or the current plan,
best variant, compliance; :mod:`sim.report_decision`), the KPI table, the plan
comparison, the rounding analysis, break-even between plans, the variants
compared on the same customers, compliance (``summary.json["compliance"]``, "not
evaluated" when absent) and operations (agent states, abandonment and the dialer's
pacing over time). Nothing is simulated here: the CDRs are re-rated from the files, so
the report agrees with ``costs.csv`` to the last digit, and every section uses the same
rating and the same call mix. Money is written by :mod:`sim.fmt`; every value put into
the page is escaped with :func:`html.escape`.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import math
import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from . import __version__
from .agentlog import AGENT_STATES, AgentLog
from .billing import CampaignInfo, Plan, Rating, rate
from .billing.costs import plan_table
from .cdr import CDRTable
from .errors import OutputExistsError, SimError
from .fmt import ci, money, number, unit_places
from .output import atomic_write, atomic_write_text
from .report_decision import decide, decision_html

__all__ = ["REPORT_NAME", "SECTIONS", "RunFolder", "load_run", "read_agent_log",
           "render_report", "write_report"]

REPORT_NAME = "report.html"
#: Section id -> heading, in page order. Every report has all of them.
SECTIONS: dict[str, str] = {
    "decision": "Decision",
    "kpis": "Campaign KPIs",
    "plans": "Plan comparison",
    "rounding": "Rounding analysis",
    "breakeven": "Break-even between plans",
    "variants": "Variants on the same customers",
    "compliance": "Compliance",
    "operations": "Operations over time",
}
_DPI = 90


class _CI(NamedTuple):
    """A mean and its interval read back from JSON (what the plots need of an Estimate;
    sim.analysis.stats is not imported here: scipy.stats takes seconds to load)."""

    mean: float
    low: float
    high: float
    n: int


@dataclass(frozen=True, slots=True, kw_only=True)
class RunFolder:
    """What a run folder holds, read back from its files."""

    path: Path
    summary: Mapping[str, Any]
    cdrs: CDRTable | None
    agents: AgentLog | None
    plans: tuple[Plan, ...]
    replications: Mapping[str, Any] | None
    comparison: Mapping[str, Any] | None
    timeline: Mapping[str, np.ndarray] | None

    @property
    def campaign(self) -> CampaignInfo | None:
        c = self.summary.get("campaign")
        if not c:
            return None
        return CampaignInfo(seats=int(c["seats"]), channels=int(c["channels"]),
                            numbers=int(c["numbers"]), days=Decimal(str(c["days"])),
                            labour=Decimal(str(c["labour"])))

    def rating(self) -> Rating | None:
        """The CDRs rated under the folder's plans with the run's campaign facts."""
        if self.cdrs is None or not self.plans:
            return None
        return rate(self.cdrs, self.plans, campaign=self.campaign)


# -- reading a folder ---------------------------------------------------------------


def read_agent_log(path: str | Path) -> AgentLog:
    """Read agents.csv (agent_id, state, start_s, end_s, ...; ISO columns ignored)."""
    ids: list[int] = []
    states: list[int] = []
    starts: list[float] = []
    ends: list[float] = []
    with open(path, newline="", encoding="utf-8") as fh:
        for i, row in enumerate(csv.DictReader(fh), 2):
            try:
                ids.append(int(row["agent_id"]))
                states.append(AGENT_STATES.index(row["state"]))
                starts.append(float(row["start_s"]))
                ends.append(float(row["end_s"]))
            except (KeyError, ValueError, TypeError) as exc:
                raise SimError(f"{path}: line {i}: not an agent log row ({exc})") from None
    return AgentLog(agent_id=np.asarray(ids, dtype=np.int32),
                    state=np.asarray(states, dtype=np.int8),
                    start=np.asarray(starts, dtype=float), end=np.asarray(ends, dtype=float))


def _read_timeline(path: Path) -> dict[str, np.ndarray]:
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    if not rows:
        return {}
    head, body = rows[0], rows[1:]
    keep = [i for i, k in enumerate(head) if k != "time"]  # ISO stamps: t has the seconds
    data = np.asarray([[r[i] for i in keep] for r in body], dtype=float).reshape(
        len(body), len(keep))
    return {head[i]: data[:, j] for j, i in enumerate(keep)}


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SimError(f"{path}: cannot read ({exc})") from None


def _plans(folder: Path, summary: Mapping[str, Any]) -> tuple[Plan, ...]:
    """The run's plans: the copies in the folder, else the files it names."""
    from .billing import load_plans  # not sim.costing: it loads the scenario machinery

    for paths in ([folder / p for p in summary.get("plans_copies", [])],
                  [Path(p) for p in summary.get("plans_files", [])]):
        if paths and all(p.is_file() for p in paths):
            return tuple(plan for p in paths for plan in load_plans(p))
    return ()


def load_run(path: str | Path) -> RunFolder:
    """Read a run folder written by ``dialsim run`` or ``dialsim compare``.

    Raises
    ------
    SimError
        ``path`` is not a folder with a summary.json.
    """
    from .cdrio import read_cdrs

    folder = Path(path)
    if not (folder / "summary.json").is_file():
        raise SimError(f"{folder}: not a dialsim run folder (no summary.json); "
                       "make one with `dialsim run SCENARIO --out DIR`")
    summary = _json(folder / "summary.json")
    cdrs = read_cdrs(folder / "cdrs.csv").cdrs if (folder / "cdrs.csv").is_file() else None
    agents = read_agent_log(folder / "agents.csv") if (folder / "agents.csv").is_file() \
        else None
    extra = {name: _json(folder / f"{name}.json") if (folder / f"{name}.json").is_file()
             else None for name in ("replications", "compare")}
    timeline = _read_timeline(folder / "timeline.csv") if (folder / "timeline.csv").is_file() \
        else None
    return RunFolder(path=folder, summary=summary, cdrs=cdrs, agents=agents,
                     plans=_plans(folder, summary), replications=extra["replications"],
                     comparison=extra["compare"], timeline=timeline)


# -- HTML pieces ----------------------------------------------------------------------

def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]], *, left: int = 1,
           best: Callable[[int], bool] | None = None, raw: bool = False,
           wrap: Sequence[int] = ()) -> str:
    """An HTML table; the first ``left`` columns left-aligned, columns ``wrap`` wrapped;
    cells escaped unless ``raw``; header cells (variant and plan names) always escaped."""
    def cell(tag: str, i: int, v: Any, raw: bool = raw) -> str:
        cls = ' class="w"' if tag == "td" and i in wrap else ' class="l"' if i < left else ""
        return f"<{tag}{cls}>{v if raw else _e(v)}</{tag}>"

    out = ["<div class=\"scroll\"><table>",
           "<tr>" + "".join(cell("th", i, h, False) for i, h in enumerate(header)) + "</tr>"]
    for j, r in enumerate(rows):
        cls = ' class="best"' if best is not None and best(j) else ""
        out.append(f"<tr{cls}>" + "".join(cell("td", i, v) for i, v in enumerate(r)) + "</tr>")
    out.append("</table></div>")
    return "\n".join(out)


def _empty(text: str) -> str:
    return f'<p class="empty">{_e(text)}</p>'


def _note(text: str) -> str:
    return f'<p class="note">{_e(text)}</p>'


def _num(x: Any, fmt: str | None = None) -> str:
    """A number for the page: ``fmt`` if given, else 4 significant digits, fixed-point."""
    if x is None:
        return "–"
    if isinstance(x, Decimal):
        return f"{x:,}"
    try:
        f = float(x)
    except (TypeError, ValueError):
        return str(x)
    if not math.isfinite(f):
        return "n/a"
    return fmt.format(f) if fmt is not None else number(f, 4)


def _est(mean: float | None, low: float | None, high: float | None,
         fmt: str | None = None, *, currency: str | None = None, money_: bool = False,
         sign: bool = False) -> str:
    """``mean ± half``: half-widths to 2 significant digits (:func:`sim.fmt.ci`)."""
    if mean is None or not math.isfinite(mean):
        return "n/a"
    half = None
    if low is not None and high is not None and math.isfinite(low) and math.isfinite(high):
        half = (high - low) / 2
    if fmt is not None and "%" in fmt:
        if half is None:
            return fmt.format(mean)
        text = ci(100 * mean, 100 * half, is_money=False, places=max(1, _places(fmt)),
                  sign=sign)
        return text.replace(" ± ", "% ± ") + "%"
    if fmt is not None and half is None:
        return fmt.format(mean)
    return ci(mean, half, currency, is_money=money_, sign=sign)


def _places(fmt: str) -> int:
    """Places after the point of a format like ``{:.2%}``."""
    head, dot, rest = fmt.partition(".")
    digits = "".join(c for c in rest if c.isdigit())
    return int(digits) if dot and digits else 0


class _Figures:
    """Renders Axes to PNG once: embedded in the page and kept for files beside it."""

    def __init__(self) -> None:
        self.png: dict[str, bytes] = {}

    def add(self, name: str, ax: Any, caption: str) -> str:
        buf = io.BytesIO()
        ax.figure.savefig(buf, format="png", dpi=_DPI)
        data = buf.getvalue()
        self.png[name] = data
        b64 = base64.b64encode(data).decode("ascii")
        return (f'<figure><img alt="{_e(caption)}" src="data:image/png;base64,{b64}">'
                f"<figcaption>{_e(caption)}</figcaption></figure>")


# -- sections -------------------------------------------------------------------------


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
    status = run.summary.get("lead_status") or {}
    extra = ""
    if status:
        extra = "<h3>Leads by final status</h3>" + _table(
            ["status", "leads"], [[k, f"{v:,}"] for k, v in status.items()])
    return intro + _table(header, rows) + extra


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


def _pct(x: float) -> str:
    return "n/a" if x != x else f"{100 * x:.1f}%"


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name).strip("-").lower() or "plan"


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


def _f(x: Any) -> float:
    return math.nan if x is None else float(x)


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


# -- the page -------------------------------------------------------------------------


def final_name(path: Path) -> str:
    """The folder's name as the user will see it: a staging folder of
    :func:`sim.output.output_dir` (``.NAME.xxxx.partial``) gives ``NAME``."""
    name = path.name
    if name.startswith(".") and name.endswith(".partial"):
        return name[1:].rsplit(".", 2)[0] or name
    return name


def render_report(run: RunFolder, *, current: str | None = None,
                  name: str | None = None) -> tuple[str, dict[str, bytes]]:
    """The report page (HTML text) and its PNGs by name.

    ``current`` names the plan the campaign pays today (the decision's saving is
    against it; default the plain 60/60 plan); ``name`` is the folder name for the
    footer (default: the folder's final name).
    """
    figs = _Figures()
    rating = run.rating()
    if current is not None and current not in {p.name for p in run.plans}:
        from .validate import did_you_mean

        raise SimError(f"--current {current!r}: no such plan in {run.path}"
                       + did_you_mean(current, [p.name for p in run.plans])
                       + f" (its plans: {', '.join(p.name for p in run.plans)})")
    decision = decide(run.path, rating, run.summary, run.comparison, current=current)
    body = {
        "decision": decision_html(decision),
        "kpis": _kpis(run),
        "plans": _plans_section(run, rating, figs),
        "rounding": _rounding_section(run, rating, figs),
        "breakeven": _breakeven_section(run, rating, figs),
        "variants": _variants_section(run, figs),
        "compliance": _compliance_section(run),
        "operations": _operations_section(run, figs),
    }
    sections = "\n".join(f'<section id="{sid}">\n<h2>{_e(SECTIONS[sid])}</h2>\n{body[sid]}\n'
                         "</section>" for sid in SECTIONS)
    scen = run.summary.get("scenario", {})
    values = scen.get("values", {})
    k = run.summary.get("kpis", {})
    subtitle = " · ".join(x for x in [
        values.get("description", ""), f"seed {run.summary.get('seed')}",
        f"{k.get('dials', 0):,} dials" if k.get("dials") is not None else ""] if x)
    footer = (f"dialsim {_e(run.summary.get('dialsim_version', __version__))} · scenario "
              f"{_e(scen.get('source', ''))} · folder {_e(name or final_name(run.path))} · "
              "plots also saved "
              "beside this file as report-*.png")
    template = resources.files("sim").joinpath("report_template.html").read_text("utf-8")
    page = string.Template(template).substitute(
        version=_e(__version__), title=_e(f"dialsim report: {scen.get('name', run.path.name)}"),
        subtitle=_e(subtitle), footer=footer, body=sections,
        nav="".join(f'<a href="#{sid}">{_e(h)}</a>' for sid, h in SECTIONS.items()))
    return page, figs.png


def write_report(run_dir: str | Path, *, force: bool = False, current: str | None = None,
                 name: str | None = None) -> Path:
    """Write ``report.html`` and its ``report-*.png`` into ``run_dir``; return the page.

    ``current`` and ``name`` are passed to :func:`render_report`.

    Raises
    ------
    OutputExistsError
        A report is already there and ``force`` is false.
    SimError
        ``run_dir`` is not a run folder.
    """
    folder = Path(run_dir)
    target = folder / REPORT_NAME
    run = load_run(folder)
    if target.exists() and not force:
        raise OutputExistsError(f"{target}: a report already exists; use --force to "
                                "overwrite it")
    page, pngs = render_report(run, current=current, name=name)
    for name, data in pngs.items():
        with atomic_write(folder / f"report-{name}.png", "wb") as fh:
            fh.write(data)
    atomic_write_text(target, page)
    return target
