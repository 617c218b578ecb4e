"""Plots of a campaign and its costs, matplotlib object API only.

Every function takes an optional ``ax`` (a :class:`matplotlib.axes.Axes`) and returns
the Axes it drew on; without one it makes a new :class:`~matplotlib.figure.Figure` (no
pyplot, no global state), so the same calls serve notebooks, scripts, the HTML report
and tests under the Agg backend. Times on the x axis are local clock times with the
weekday (``Mon 09:00``), read from the table's epoch; hours when nothing happens (nights,
weekends) are gaps, not lines drawn across them. Money labels and axes are written by
:mod:`sim.fmt` (the currency's places, thousands separators, never e-notation).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, Protocol

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from ..agentlog import AGENT_STATES, AgentLog
from ..billing import Plan
from ..cdr import CDRTable
from ..fmt import ci, money, money_formatter, unit_places
from .breakeven import BreakEvenMap, CallMix, CostCurve
from .rounding import block_edges

__all__ = [
    "GAP_S",
    "STATE_COLOURS",
    "clock_axis",
    "new_axes",
    "plot_abandonment",
    "plot_agent_states",
    "plot_breakeven_map",
    "plot_cost_curve",
    "plot_dial_level",
    "plot_plan_costs",
    "plot_talk_histogram",
    "plot_variant_costs",
]

#: Agent state -> colour, for every plot of agent time.
STATE_COLOURS: dict[str, str] = {"idle": "#c7c7c7", "preview": "#6baed6", "talk": "#31a354",
                                 "wrap": "#fd8d3c"}
_PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
            "#7f7f7f", "#bcbd22", "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896",
            "#c5b0d5", "#c49c94"]


class _Interval(Protocol):
    """Anything with a mean and a confidence interval, like
    :class:`~sim.analysis.stats.Estimate`."""

    @property
    def mean(self) -> float: ...

    @property
    def low(self) -> float: ...

    @property
    def high(self) -> float: ...

    @property
    def n(self) -> int: ...


def new_axes(ax: Axes | None = None, *, size_in: tuple[float, float] = (8.0, 4.2),
             margins_in: tuple[float, float, float, float] = (0.8, 0.25, 0.6, 0.55)) -> Axes:
    """``ax`` itself, or the Axes of a new Figure of ``size_in`` inches.

    ``margins_in`` (left, right, bottom, top, inches) are fixed rather than solved by a
    layout engine: drawing a figure once instead of twice halves the time to save it.
    """
    if ax is not None:
        return ax
    w, h = size_in
    left, right, bottom, top = margins_in
    fig = Figure(figsize=size_in)
    fig.subplots_adjust(left=left / w, right=1 - right / w, bottom=bottom / h, top=1 - top / h)
    return fig.add_subplot()


#: A pause longer than this between two points of a line is drawn as a gap, s.
GAP_S = 2 * 3600.0


def _time_scale(span_s: float) -> tuple[float, str]:
    """Divisor (hours) and axis label for campaign times; ticks read as clock times."""
    return 3600.0, "local time" if span_s <= 36 * 3600 else "local day and time"


def _epoch(epoch: str | None) -> Any:
    import datetime as dt

    try:
        return dt.datetime.fromisoformat(epoch or "1970-01-01T00:00:00").replace(tzinfo=None)
    except ValueError:
        return dt.datetime(1970, 1, 1)


def clock_axis(ax: Axes, epoch: str | None, span_s: float) -> None:
    """Ticks of an x axis in hours from ``epoch`` labelled as clock time and weekday:
    ``Mon 09:00`` (one day or less: every 1-3 h; longer: each day at midnight and noon)."""
    import datetime as dt

    from matplotlib.ticker import FuncFormatter, MultipleLocator

    start = _epoch(epoch)
    hours = span_s / 3600
    step = 1 if hours <= 8 else 2 if hours <= 16 else 3 if hours <= 36 else 12 \
        if hours <= 24 * 4 else 24
    ax.xaxis.set_major_locator(MultipleLocator(step))

    def label(x: float, _pos: Any = None) -> str:
        t = start + dt.timedelta(hours=float(x))
        return t.strftime("%a %H:%M") if step < 24 else t.strftime("%a %d %b")

    ax.xaxis.set_major_formatter(FuncFormatter(label))
    for tick in ax.get_xticklabels():
        tick.set_fontsize(8)
    ax.tick_params(axis="x", labelsize=8, labelrotation=30 if hours > 8 else 0)


def _gaps(t: np.ndarray, *ys: np.ndarray, gap_s: float = GAP_S) -> list[np.ndarray]:
    """``t`` and ``ys`` with a NaN inserted wherever ``t`` jumps by more than ``gap_s``,
    so a line stops at the end of a day and starts again the next morning."""
    t = np.asarray(t, dtype=float)
    cut = np.flatnonzero(np.diff(t) > gap_s) + 1
    return [np.insert(np.asarray(a, dtype=float), cut, np.nan) for a in (t, *ys)]


def _value(x: _Interval | Decimal | float | None) -> tuple[float, float, float]:
    """Mean and the CI's distances below / above it (0 without an interval)."""
    if x is None:
        return math.nan, 0.0, 0.0
    if isinstance(x, Decimal | float | int):
        return float(x), 0.0, 0.0
    if x.n < 2 or not (math.isfinite(x.low) and math.isfinite(x.high)):
        return x.mean, 0.0, 0.0
    return x.mean, x.mean - x.low, x.high - x.mean


# -- talk time and blocks --------------------------------------------------------------


def plot_talk_histogram(cdrs: CDRTable, plan: Plan | None = None, *, ax: Axes | None = None,
                        max_s: int | None = None, rounding_share: float | None = None
                        ) -> Axes:
    """Histogram of answered calls' talk time (whole seconds) with the plan's blocks.

    Parameters
    ----------
    cdrs
        The calls; answered ones (by disposition) with talk are counted.
    plan
        Draw this plan's block boundaries (its own tariff) as vertical lines.
    ax
        Axes to draw on (default: a new figure).
    max_s
        Right end of the histogram, s (default: the 97th percentile, at least two blocks).
    rounding_share
        Share of billed seconds that is rounding, shown in the title (0-1).
    """
    ax = new_axes(ax, margins_in=(0.75, 0.2, 0.55, 0.6))
    d = cdrs["billsec"][cdrs.answered & (cdrs["billsec"] > 0)]
    first = 0
    if plan is not None:
        first = int(block_edges(plan, count=1)[0])
    if max_s is None:
        top = float(np.percentile(d, 97)) if d.size else 60.0
        max_s = int(max(top, 2 * first, 30))
    width = max(1, math.ceil(max_s / 150))
    bins = np.arange(0, max_s + width + 1, width) + 0.5
    shown = d[d <= max_s]
    # one filled outline instead of a patch per bin: the same picture, drawn far faster
    ax.hist(shown, bins=bins.tolist(), color="#4c72b0", alpha=0.85, label="calls",
            histtype="stepfilled")
    ax.set_xlim(0, max_s + width)
    ax.set_xlabel("talk time (whole seconds)")
    ax.set_ylabel(f"answered calls per {width} s" if width > 1 else "answered calls per second")
    if plan is not None:
        edges = block_edges(plan, max_s)
        fine = edges.size > 1 and int(np.min(np.diff(edges))) < 3
        draw = edges[:1] if fine else edges
        for i, e in enumerate(draw[draw <= max_s]):
            ax.axvline(float(e), color="#c44e52", lw=1.2 if i == 0 else 0.6,
                       ls="-" if i == 0 else "--",
                       label=f"{plan.name} block boundaries" if i == 0 else None)
        title = f"Talk time against the blocks of {plan.name} ({plan.tariff_text})"
        if rounding_share is not None and math.isfinite(rounding_share):
            title += f"\n{100 * rounding_share:.1f}% of billed seconds is rounding"
        ax.set_title(title, fontsize=10)
        ax.legend(loc="upper right", fontsize=8)
    else:
        ax.set_title("Talk time of answered calls", fontsize=10)
    if d.size > shown.size:
        ax.text(0.99, 0.6, f"{d.size - shown.size:,} calls > {max_s} s not shown",
                transform=ax.transAxes, ha="right", fontsize=8, color="#555555")
    return ax


# -- costs -------------------------------------------------------------------------


def plot_plan_costs(costs: Mapping[str, _Interval | Decimal | float | None], *,
                    ax: Axes | None = None, currency: str = "", label: str = "total cost",
                    ) -> Axes:
    """Horizontal bars of each plan's cost, cheapest on top, with CIs when estimated.

    Parameters
    ----------
    costs
        Plan name -> cost (an :class:`~sim.analysis.stats.Estimate` over replications,
        or one run's Decimal / float); None / NaN plans are left out.
    currency
        Currency code for the axis label.
    label
        What the cost is (e.g. ``cost per contact``).
    """
    longest = max((len(n) for n in costs), default=4)
    ax = new_axes(ax, size_in=(8.0, max(2.5, 0.42 * len(costs) + 1.2)),
                  margins_in=(0.2 + 0.065 * longest, 0.3, 0.55, 0.35))
    items = [(name, *_value(v)) for name, v in costs.items()]
    items = [it for it in items if math.isfinite(it[1])]
    items.sort(key=lambda it: (-it[1], it[0]))  # barh draws bottom-up: cheapest on top
    y = np.arange(len(items))
    means = [it[1] for it in items]
    err = np.array([[it[2] for it in items], [it[3] for it in items]])
    has_ci = bool(err.size and err.max() > 0)
    ax.barh(y, means, xerr=err if has_ci else None, color="#55a868", alpha=0.85,
            error_kw={"ecolor": "#333333", "capsize": 3, "lw": 1})
    ax.set_yticks(y, [it[0] for it in items], fontsize=8)
    ax.set_xlabel(f"{label} ({currency})" if currency else label)
    ax.xaxis.set_major_formatter(money_formatter(currency or None))
    places = unit_places(means, currency or None) if "per" in label else None
    for yi, m in zip(y, means, strict=True):
        ax.text(m, float(yi), f" {money(m, currency or None, places=places)}", va="center",
                fontsize=7)
    title = f"{label.capitalize()} per plan"
    if has_ci:
        title += " (mean and 95% CI over replications)"
    ax.set_title(title, fontsize=10)
    ax.margins(x=0.15)
    return ax


def plot_variant_costs(estimates: Mapping[str, _Interval], *,
                       ax: Axes | None = None,
                       diffs: Mapping[str, _Interval] | None = None,
                       currency: str = "",
                       label: str = "cost per conversion", plan: str = "") -> Axes:
    """Bars of a cost (e.g. per conversion) by variant with CIs; paired differences noted.

    Parameters
    ----------
    estimates
        Variant name (base first) -> estimate over replications.
    diffs
        Variant name -> paired difference to the base, printed above its bar.
    currency, label, plan
        For the axis label and title.
    """
    ax = new_axes(ax, size_in=(8.0, 4.0), margins_in=(0.75, 0.2, 0.55, 0.65))
    names = list(estimates)
    vals = [_value(estimates[n]) for n in names]
    x = np.arange(len(names))
    means = [v[0] for v in vals]
    err = np.array([[v[1] for v in vals], [v[2] for v in vals]])
    colours = ["#8172b2" if i == 0 else "#4c72b0" for i in range(len(names))]
    ax.bar(x, np.nan_to_num(means), yerr=err, color=colours, alpha=0.85,
           error_kw={"ecolor": "#333333", "capsize": 4, "lw": 1})
    ax.set_xticks(x, names, fontsize=8, rotation=15 if len(names) > 4 else 0)
    ax.set_ylabel(f"{label} ({currency})" if currency else label)
    ax.yaxis.set_major_formatter(money_formatter(currency or None))
    tops = np.nan_to_num(np.asarray(means) + err[1])
    for xi, n, top in zip(x, names, tops, strict=True):
        d = (diffs or {}).get(n)
        if d is None or not math.isfinite(d.mean):
            continue
        sure = math.isfinite(d.low) and math.isfinite(d.high) and (d.low > 0 or d.high < 0)
        half = (d.high - d.low) / 2
        text = (ci(d.mean, half, currency or None, sign=True).replace(" ± ", "\n± ")
                if math.isfinite(half) else money(d.mean, currency or None, sign=True,
                                                  places=unit_places([d.mean], currency)))
        ax.annotate(text, (xi, top), xytext=(0, 3), textcoords="offset points", ha="center",
                    va="bottom", fontsize=7, color="#000000" if sure else "#777777",
                    fontweight="bold" if sure else "normal")
    ax.margins(y=0.2)
    title = f"{label.capitalize()} by variant" + (f" under {plan}" if plan else "")
    ax.set_title(title + "\n(same customers; labels: paired difference to base ± 95% CI)",
                 fontsize=10)
    return ax


# -- campaign over time -------------------------------------------------------------


def _time_in(starts: np.ndarray, ends: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Seconds of the intervals ``[starts, ends)`` falling in each bin between ``edges``."""
    s, e = np.sort(starts), np.sort(ends)
    cs = np.concatenate([[0.0], np.cumsum(s)])
    ce = np.concatenate([[0.0], np.cumsum(e)])
    ns = np.searchsorted(s, edges, side="left")
    ne = np.searchsorted(e, edges, side="left")
    # time up to t = sum over started (t - s) - sum over ended (t - e)
    upto = ns * edges - cs[ns] - (ne * edges - ce[ne])
    return np.diff(upto)


def plot_agent_states(agents: AgentLog, *, ax: Axes | None = None, bin_s: float = 900.0,
                      epoch: str | None = None) -> Axes:
    """Average number of agents in each state (idle, preview, talk, wrap) over time.

    Parameters
    ----------
    agents
        The agent state log.
    bin_s
        Width of the time bins, s.
    epoch
        Naive local ISO datetime the log's seconds count from (the CDRs' ``epoch``), for
        clock-time ticks; hours with nobody logged in stay empty.
    """
    ax = new_axes(ax, size_in=(9.0, 3.8), margins_in=(0.7, 0.2, 0.55, 0.35))
    if len(agents) == 0:
        ax.set_title("Agent states over time (no agent time logged)", fontsize=10)
        return ax
    lo = math.floor(float(agents.start.min()) / bin_s) * bin_s
    hi = math.ceil(float(agents.end.max()) / bin_s) * bin_s
    edges = np.arange(lo, hi + bin_s / 2, bin_s)
    if edges.size < 2:
        edges = np.array([lo, lo + bin_s])
    scale, xlabel = _time_scale(hi - lo)
    layers, labels, colours = [], [], []
    # Work at the bottom, idle on top: the stack's height is the agents logged in.
    for state in ("talk", "wrap", "preview", "idle"):
        k = AGENT_STATES.index(state)
        m = agents.state == k
        if not m.any():
            continue
        layers.append(_time_in(agents.start[m], agents.end[m], edges) / bin_s)
        labels.append(state)
        colours.append(STATE_COLOURS.get(state, "#999999"))
    x = np.repeat(edges, 2)[1:-1] / scale  # steps: each bin flat
    ax.stackplot(x, *[np.repeat(layer, 2) for layer in layers], labels=labels,
                 colors=colours, alpha=0.9, lw=0)
    ax.set_xlim(x[0], x[-1])
    ax.set_xlabel(xlabel)
    clock_axis(ax, epoch, hi - lo)
    ax.set_ylabel("agents (average per bin)")
    ax.set_title(f"Agent states over time ({bin_s / 60:g}-minute bins)", fontsize=10)
    ax.legend(loc="upper right", fontsize=8, ncol=len(labels))
    return ax


def plot_abandonment(cdrs: CDRTable, *, ax: Axes | None = None, bin_s: float = 3600.0,
                     limit: float | None = 0.03) -> Axes:
    """Abandoned share of live answers per time bin, its running total, and the limit.

    Parameters
    ----------
    cdrs
        The calls: live answers are answered-by-person calls, placed by answer time.
    bin_s
        Width of the time bins, s.
    limit
        Regulatory ceiling to draw (0-1; 3 % in the US and UK), or None.
    """
    ax = new_axes(ax, size_in=(9.0, 3.6), margins_in=(0.7, 0.2, 0.55, 0.35))
    live = cdrs.mask("answered_by", "person") & np.isfinite(cdrs["answer"])
    t = cdrs["answer"][live]
    ab = cdrs["abandoned"][live]
    if t.size == 0:
        ax.set_title("Abandonment over time (no live answers)", fontsize=10)
        return ax
    lo = math.floor(float(t.min()) / bin_s) * bin_s
    hi = math.ceil(float(t.max()) / bin_s + 1e-9) * bin_s
    edges = np.arange(lo, max(hi, lo + bin_s) + bin_s / 2, bin_s)
    n_live, _ = np.histogram(t, edges)
    n_ab, _ = np.histogram(t[ab], edges)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(n_live > 0, n_ab / n_live, np.nan)
    scale, xlabel = _time_scale(edges[-1] - edges[0])
    mid = (edges[:-1] + edges[1:]) / 2 / scale
    ax.bar(mid, 100 * np.nan_to_num(rate), width=bin_s / scale * 0.9, color="#c44e52",
           alpha=0.7, label="per bin")
    order = np.argsort(t)
    running = np.cumsum(ab[order]) / np.arange(1, t.size + 1)
    tt, rr = _gaps(t[order], 100 * running)
    ax.plot(tt / scale, rr, color="#333333", lw=1.2, label="campaign to date")
    if limit is not None:
        ax.axhline(100 * limit, color="#dd8452", ls="--", lw=1.2, label=f"limit {100 * limit:g}%")
    ax.set_xlabel(xlabel)
    clock_axis(ax, cdrs.epoch, edges[-1] - edges[0])
    ax.set_ylabel("abandoned, % of live answers")
    ax.set_title(f"Abandonment over time ({bin_s / 60:g}-minute bins; "
                 f"{int(ab.sum()):,} of {t.size:,} live answers)", fontsize=10)
    # A bin with a single live answer can read 100 %: keep the scale on the limit and
    # the running rate, and say how many bins go off it.
    scale_top = max(4 * (limit or 0.0), 1.3 * float(running.max()), 0.01)
    top = min(float(np.nanmax(rate, initial=0.0)), scale_top)
    top = max(top, 1.3 * (limit or 0.0), 1.3 * float(running.max()), 0.01)
    ax.set_ylim(0, 105 * top)
    off = int(np.count_nonzero(np.nan_to_num(rate) > top))
    if off:
        ax.text(0.01, 0.97, f"{off} bin(s) above the scale (few live answers)",
                transform=ax.transAxes, va="top", fontsize=8, color="#555555")
    ax.legend(loc="upper right", fontsize=8)
    return ax


def plot_dial_level(timeline: Mapping[str, Any] | None, ax: Axes | None = None, *,
                    epoch: str | None = None) -> Axes:
    """A pooled dialer's dial level (lines per agent) and its abandonment over time.

    ``timeline`` holds equal-length arrays ``t`` (s), ``dial_level`` and
    ``abandon_rate`` (0-1). A missing or empty timeline draws nothing (the Axes is
    returned as it was). ``epoch`` (the CDRs') gives clock-time ticks; bins where no
    agent is logged in (``logged_in`` 0, when the timeline has it) and pauses longer
    than :data:`GAP_S` are gaps.
    """
    ax = new_axes(ax, size_in=(9.0, 3.6), margins_in=(0.7, 0.75, 0.55, 0.35))
    if not timeline or len(np.asarray(timeline.get("t", ()))) == 0:
        return ax
    t = np.asarray(timeline["t"], dtype=float)
    level = np.asarray(timeline.get("dial_level", np.full(t.size, np.nan)), dtype=float)
    span = float(t.max() - t.min()) if t.size else 0.0
    scale, xlabel = _time_scale(span)
    rate = np.asarray(timeline.get("abandon_rate", np.full(t.size, np.nan)), dtype=float)
    for key in ("logged_in", "agents", "agents_logged_in"):
        if key in timeline:
            off = np.asarray(timeline[key], dtype=float) <= 0
            level, rate = np.where(off, np.nan, level), np.where(off, np.nan, rate)
            break
    tt, lv, rt = _gaps(t, level, rate)
    ax.step(tt / scale, lv, where="post", color="#4c72b0", lw=1.0, label="dial level")
    ax.set_xlabel(xlabel)
    clock_axis(ax, epoch, span)
    ax.set_ylabel("dial level (lines per agent)", color="#4c72b0")
    if "abandon_rate" in timeline:
        twin = ax.twinx()
        twin.plot(tt / scale, 100 * rt, color="#c44e52", lw=1.0, label="abandonment")
        twin.set_ylabel("abandoned, % of live answers", color="#c44e52")
        twin.set_ylim(bottom=0)
    ax.set_title("Dialer pacing over time", fontsize=10)
    return ax


# -- break-even ---------------------------------------------------------------------


def plot_breakeven_map(bmap: BreakEvenMap, *, ax: Axes | None = None,
                       mix: CallMix | None = None, log_x: bool = True) -> Axes:
    """Map of the cheapest plan over (mean conversation talk time, short-call share).

    Parameters
    ----------
    bmap
        From :func:`sim.analysis.breakeven.breakeven_map`.
    mix
        A campaign's own mix, marked with a star (e.g. ``CallMix.from_cdrs``).
    log_x
        Logarithmic talk-time axis.
    """
    winners = bmap.winners()
    longest = max((len(n) for n in winners), default=10)
    ax = new_axes(ax, size_in=(9.0, 4.8),
                  margins_in=(0.7, 0.75 + 0.07 * max(longest, 16), 0.55, 0.35))
    colour_of = {name: _PALETTE[i % len(_PALETTE)] for i, name in enumerate(winners)}
    colours = [colour_of.get(name, "#ffffff") for name in bmap.plans]
    cmap = ListedColormap(colours)
    norm = BoundaryNorm(np.arange(len(bmap.plans) + 1) - 0.5, len(bmap.plans))
    ax.pcolormesh(bmap.means_s, 100 * bmap.p_shorts, bmap.cheapest, cmap=cmap, norm=norm,
                  shading="nearest")
    if log_x:
        ax.set_xscale("log")
    ax.set_xlabel("mean talk time of conversations (s)")
    ax.set_ylabel(f"short calls (1-{bmap.short_max_s} s), % of answered")
    handles = [Patch(color=colour_of[n], label=n) for n in winners]
    if mix is not None:
        ax.plot([mix.mean_talk_s], [100 * mix.p_short], marker="*", ms=14, color="#ffffff",
                mec="#000000", ls="none")
        handles.append(Patch(color="#ffffff", ec="#000000", label="this campaign (★)"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8,
              title="cheapest plan", title_fontsize=8)
    ax.set_title(f"Cheapest plan by call mix ({bmap.currency} per answered call)",
                 fontsize=10)
    return ax


def plot_cost_curve(curve: CostCurve, *, ax: Axes | None = None,
                    plans: Sequence[str] | None = None, mark_s: float | None = None,
                    log_x: bool = True) -> Axes:
    """Expected cost per answered call of each plan against the mean talk time.

    Parameters
    ----------
    curve
        From :func:`sim.analysis.breakeven.cost_curve`.
    plans
        Plans to draw (default: every plan of the curve).
    mark_s
        A mean talk time to mark (e.g. the campaign's own), s.
    log_x
        Logarithmic talk-time axis.
    """
    names = list(plans) if plans is not None else list(curve.costs)
    longest = max((len(n) for n in names), default=10)
    ax = new_axes(ax, size_in=(9.0, 4.6),
                  margins_in=(0.75, 0.75 + 0.065 * max(longest, 13), 0.55, 0.35))
    cheapest = set(curve.cheapest)
    for i, name in enumerate(names):
        ax.plot(curve.means_s, curve.costs[name], color=_PALETTE[i % len(_PALETTE)],
                lw=2.0 if name in cheapest else 0.9, label=name)
    for c in curve.crossings:
        ax.axvline(c.mean_talk_s, color="#555555", ls=":", lw=0.8)
        ax.annotate(f"{c.mean_talk_s:.3g} s", (c.mean_talk_s, c.cost), xytext=(3, 6),
                    textcoords="offset points", fontsize=7)
        ax.plot([c.mean_talk_s], [c.cost], "o", color="#000000", ms=3)
    if mark_s is not None:
        ax.axvline(mark_s, color="#000000", lw=1.2, label="this campaign")
    if log_x:
        ax.set_xscale("log")
    ax.set_xlabel("mean talk time of conversations (s)")
    ax.set_ylabel(f"expected cost per answered call ({curve.currency})")
    ax.set_title(f"Cost per answered call by plan, {100 * curve.p_short:.0f}% short calls; "
                 "dotted: where the cheapest plan changes", fontsize=10)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7)
    return ax
