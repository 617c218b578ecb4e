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
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from .table import SweepResult

__all__ = ["plot_heatmap", "plot_line", "plot_sweep", "sweep_figure"]


def _axes(ax: Axes | None) -> Axes:
    if ax is not None:
        return ax
    from matplotlib.figure import Figure

    return Figure(figsize=(6.4, 4.4), layout="constrained").add_subplot()


def _numeric(values: Sequence[Any]) -> bool:
    return all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)


def _label(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _rows(res: SweepResult, metric: str) -> list[dict[str, Any]]:
    return list(res.aggregate([metric]))


def plot_line(res: SweepResult, metric: str, param: str, *, ax: Axes | None = None) -> Axes:
    """Mean of ``metric`` against ``param`` with its confidence band.

    When other parameters vary too, one line per combination of them (up to 8; more
    are drawn as points with error bars). Non-numeric values are placed evenly.
    """
    ax = _axes(ax)
    rows = _rows(res, metric)
    others = [p for p in res.params if p != param]
    xs_all = [r[param] for r in rows]
    numeric = _numeric(xs_all)
    cats = list(dict.fromkeys(xs_all))
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(tuple(_label(r[o]) for o in others), []).append(r)
    as_lines = len(groups) <= 8
    for key, rs in groups.items():
        rs = sorted(rs, key=lambda r: r[param] if numeric else cats.index(r[param]))
        x = [r[param] if numeric else cats.index(r[param]) for r in rs]
        mean = [r["mean"] for r in rs]
        lo = [r["low"] if math.isfinite(r["low"]) else r["mean"] for r in rs]
        hi = [r["high"] if math.isfinite(r["high"]) else r["mean"] for r in rs]
        label = ", ".join(f"{o}={k}" for o, k in zip(others, key, strict=True)) or None
        if as_lines:
            (line,) = ax.plot(x, mean, marker="o", ms=4, label=label)
            ax.fill_between(x, lo, hi, color=line.get_color(), alpha=0.2, lw=0)
        else:
            err = [[m - a for m, a in zip(mean, lo, strict=True)],
                   [b - m for m, b in zip(mean, hi, strict=True)]]
            ax.errorbar(x, mean, yerr=err, fmt="o", ms=3, alpha=0.6, color="C0")
    if not numeric:
        ax.set_xticks(range(len(cats)), [_label(c) for c in cats])
    ax.set_xlabel(param)
    ax.set_ylabel(metric)
    level = int(round(100 * res.level))
    title = f"{metric} vs {param}"
    ax.set_title(f"{title} (mean, {level}% CI, {len(res.seeds)} replications)", fontsize=9)
    if as_lines and others:
        ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return ax


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
    if len(xs) * len(ys) > 4 * max(len(rows), 1):  # scattered samples, not a grid
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
                        ax.text(j, i, f"{grid[i, j]:.3g}", ha="center", va="center",
                                fontsize=7, color="w" if grid[i, j] < mid else "k")
        if fig is not None:
            fig.colorbar(im, ax=ax, label=metric)
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.set_title(f"{metric} (mean of {len(res.seeds)} replications)", fontsize=9)
    return ax


def _order(v: Any) -> tuple[int, Any]:
    return (0, v) if isinstance(v, int | float) and not isinstance(v, bool) else (1, str(v))


def plot_sweep(res: SweepResult, metric: str, *, ax: Axes | None = None) -> Axes:
    """The natural single plot: a line for one parameter, a heat map for two."""
    if len(res.params) == 1:
        return plot_line(res, metric, res.params[0], ax=ax)
    if len(res.params) == 2:
        return plot_heatmap(res, metric, res.params[0], res.params[1], ax=ax)
    return plot_line(res, metric, res.params[0], ax=ax)


def sweep_figure(res: SweepResult, metric: str) -> Figure:
    """A whole figure for ``metric``: :func:`plot_sweep` for one or two parameters on a
    grid, otherwise one main-effects panel per parameter."""
    from matplotlib.figure import Figure

    grid_2d = len(res.params) == 2 and res.design.kind == "grid"
    if len(res.params) == 1 or grid_2d:
        fig = Figure(figsize=(6.4, 4.4), layout="constrained")
        plot_sweep(res, metric, ax=fig.add_subplot())
        return fig
    n = len(res.params)
    fig = Figure(figsize=(4.2 * n, 3.8), layout="constrained")
    for k, p in enumerate(res.params):
        plot_line(res, metric, p, ax=fig.add_subplot(1, n, k + 1))
    return fig
