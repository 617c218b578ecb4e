"""Plots: object API (``ax=`` in, ``Axes`` out), render under Agg, cope with empty input."""

from __future__ import annotations

import io

import matplotlib
import numpy as np
import pytest
from _factory import tiny
from matplotlib.axes import Axes
from matplotlib.figure import Figure

import sim
from sim.agentlog import AgentLog
from sim.analysis import plots
from sim.analysis.breakeven import CallMix, breakeven_map, cost_curve
from sim.analysis.stats import Estimate
from sim.billing import plans_from_dict

PLANS = plans_from_dict({"plan": [
    {"name": "60/60", "currency": "CNY", "price_per_min": "0.12", "increments": "60/60"},
    {"name": "30/6", "currency": "CNY", "price_per_min": "0.14", "increments": "30/6"},
    {"name": "per-second", "currency": "CNY", "price_per_min": "0.18", "increments": "1/1"},
]})


@pytest.fixture(scope="module")
def result():
    s = tiny({"customers.p_pickup": 0.6, "customers.patience": 1, "dialer.ratio": 2,
              "script.stages[0].duration": {"dist": "lognormal", "median": 40, "sigma": 1},
              "list.size": 300}, agents={"count": 4})
    return sim.run(s, seed=2)


def render(ax: Axes) -> bytes:
    assert isinstance(ax, Axes)
    buf = io.BytesIO()
    ax.figure.savefig(buf, format="png")
    data = buf.getvalue()
    assert data.startswith(b"\x89PNG")
    return data


def test_backend_is_agg():
    assert matplotlib.get_backend().lower() == "agg"


def test_talk_histogram_draws_block_boundaries(result):
    ax = plots.plot_talk_histogram(result.cdrs, PLANS[0], rounding_share=0.3)
    edges = [ln.get_xdata()[0] for ln in ax.get_lines()]
    assert edges[:2] == [60, 120]
    assert "30.0% of billed seconds" in ax.get_title()
    render(ax)
    # per-second blocks are too dense to draw: only the first boundary is shown
    ax = plots.plot_talk_histogram(result.cdrs, PLANS[2])
    assert len(ax.get_lines()) == 1
    render(plots.plot_talk_histogram(result.cdrs))


def test_given_axes_are_used(result):
    fig = Figure()
    ax1, ax2 = fig.subplots(1, 2)
    assert plots.plot_talk_histogram(result.cdrs, PLANS[1], ax=ax1) is ax1
    assert plots.plot_abandonment(result.cdrs, ax=ax2) is ax2
    render(ax1)


def test_plan_costs_with_and_without_intervals():
    ests = {"a": Estimate(10.0, 9.0, 11.5, 5), "b": Estimate(8.0, 7.5, 8.5, 5)}
    ax = plots.plot_plan_costs(ests, currency="CNY", label="cost per contact")
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b"]  # cheapest on top
    assert "95% CI" in ax.get_title()
    render(ax)
    from decimal import Decimal

    ax = plots.plot_plan_costs({"a": Decimal("3.5"), "b": 2.0, "c": None})
    assert len(ax.patches) == 2
    render(ax)


def test_variant_costs_note_paired_differences():
    ests = {"base": Estimate(5.0, 4.0, 6.0, 8), "short": Estimate(4.5, 3.5, 5.5, 8)}
    diffs = {"short": Estimate(-0.5, -0.7, -0.3, 8)}
    ax = plots.plot_variant_costs(ests, diffs=diffs, currency="CNY", plan="60/60")
    assert any("-0.5" in t.get_text() for t in ax.texts)
    render(ax)


def test_agent_states_stack_to_the_agents_logged_in(result):
    ax = plots.plot_agent_states(result.agents, bin_s=600)
    assert [t.get_text() for t in ax.get_legend().get_texts()][0] == "talk"
    render(ax)
    empty = AgentLog(np.zeros(0, np.int32), np.zeros(0, np.int8), np.zeros(0), np.zeros(0))
    render(plots.plot_agent_states(empty))


def test_time_in_bins_is_exact():
    starts, ends = np.array([0.0, 50.0, 90.0]), np.array([30.0, 120.0, 95.0])
    got = plots._time_in(starts, ends, np.array([0.0, 60.0, 120.0]))
    assert got.tolist() == [30.0 + 10.0, 60.0 + 5.0]


def test_abandonment_over_time(result):
    ax = plots.plot_abandonment(result.cdrs, bin_s=1800, limit=0.03)
    assert "live answers" in ax.get_title()
    assert result.kpis["abandoned"] > 0
    render(ax)
    render(plots.plot_abandonment(result.cdrs.select(np.zeros(len(result.cdrs), bool))))


def test_dial_level_draws_nothing_without_a_timeline():
    for missing in (None, {}, {"t": np.zeros(0), "dial_level": np.zeros(0)}):
        ax = plots.plot_dial_level(missing)
        assert not ax.get_lines() and not ax.collections
        render(ax)
    t = np.arange(0, 3600, 15.0)
    ax = plots.plot_dial_level({"t": t, "dial_level": 1 + t / 3600,
                                "abandon_rate": np.full(t.size, 0.02)})
    assert len(ax.get_lines()) == 1 and len(ax.figure.axes) == 2  # level + twin for rate
    render(ax)


def test_break_even_plots(result):
    means = np.geomspace(5, 600, 25)
    bmap = breakeven_map(PLANS, means, np.linspace(0, 0.9, 10), sigma=0.9)
    mix = CallMix.from_cdrs(result.cdrs)
    ax = plots.plot_breakeven_map(bmap, mix=mix)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert set(bmap.winners()) <= set(labels) and "this campaign (★)" in labels
    render(ax)
    curve = cost_curve(PLANS, means, p_short=mix.p_short, sigma=0.9)
    ax = plots.plot_cost_curve(curve, mark_s=mix.mean_talk_s)
    assert len(ax.get_lines()) >= len(PLANS)
    render(ax)
