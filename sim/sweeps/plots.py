"""Plots of a sweep: how a KPI or a plan's cost moves with the swept parameters.

Two pictures answer most "what if" questions. One parameter: the metric's mean
against it with its confidence band (the band is what tells a real effect from
simulation noise). Two parameters on a grid: a heat map of the mean, each cell
labelled, so the cheapest corner or the abandonment cliff shows at a glance. Any other
design (a Latin hypercube, three or more parameters) gets one panel per parameter with
every point's mean and interval — a main-effects view.

Object API only; each function takes ``ax=`` and returns the ``Axes`` it drew on.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from .table import SweepResult

__all__ = ["plot_heatmap", "plot_line", "plot_sweep", "sweep_figure"]


def _figure(panels: int = 1) -> Figure:
    """A bare figure with fixed margins: a layout engine would draw every figure twice."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4 if panels == 1 else 4.2 * panels, 4.4 if panels == 1 else 3.8))
    fig.subplots_adjust(left=0.11 / min(panels, 2), right=0.97, bottom=0.12, top=0.91,
                        wspace=0.3)
    return fig


def _axes(ax: Axes | None) -> Axes:
    return ax if ax is not None else _figure().add_subplot()


def _numeric(values: Sequence[Any]) -> bool:
    return all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)


def _label(value: Any) -> str:
    """A parameter value as a tick label, without e-notation (:func:`sim.fmt.plain`)."""
    from ..fmt import plain

    return plain(value) if isinstance(value, float) else str(value)


def _cell_text(value: float, metric: str) -> str:
    """A heat-map cell of ``metric``: 3 significant digits, fixed-point (no e-notation)."""
    from ..fmt import number

    return number(value, 3)


def _no_offsets(ax: Any) -> None:
    """Plain tick labels: no offset or scientific-notation multiplier on the axes."""
    from matplotlib.ticker import ScalarFormatter

    for axis in (ax.xaxis, ax.yaxis):
        f = axis.get_major_formatter()
        if isinstance(f, ScalarFormatter):
            f.set_scientific(False)
            f.set_useOffset(False)


def _rows(res: SweepResult, metric: str) -> list[dict[str, Any]]:
    return list(res.aggregate([metric]))


def _marginal(res: SweepResult, metric: str, param: str) -> list[dict[str, Any]]:
    """Main effect of ``param``: for each of its values, the metric averaged over the
    other parameters' points within each replication (all share that replication's
    customers), then the mean and t-interval over replications."""
    from ..analysis.stats import mean_ci

    per: dict[Any, dict[int, list[float]]] = {}
    for r in res.table:
        v = r[metric]
        if isinstance(v, int | float) and not math.isnan(v):
            per.setdefault(r[param], {}).setdefault(r["replication"], []).append(float(v))
    out = []
    for value, reps in per.items():
        e = mean_ci([sum(vs) / len(vs) for vs in reps.values()], res.level)
        out.append({param: value, "mean": e.mean, "low": e.low, "high": e.high})
    return out


Others = Literal["lines", "average", "points"]


def plot_line(res: SweepResult, metric: str, param: str, *, ax: Axes | None = None,
              others: Others = "lines") -> Axes:
    """Mean of ``metric`` against ``param`` with its confidence band.

    Parameters
    ----------
    others
        What to do with the other swept parameters: ``"lines"`` draws one line per
        combination of their values (up to 8, else as ``"points"``); ``"average"``
        averages over them replication by replication (the main effect of ``param``);
        ``"points"`` draws every point's mean and interval as a marker (for scattered
        designs such as a Latin hypercube). Non-numeric values are placed evenly.
    """
    ax = _axes(ax)
    rest = [p for p in res.params if p != param]
    groups: dict[tuple[str, ...], list[dict[str, Any]]]
    if others == "average" or not rest:
        groups = {(): _marginal(res, metric, param)} if rest else {(): _rows(res, metric)}
        lines = True
    else:
        rows = _rows(res, metric)
        groups = {}
        for r in rows:
            key = tuple(_label(r[o]) for o in rest) if others == "lines" else ()
            groups.setdefault(key, []).append(r)
        lines = others == "lines" and len(groups) <= 8
        if not lines:
            groups = {(): rows}
    xs_all = [r[param] for rs in groups.values() for r in rs]
    numeric = _numeric(xs_all)
    cats = sorted(set(xs_all), key=_order)
    for key, rs in groups.items():
        rs = sorted(rs, key=lambda r: _order(r[param]))
        x = [r[param] if numeric else cats.index(r[param]) for r in rs]
        mean = [r["mean"] for r in rs]
        lo = [r["low"] if math.isfinite(r["low"]) else r["mean"] for r in rs]
        hi = [r["high"] if math.isfinite(r["high"]) else r["mean"] for r in rs]
        if lines:
            label = ", ".join(f"{o}={v}" for o, v in zip(rest, key, strict=False)) or None
            (line,) = ax.plot(x, mean, marker="o", ms=4, label=label)
            ax.fill_between(x, lo, hi, color=line.get_color(), alpha=0.2, lw=0)
        else:
            err = [[m - a for m, a in zip(mean, lo, strict=True)],
                   [b - m for m, b in zip(mean, hi, strict=True)]]
            ax.errorbar(x, mean, yerr=err, fmt="o", ms=3, alpha=0.7, color="C0", lw=0.8)
    if not numeric:
        ax.set_xticks(range(len(cats)), [_label(c) for c in cats])
    ax.set_xlabel(param)
    ax.set_ylabel(metric)
    _no_offsets(ax)
    how = {"lines": "", "average": ", averaged over the other parameters",
           "points": ", every point"}[others if rest else "lines"]
    ax.set_title(f"{metric} vs {param}\nmean and {_pct(res)} CI of {len(res.seeds)} "
                 f"replications{how}", fontsize=8)
    if lines and rest and others == "lines":
        ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return ax


def _pct(res: SweepResult) -> str:
    return f"{100 * res.level:.0f}%"


def plot_heatmap(res: SweepResult, metric: str, x: str, y: str, *,
                 ax: Axes | None = None, cmap: str = "viridis") -> Axes:
    """Heat map of the mean of ``metric`` over a grid of ``x`` × ``y``, cells labelled.

    Points sharing (x, y) — when a third parameter varies — are averaged. A design
    that is not a grid (Latin hypercube) is drawn as points coloured by the mean.
    """
    import numpy as np

    ax = _axes(ax)
    rows = [r for r in _rows(res, metric) if not math.isnan(r["mean"])]
    xs = sorted(set(r[x] for r in rows), key=_order)
    ys = sorted(set(r[y] for r in rows), key=_order)
    fig = ax.get_figure()
    if res.design.kind != "grid":  # scattered samples: no cells to fill
        sc = ax.scatter([r[x] for r in rows], [r[y] for r in rows], c=[r["mean"] for r in rows],
                        cmap=cmap, s=40, edgecolors="k", linewidths=0.3)
        if fig is not None:
            fig.colorbar(sc, ax=ax, label=metric)
    else:
        grid = np.full((len(ys), len(xs)), np.nan)
        count = np.zeros_like(grid)
        for r in rows:
            i, j = ys.index(r[y]), xs.index(r[x])
            grid[i, j] = r["mean"] if count[i, j] == 0 else grid[i, j] + r["mean"]
            count[i, j] += 1
        with np.errstate(invalid="ignore"):
            grid = grid / np.where(count > 0, count, np.nan)
        im = ax.imshow(grid, origin="lower", aspect="auto", cmap=cmap)
        ax.set_xticks(range(len(xs)), [_label(v) for v in xs])
        ax.set_yticks(range(len(ys)), [_label(v) for v in ys])
        if len(xs) * len(ys) <= 144:
            finite = grid[np.isfinite(grid)]
            mid = (finite.min() + finite.max()) / 2 if finite.size else 0.0
            for i in range(len(ys)):
                for j in range(len(xs)):
                    if np.isfinite(grid[i, j]):
                        ax.text(j, i, _cell_text(float(grid[i, j]), metric),
                                ha="center", va="center",
                                fontsize=7, color="w" if grid[i, j] < mid else "k")
        if fig is not None:
            fig.colorbar(im, ax=ax, label=metric)
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    extra = [p for p in res.params if p not in (x, y)]
    over = f", averaged over {', '.join(extra)}" if extra else ""
    ax.set_title(f"{metric}\nmean of {len(res.seeds)} replications{over}", fontsize=8)
    return ax


def _order(v: Any) -> tuple[int, Any]:
    return (0, v) if isinstance(v, int | float) and not isinstance(v, bool) else (1, str(v))


def plot_sweep(res: SweepResult, metric: str, *, ax: Axes | None = None) -> Axes:
    """The natural single plot: a line for one parameter, a heat map for two, else the
    main effect of the first parameter."""
    if len(res.params) == 1:
        return plot_line(res, metric, res.params[0], ax=ax)
    if len(res.params) == 2:
        return plot_heatmap(res, metric, res.params[0], res.params[1], ax=ax)
    return plot_line(res, metric, res.params[0], ax=ax,
                     others="average" if res.design.kind == "grid" else "points")


def sweep_figure(res: SweepResult, metric: str) -> Figure:
    """A whole figure for ``metric``: :func:`plot_sweep` for one parameter or two on a
    grid; otherwise one panel per parameter — its main effect on a grid, every point's
    mean and interval for sampled designs."""
    grid = res.design.kind == "grid"
    if len(res.params) == 1 or (grid and len(res.params) == 2):
        fig = _figure()
        plot_sweep(res, metric, ax=fig.add_subplot())
        return fig
    n = len(res.params)
    fig = _figure(n)
    for k, p in enumerate(res.params):
        ax = plot_line(res, metric, p, ax=fig.add_subplot(1, n, k + 1),
                       others="average" if grid else "points")
        ax.set_title(ax.get_title().split("\n")[1], fontsize=8)
    fig.subplots_adjust(top=0.85)
    fig.suptitle(metric, fontsize=10)
    return fig
