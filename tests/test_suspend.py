"""A simulated ``suspend`` traffic term (issue 18, ``dialer.obey_terms``).

The check of the issue: a simulated ``suspend`` stops dialing at the window's breach and
resumes in the next. Each breach the run reports is checked against rating's own counts
(:func:`sim.billing.terms.term_counts` over the CDRs): the calls of the window ended by
the breach are past the line (with at least ``min_calls``), those ended before it are
not, no call starts between the breach and the next window, and calls start again in
the next window. The baseline's traffic runs at ~37 % short calls, so a 35 % line
per day fires every day.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import sim
from sim.billing.terms import term_counts, window_breaks, window_key, window_keys
from sim.cdr import encode
from sim.commands.run import suspension_lines
from sim.errors import ScenarioError
from sim.model.suspend import campaign_epoch
from sim.scenario import scenario_from_dict
from sim.validate import read_toml
from tests.conftest import SCENARIOS

PLAN = """
[[plan]]
name = "blocking"
currency = "CNY"
price_per_min = "0.12"
increments = "60/60"

[[plan.traffic_terms]]
name = "short-call block"
metric = "{metric}"
max_s = 6
window = "{window}"
zone = "{zone}"
threshold = "{threshold}"
when = "{when}"
suspend = true
min_calls = {min_calls}

[[plan]]
name = "plain"
currency = "CNY"
price_per_min = "0.12"
increments = "60/60"

[[plan.traffic_terms]]
name = "fee only"
metric = "short_share"
threshold = "0.30"
fee_per_call = "0.02"
"""


def scenario(tmp_path: Path, over: dict[str, Any] | None = None, *, metric: str = "short_share",
             window: str = "day", zone: str = "Asia/Shanghai", threshold: str = "0.35",
             when: str = "above", min_calls: int = 200, obey: str | None = "blocking"
             ) -> sim.Scenario:
    """The baseline, smaller (3 days, 20 agents), with the plan file in ``tmp_path``."""
    (tmp_path / "plans.toml").write_text(PLAN.format(
        metric=metric, window=window, zone=zone, threshold=threshold, when=when,
        min_calls=min_calls), encoding="utf-8")
    raw = read_toml(SCENARIOS / "baseline.toml", ScenarioError)
    raw.pop("variant", None)
    o: dict[str, Any] = {"campaign.days": 3, "agents.count": 20, "list.size": 20_000,
                         "billing.plans": ["plans.toml"], **(over or {})}
    if obey is not None:
        o["dialer.obey_terms"] = obey
    return scenario_from_dict(raw, source=str(tmp_path / "s.toml"), overrides=o,
                                  base_dir=tmp_path)


def check_breaches(r: Any) -> list[dict[str, Any]]:
    """Every reported stop agrees with rating's counts, and nothing is dialled in it."""
    term = r.scenario.dialer.suspend_terms[0]
    c = r.cdrs
    start, end = c["start"], c["end"]
    index, labels = window_keys(c, term.window, term.zone)
    answered = c["disposition"] == encode("disposition", "ANSWERED")
    d = np.where(answered, c["billsec"], 0)
    positive = answered & (d > 0)

    def counts(sel: np.ndarray, w: int) -> tuple[int, int]:
        k = term_counts(term, index[sel], len(labels), d[sel], answered[sel], positive[sel],
                        np.zeros(int(sel.sum()), dtype=np.int64))
        return k["num"][w], k["base"][w]

    stops = r.pacer["suspended"]
    for s in stops:
        t0, t1 = s["from_s"], s["to_s"]
        assert not ((start >= t0) & (start < t1)).any(), s  # nothing dialled while stopped
        w = labels.index(s["window"])
        num, base = counts((index == w) & (end <= t0), w)
        assert (num, base) == (s["count"], s["base"])  # the dialer counted as rating does
        assert base >= term.min_calls and term.breached(num, base)
        assert not term.breached(*counts((index == w) & (end < t0), w))  # not a call earlier
        assert (start < t0).any()
    return stops


@pytest.mark.parametrize("over", [
    {},  # progressive 1:1: agent-owned dialing
    {"dialer.ratio": 1.5},  # power dialing: pooled
    {"dialer.mode": "predictive"},
    {"dialer.mode": "poisson", "dialer.rate_per_min": 20},
], ids=["progressive", "power", "predictive", "poisson"])
def test_day_suspend_stops_at_the_breach_and_resumes_the_next_day(tmp_path: Path,
                                                                  over: dict[str, Any]) -> None:
    r = sim.run(scenario(tmp_path, over), seed=3)
    stops = check_breaches(r)
    assert [s["window"] for s in stops] == ["2026-03-02", "2026-03-03", "2026-03-04"]
    start = r.cdrs["start"]
    for day, s in enumerate(stops):
        # the day's window ends at Shanghai midnight (the campaign's own zone here)
        assert s["to_s"] == 86_400.0 * (day + 1)
        assert 9 * 3600 < s["from_s"] - 86_400.0 * day < 12 * 3600  # a morning breach
        if day < 2:  # dialing resumes the next day, when its calling window opens
            nxt = start[start >= s["to_s"]].min()
            assert s["to_s"] + 9 * 3600 <= nxt < s["to_s"] + 9 * 3600 + 60


def test_dialing_resumes_at_the_windows_start_inside_calling_hours(tmp_path: Path) -> None:
    """Days cut in Auckland (UTC+13 in March) start at 19:00 in Shanghai, inside the
    calling window: agents dial again at once, at that instant."""
    for over in ({}, {"dialer.ratio": 1.5}):
        r = sim.run(scenario(tmp_path, over, zone="Pacific/Auckland"), seed=3)
        stops = check_breaches(r)
        start = r.cdrs["start"]
        resumed = [s for s in stops if s["to_s"] < 3 * 86_400.0]
        assert len(resumed) >= 2
        for s in resumed:
            assert s["to_s"] % 86_400.0 == 19 * 3600
            nxt = start[start >= s["to_s"]].min()
            assert nxt - s["to_s"] < 5.0  # the first dial of the new window
            if not over:
                assert nxt == s["to_s"]  # agents sleeping through the stop wake at it


def test_a_campaign_window_stops_dialing_for_good(tmp_path: Path) -> None:
    r = sim.run(scenario(tmp_path, window="campaign", min_calls=300), seed=3)
    (s,) = check_breaches(r)
    assert s["window"] == "campaign" and s["to_s"] == math.inf
    assert r.cdrs["start"].max() < s["from_s"]
    assert "for the rest of the campaign" in "\n".join(suspension_lines(r.pacer))


def test_asr_minimum_blocks_the_day(tmp_path: Path) -> None:
    """An ASR minimum above this traffic's ~45 %: blocked as soon as 100 dials are counted."""
    r = sim.run(scenario(tmp_path, metric="asr", threshold="0.60", when="below",
                         min_calls=100), seed=3)
    stops = check_breaches(r)
    assert len(stops) == 3 and all(s["base"] == 100 for s in stops)


def test_preview_checks_when_the_agent_takes_the_next_lead(tmp_path: Path) -> None:
    """Preview: the lead handed out before the breach is still dialled after its preview
    (like a call in flight); no preview starts after the breach."""
    r = sim.run(scenario(tmp_path, {"dialer.mode": "preview"}), seed=3)
    stops = r.pacer["suspended"]
    assert len(stops) == 3
    agent, p_start, p_end = r.previews
    start = r.cdrs["start"]
    for s in stops:
        t0, t1 = s["from_s"], s["to_s"]
        assert not ((p_start >= t0) & (p_start < t1)).any()
        late = (start >= t0) & (start < t1)
        # at most one per agent, each previewed from before the breach
        assert late.sum() <= r.scenario.agents.count
        for t in start[late]:
            assert ((p_end == t) & (p_start < t0)).any()


def test_a_term_that_never_fires_changes_nothing(tmp_path: Path) -> None:
    """Obeying terms that do not fire gives the very CDRs of a run without the key: the
    hooks count, they do not disturb (agent-owned and pooled dialing)."""
    small = {"campaign.days": 1, "agents.count": 10, "list.size": 5000}
    for over in (small, {**small, "dialer.ratio": 1.5},
                 {**small, "dialer.mode": "predictive"}):
        plain = sim.run(scenario(tmp_path, over, obey=None), seed=4)
        watched = sim.run(scenario(tmp_path, over, threshold="0.99"), seed=4)
        assert watched.pacer["suspended"] == []
        assert "suspended" not in plain.pacer
        for name, col in plain.cdrs.columns.items():
            assert np.array_equal(col, watched.cdrs.columns[name], equal_nan=True), name
        assert suspension_lines(watched.pacer)[0].startswith("Dialing suspended: never")
        assert suspension_lines(plain.pacer) == []


def test_the_epoch_is_the_cdrs(tmp_path: Path) -> None:
    sc = scenario(tmp_path, obey=None)
    r = sim.run(sim.quick(sc, leads=200), seed=1)
    assert r.cdrs.epoch == campaign_epoch(sc)


@pytest.mark.parametrize("window", ["day", "week", "month"])
@pytest.mark.parametrize("zone", ["UTC", "Asia/Shanghai", "America/New_York", "Asia/Kolkata",
                                  "Australia/Lord_Howe", "Pacific/Chatham"])
def test_window_breaks_cut_where_window_key_changes(window: str, zone: str) -> None:
    """The dialer's window edges are exactly rating's: ``window_key`` changes at each
    break and nowhere else (checked every 15 minutes and either side of each break),
    across DST changes (New York, Lord Howe's half-hour one) and odd offsets."""
    lo = 1_772_000_000.0  # 2026-02-25
    hi = lo + 120 * 86_400.0
    breaks, keys = window_breaks(lo, hi, window, zone)
    assert len(keys) == len(breaks) + 1 and breaks == sorted(breaks)
    grid = np.arange(lo, hi, 900.0)
    got = window_key(grid, window, zone)
    expect = np.array(keys)[np.searchsorted(np.array(breaks), grid, side="right")]
    assert np.array_equal(got, expect)
    b = np.array(breaks)
    assert np.array_equal(window_key(b, window, zone), np.array(keys[1:]))
    assert np.array_equal(window_key(b - 1e-3, window, zone), np.array(keys[:-1]))


def test_unknown_plan_is_refused_naming_the_key_and_the_plans(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError) as e:
        scenario(tmp_path, obey="blockng")
    msg = str(e.value)
    assert "dialer.obey_terms" in msg and "'blocking', 'plain'" in msg
    assert "did you mean 'blocking'" in msg.lower()


def test_a_plan_without_suspend_terms_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError) as e:
        scenario(tmp_path, obey="plain")
    msg = str(e.value)
    assert "dialer.obey_terms" in msg and "suspend = true" in msg
    assert "'fee only'" in msg and "plans with one: 'blocking'" in msg


def test_no_plan_files_and_a_non_string_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="billing.plans, which lists no plan file"):
        scenario(tmp_path, {"billing.plans": []})
    with pytest.raises(ScenarioError, match=r"dialer.obey_terms: must be a string \(got 3\)"):
        scenario(tmp_path, {"dialer.obey_terms": 3}, obey=None)


def test_cli_exits_2_and_prints_the_stops(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                          ) -> None:
    from sim.cli import main

    scenario(tmp_path)  # writes plans.toml
    (tmp_path / "s.toml").write_text((SCENARIOS / "baseline.toml").read_text(
        encoding="utf-8").split("[[variant]]")[0].replace(
        'plans = ["plans/china.toml", "plans/china_terms.toml"]', 'plans = ["plans.toml"]'),
        encoding="utf-8")
    args = ["run", str(tmp_path / "s.toml"), "--set", "campaign.days=2", "--set",
            "agents.count=20", "--set", "list.size=20000", "--cdr-format", "none"]
    assert main([*args, "--set", "dialer.obey_terms=nope", "--out", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err
    assert "dialer.obey_terms" in err and "'blocking', 'plain'" in err
    assert "Traceback" not in err
    assert main([*args, "--set", "dialer.obey_terms=blocking", "--out",
                 str(tmp_path / "b")]) == 0
    out = capsys.readouterr().out
    assert "Dialing suspended 2 times by plan 'blocking'" in out
    assert "short-call block 2026-03-02: from 09:" in out
