"""The fit's files: ``scenario.toml``, ``fit.json``, ``check.json``, ``fit.html``.

The page shows what a user needs to trust (or doubt) the fitted scenario: the
Kaplan–Meier curve of "not yet picked up" beside the censored fit (and the naive one),
the talk-time histogram against the fitted mixture, pick-up by hour and by attempt,
the retry delays, the check table, and every estimate with its CI and method. Plots use
matplotlib's object API (``f(..., ax=None) -> Axes``) and are embedded as PNG.
"""

from __future__ import annotations

import base64
import html
import io
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..analysis.plots import new_axes
from ..output import atomic_write, atomic_write_text, output_dir

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from .check import Check
    from .core import Fit

__all__ = ["plot_pickup", "plot_retry_delays", "plot_ring", "plot_talk", "write_outputs"]


def plot_ring(f: Fit, ax: Axes | None = None) -> Axes:
    """Kaplan–Meier P(not picked up by t) against the censored and naive fits."""
    ax = new_axes(ax)
    rf = f.ring
    if len(rf.km_t):
        ax.step(np.r_[0, rf.km_t], np.r_[1, rf.km_s], where="post", color="black",
                label="Kaplan–Meier (export)")
    top = max(f.dials.ring_timeout_s if math.isfinite(f.dials.ring_timeout_s) else 30, 1)
    t = np.linspace(0.01, top, 300)
    if rf.best is not None:
        ax.plot(t, rf.survival(t), color="tab:blue",
                label=f"censored fit (p_pickup {rf.best.p:.3f})")
    naive = f.estimates.get("naive.p_pickup")
    nm = f.estimates.get("naive.ring_median_s")
    if naive is not None and nm is not None:
        from scipy import stats

        r = f.dials.ring_s[f.dials.answered]
        r = r[np.isfinite(r) & (r > 0)]
        sd = float(np.log(r).std()) if len(r) > 1 else 1.0
        cdf = stats.lognorm.cdf(t, sd, scale=nm.value)
        ax.plot(t, 1 - naive.value * cdf, color="tab:red", ls="--",
                label=f"naive fit (p_pickup {naive.value:.3f})")
    ax.set_xlabel("ring time (s)")
    ax.set_ylabel("P(not picked up yet)")
    ax.set_ylim(0, 1.02)
    ax.legend(loc="upper right", fontsize=8)
    ax.set_title("Ring to answer: censored fit vs Kaplan–Meier")
    return ax


def plot_talk(f: Fit, ax: Axes | None = None) -> Axes:
    """Histogram of answered talk times (log scale) against the fitted mixture."""
    ax = new_axes(ax)
    v = f.talk.values
    v = v[np.isfinite(v)]
    if len(v) == 0:
        ax.text(0.5, 0.5, "no answered calls", ha="center", transform=ax.transAxes)
        return ax
    hi = max(float(v.max()), 2.0)
    edges = np.unique(np.r_[0.0, np.geomspace(1.0, hi + 1, 40)])
    counts, _ = np.histogram(v, bins=edges)
    ax.bar(edges[:-1], counts / len(v), width=np.diff(edges), align="edge", color="0.8",
           edgecolor="0.5", label="export")
    if f.talk.best is not None:
        cdf = f.talk.cdf(edges)
        ax.step(edges[:-1], np.diff(cdf), where="post", color="tab:blue", lw=2,
                label=f"fitted mixture ({f.talk.best.k} component"
                      f"{'s' if f.talk.best.k > 1 else ''})")
    ax.set_xscale("symlog", linthresh=1.0)
    ax.set_xlabel("talk time (s)")
    ax.set_ylabel("share of answered calls")
    ax.legend(fontsize=8)
    ax.set_title("Talk time: export vs fitted mixture")
    return ax


def plot_pickup(f: Fit, by: str, ax: Axes | None = None) -> Axes:
    """Answered share of ringing dials by hour of day or attempt, with 95 % CIs."""
    from .estimate import wilson

    ax = new_axes(ax, size_in=(6.0, 3.6))
    d = f.dials
    key = d.hour if by == "hour" else d.attempt
    ring = d.answered | d.no_answer
    xs, ps, los, his = [], [], [], []
    for g in np.unique(key[ring]):
        sel = ring & (key == g)
        p, lo, hi = wilson(int((sel & d.answered).sum()), int(sel.sum()))
        xs.append(int(g))
        ps.append(p)
        los.append(max(p - lo, 0.0))
        his.append(max(hi - p, 0.0))
    ax.errorbar(xs, ps, yerr=[los, his], fmt="o", capsize=3)
    ax.set_xlabel("hour of day" if by == "hour" else "attempt")
    ax.set_ylabel("answered / (answered + no answer)")
    ax.set_title(f"Pick-up by {by}")
    return ax


def plot_retry_delays(f: Fit, ax: Axes | None = None) -> Axes:
    """Observed retry delays by outcome of the previous attempt (ECDF, log time)."""
    ax = new_axes(ax, size_in=(6.0, 3.6))
    any_ = False
    for name, v in sorted(f.lists.delays.items()):
        v = np.sort(np.maximum(v, 1.0))
        if len(v):
            any_ = True
            ax.step(v, np.arange(1, len(v) + 1) / len(v), where="post",
                    label=f"after {name.replace('_', ' ')} ({len(v)})")
    if any_:
        ax.set_xscale("log")
        ax.legend(fontsize=8)
    else:
        ax.text(0.5, 0.5, "no retries in the export", ha="center", transform=ax.transAxes)
    ax.set_xlabel("delay to the next attempt (s)")
    ax.set_ylabel("share retried within")
    ax.set_title("Retry delays")
    return ax


def _png(ax: Axes) -> str:
    buf = io.BytesIO()
    ax.figure.savefig(buf, format="png", dpi=90)  # type: ignore[union-attr]
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _fmt(x: Any) -> str:
    if isinstance(x, float):
        return "" if not math.isfinite(x) else f"{x:.4g}"
    if isinstance(x, dict | list):
        from .writer import toml_value

        text = toml_value(x)
        return text if len(text) < 160 else text[:157] + "..."
    return "" if x is None else str(x)


def html_page(f: Fit, check: Check | None) -> str:
    """The self-contained fit report."""
    e = html.escape
    parts = ["<!DOCTYPE html><html><head><meta charset='utf-8'><title>dialsim fit</title>",
             "<style>body{font-family:sans-serif;max-width:1000px;margin:auto}"
             "td,th{padding:2px 8px;border-bottom:1px solid #ddd;font-size:13px}"
             ".no{color:#b00}</style></head><body>",
             f"<h1>dialsim fit: {e(str(f.cdrs.meta.get('source', 'CDRs')))}</h1>",
             f"<p>{f.dials.n:,} dials, {f.dials.leads:,} leads.</p>"]
    for w in f.warnings:
        parts.append(f"<p class='no'>warning: {e(w)}</p>")
    if check is not None:
        parts.append(f"<h2>Twin check ({check.reps} replications)</h2><pre>"
                     f"{e(check.table())}</pre>")
    for ax in (plot_ring(f), plot_talk(f), plot_pickup(f, "hour"), plot_pickup(f, "attempt"),
               plot_retry_delays(f)):
        parts.append(f"<figure><img src='data:image/png;base64,{_png(ax)}'"
                     f" alt='{e(ax.get_title())}'></figure>")
    parts.append("<h2>Estimates</h2><table><tr><th>name</th><th>value</th><th>95% CI</th>"
                 "<th>n</th><th>method / note</th></tr>")
    for est in f.estimates.values():
        ci = (f"{_fmt(est.low)}..{_fmt(est.high)}" if math.isfinite(est.low) else "")
        cls = "" if est.identified else " class='no'"
        parts.append(f"<tr{cls}><td>{e(est.name)}</td><td>{e(_fmt(est.value))}</td>"
                     f"<td>{e(ci)}</td><td>{est.n:,}</td><td>{e(est.comment())}</td></tr>")
    parts.append("</table><h2>scenario.toml</h2><pre>" + e(f.toml) + "</pre></body></html>")
    return "\n".join(parts)


def write_outputs(f: Fit, out: Path, *, force: bool = False, check: Check | None = None,
                  html: bool = True) -> Path:
    """Write the fit's files into a new folder ``out`` (replaced only with ``force``)."""
    from ..commands._common import write_json

    with output_dir(out, force=force) as folder:
        atomic_write_text(folder / "scenario.toml", f.toml)
        write_json(folder / "fit.json", f.to_json())
        if check is not None:
            write_json(folder / "check.json", check.to_json())
            with atomic_write(folder / "check.txt") as fh:
                fh.write(check.table() + "\n")
        if html:
            atomic_write_text(folder / "fit.html", html_page(f, check))
    return out
