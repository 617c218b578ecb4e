"""Traffic (portfolio) terms: hand-computed vectors of the published examples, windows
that cross UTC midnight and a month boundary, and properties.

Provenance: DESIGN.md §9 and VALIDATION.md "Short-call surcharge": 200 calls <= 6 s
among 1,000 connected calls = 20 %; against a 15 % line at 0.015 per call: offending
3.00, excess (200 - 150) x 0.015 = 0.75, all 0.015 x attempts. The call-tracking
platform: < 6 s above 20 % -> 0.015 per call, 0-s above 25 % -> 0.015 per call; the
long-distance carrier: 0.02 per call above 10 % <= 6 s.
"""

from __future__ import annotations

import csv
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.billing import CampaignInfo, plans_from_dict, rate, write_costs
from sim.cdr import CDRTable, empty_columns, encode, open_categories
from sim.errors import PlanError

NONE = CampaignInfo(days=D(0))


def table(billsec: list[int], answered: list[bool] | None = None,
          start: list[float] | None = None, *, epoch: str = "2026-03-02T00:00:00",
          tz: str = "UTC") -> CDRTable:
    n = len(billsec)
    answered = [True] * n if answered is None else answered
    start = [3600.0 * 10] * n if start is None else start
    cols = empty_columns(n)
    cols["billsec"][:] = [b if a else 0 for b, a in zip(billsec, answered, strict=True)]
    cols["talk_s"][:] = [max(b - 0.5, 0) if a else 0 for b, a in
                         zip(billsec, answered, strict=True)]
    cols["disposition"][:] = [encode("disposition", "ANSWERED" if a else "NO ANSWER")
                              for a in answered]
    cols["start"][:] = start
    cols["answer"][:] = [s + 5 if a else np.nan for s, a in zip(start, answered, strict=True)]
    cols["end"][:] = [s + 5 + b for s, b in zip(start, billsec, strict=True)]
    return CDRTable(cols, open_categories(), epoch=epoch, tz=tz)


def plan(*terms: dict[str, Any], **kw: Any) -> Any:
    raw = {"name": "p", "currency": "USD", "price_per_min": "0.06", "increments": "1/1",
           "rounding": {"decimals": 4}, "traffic_terms": list(terms), **kw}
    (p,) = plans_from_dict({"plan": [raw]})
    return p


def short_term(**kw: Any) -> dict[str, Any]:
    return {"name": "short", "metric": "short_share", "max_s": 6, "threshold": "0.15",
            "fee_per_call": "0.015", "window": "campaign", **kw}


def carrier_table() -> CDRTable:
    """1,000 connected calls (200 of 3 s, 800 of 60 s) and 500 unanswered attempts."""
    return table([3] * 200 + [60] * 800 + [0] * 500, [True] * 1000 + [False] * 500)


@pytest.mark.parametrize(("applies", "cost", "charged"), [
    ("offending", D("3.00"), 200), ("excess", D("0.75"), 50), ("all", D("22.50"), 1500)])
def test_short_call_surcharge_vector(applies: str, cost: D, charged: int) -> None:
    p = plan(short_term(applies_to=applies))
    s = rate(carrier_table(), [p], campaign=NONE).summary("p")
    (term,) = s.traffic
    (w,) = term.windows
    assert (w.count, w.base, w.calls) == (200, 1000, 1500)
    assert w.value == pytest.approx(0.20)
    assert w.fired and w.charged_calls == charged and term.cost == cost
    assert s.traffic_fees == cost
    calls = D(200 * 3 + 800 * 60) * D("0.001")  # 0.06/min per second
    assert s.telecom == calls and s.total == calls + cost


def test_call_tracking_both_thresholds() -> None:
    """< 6 s is max_s = 5: the 6-second calls are not short under this line."""
    billsec = [5] * 150 + [6] * 50 + [100] * 500 + [0] * 300
    cdrs = table(billsec, [True] * 700 + [False] * 300)
    p = plan(short_term(name="under 6 s", max_s=5, threshold="0.20"),
             {"name": "zero", "metric": "zero_share", "threshold": "0.25",
              "fee_per_call": "0.015", "window": "campaign"})
    s = rate(cdrs, [p], campaign=NONE).summary("p")
    short, zero = s.traffic
    assert (short.windows[0].count, short.windows[0].base) == (150, 700)  # 21.4 % > 20 %
    assert short.cost == D("2.25")
    assert (zero.windows[0].count, zero.windows[0].base) == (300, 1000)  # 30 % > 25 %
    assert zero.cost == D("4.50")
    assert s.traffic_fees == D("6.75")
    # 6-second calls count under a <= 6 s line: 200 / 700 = 28.6 %
    wide = rate(cdrs, [plan(short_term(max_s=6, threshold="0.20"))],
                campaign=NONE).summary("p").traffic[0]
    assert wide.windows[0].count == 200 and wide.cost == D("3.00")


@pytest.mark.parametrize(("short", "fired", "cost"), [(100, False, D(0)),
                                                      (101, True, D("2.02"))])
def test_two_cents_above_ten_percent_is_strict(short: int, fired: bool, cost: D) -> None:
    cdrs = table([4] * short + [90] * (1000 - short))
    p = plan(short_term(threshold="0.10", fee_per_call="0.02"))
    (term,) = rate(cdrs, [p], campaign=NONE).summary("p").traffic
    assert term.fired is fired and term.cost == cost


def test_day_windows_cut_at_utc_midnight_or_local_midnight() -> None:
    """Calls of a Shanghai morning, 07:00-09:00 local = 23:00-01:00 UTC: UTC days split
    them, Shanghai days do not."""
    # 100 calls 07:00-08:00 local (UTC day 1), half short; 100 calls 08:00-09:00, none
    start = [7 * 3600 + 30.0 * i for i in range(100)] + [8 * 3600 + 30.0 * i
                                                          for i in range(100)]
    billsec = [3 if i % 2 else 60 for i in range(100)] + [60] * 100
    cdrs = table(billsec, start=start, tz="Asia/Shanghai")
    utc = plan(short_term(window="day", threshold="0.30", min_calls=10))
    local = plan(short_term(window="day", zone="Asia/Shanghai", threshold="0.30",
                            min_calls=10))
    (t_utc,) = rate(cdrs, [utc], campaign=NONE).summary("p").traffic
    assert [(w.window, w.count, w.base, w.fired) for w in t_utc.windows] == [
        ("2026-03-01", 50, 100, True), ("2026-03-02", 0, 100, False)]
    assert t_utc.cost == D("0.75")
    (t_loc,) = rate(cdrs, [local], campaign=NONE).summary("p").traffic
    assert [(w.window, w.count, w.base, w.fired) for w in t_loc.windows] == [
        ("2026-03-02", 50, 200, False)]  # 25 % < 30 %
    assert t_loc.cost == 0


def test_month_windows_cross_a_month_boundary() -> None:
    """Calls on 31 March and 1 April (UTC): two monthly windows, only March fires."""
    day = 86_400.0
    start = [10 * 3600.0] * 200 + [day + 10 * 3600.0] * 200  # epoch 2026-03-31 00:00 UTC
    billsec = [2] * 60 + [30] * 140 + [2] * 10 + [30] * 190
    cdrs = table(billsec, start=start, epoch="2026-03-31T00:00:00")
    (term,) = rate(cdrs, [plan(short_term(window="month"))],
                   campaign=NONE).summary("p").traffic
    assert [(w.window, w.count, w.base, w.fired, w.cost) for w in term.windows] == [
        ("2026-03", 60, 200, True, D("0.9")), ("2026-04", 10, 200, False, D(0))]
    # one campaign window: 70 / 400 = 17.5 % > 15 %, all 70 charged
    (whole,) = rate(cdrs, [plan(short_term())], campaign=NONE).summary("p").traffic
    assert whole.cost == D("1.05")


def test_week_windows_start_on_monday() -> None:
    day = 86_400.0
    # epoch Sunday 2026-03-01: Sunday's calls and Monday's fall in different weeks
    cdrs = table([3] * 20 + [60] * 20, start=[3600.0] * 20 + [day + 3600.0] * 20,
                 epoch="2026-03-01T00:00:00")
    (term,) = rate(cdrs, [plan(short_term(window="week", min_calls=0))],
                   campaign=NONE).summary("p").traffic
    assert [(w.window, w.count, w.base) for w in term.windows] == [
        ("2026-02-23/week", 20, 20), ("2026-03-02/week", 0, 20)]


def test_asr_minimum_suspends_and_excess_counts_missing_answers() -> None:
    cdrs = table([60] * 300 + [0] * 700, [True] * 300 + [False] * 700)  # ASR 30 %
    susp = {"name": "asr", "metric": "asr", "threshold": "0.40", "suspend": True,
            "window": "campaign"}
    fee = {**susp, "suspend": False, "fee_per_call": "0.01", "applies_to": "excess"}
    del fee["suspend"]
    s = rate(cdrs, [plan(susp)], campaign=NONE).summary("p")
    (term,) = s.traffic
    assert term.fired and term.cost == 0 and term.term.when == "below"
    assert term.windows[0].value == pytest.approx(0.3)
    (term,) = rate(cdrs, [plan(fee)], campaign=NONE).summary("p").traffic
    assert term.windows[0].charged_calls == 100 and term.cost == D("1.00")  # 400 - 300


def test_acd_uplift_multiplies_the_window_call_charges() -> None:
    cdrs = table([4] * 150 + [20] * 50)  # ACD 8 s < 10 s
    p = plan({"name": "acd", "metric": "acd_s", "threshold": 10, "uplift": "1.10",
              "applies_to": "all", "window": "campaign"})
    s = rate(cdrs, [p], campaign=NONE).summary("p")
    assert s.telecom == D("1.6000")  # 1,600 s at 0.001
    assert s.traffic[0].windows[0].value == pytest.approx(8.0)
    assert s.traffic_fees == D("0.1600")


def test_min_calls_keeps_small_windows_quiet() -> None:
    cdrs = table([3] * 50 + [60] * 49)
    assert rate(cdrs, [plan(short_term())], campaign=NONE).summary("p").traffic_fees == 0
    assert rate(cdrs, [plan(short_term(min_calls=99))],
                campaign=NONE).summary("p").traffic_fees == D("0.75")


def test_costs_csv_and_json_show_each_term(tmp_path: Path) -> None:
    r = rate(carrier_table(), [plan(short_term())], campaign=NONE)
    costs, _ = write_costs(r, tmp_path)
    with costs.open() as fh:
        (row,) = csv.DictReader(fh)
    assert row["traffic_fees"] == "3.0000"
    assert D(row["total"]) == D(row["telecom"]) + D("3")
    (t,) = r.traffic()["p"]
    assert t["fired"] and t["cost"] == D("3") and t["threshold"] == D("0.15")
    assert t["windows"][0]["value"] == 0.2


@pytest.mark.parametrize(("term", "message"), [
    ({"metric": "short_share", "threshold": "0.1"}, "exactly one of fee_per_call"),
    ({"metric": "short_share", "threshold": "0.1", "fee_per_call": "1", "uplift": "1.1"},
     "exactly one of fee_per_call"),
    ({"metric": "acd_s", "threshold": 10, "fee_per_call": "1", "applies_to": "excess"},
     "cannot be 'excess' for acd_s"),
    ({"metric": "asr", "threshold": "1.5", "suspend": True}, "a share between 0 and 1"),
    ({"metric": "short", "threshold": "0.1", "suspend": True}, "did you mean 'short_share'"),
    ({"metric": "asr", "threshold": "0.4", "suspend": True, "zone": "Mars/Olympus"},
     "IANA time zone"),
    ({"metric": "asr", "threshold": "0.4", "suspend": True, "windw": "day"},
     "did you mean 'window'"),
])
def test_bad_terms_are_named(term: dict[str, Any], message: str) -> None:
    with pytest.raises(PlanError, match="plan\\[0\\].traffic_terms\\[0\\]") as exc:
        plans_from_dict({"plan": [{"name": "p", "currency": "USD", "price_per_min": "0.1",
                                   "increments": "6/6", "traffic_terms": [term]}]},
                        source="plans.toml")
    assert message in str(exc.value)


# -- properties -------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 200), st.integers(1, 200), st.integers(0, 100),
       st.sampled_from(["0.1", "0.15", "0.2", "0.25"]),
       st.sampled_from(["offending", "excess", "all"]))
def test_no_fee_below_the_line_and_cost_monotone_in_the_share(
        short: int, long: int, unanswered: int, threshold: str, applies: str) -> None:
    p = plan(short_term(threshold=threshold, applies_to=applies, min_calls=0))

    def cost(k: int) -> D:
        cdrs = table([3] * k + [60] * (short + long - k) + [0] * unanswered,
                     [True] * (short + long) + [False] * unanswered)
        (term,) = rate(cdrs, [p], campaign=NONE).summary("p").traffic
        if k <= D(threshold) * (short + long):
            assert not term.fired and term.cost == 0
        return term.cost

    costs = [cost(k) for k in sorted({0, short // 2, short, min(short + long, short + 1)})]
    assert all(a <= b for a, b in zip(costs, costs[1:], strict=False))


# -- where plans are used: rate CLI, compare ---------------------------------------------


def test_rate_cli_shows_and_writes_each_term(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    from sim.cdrio import write_cdrs
    from sim.cli import main

    root = Path(__file__).resolve().parents[1]
    path = tmp_path / "cdrs.csv"
    write_cdrs(carrier_table(), path)
    code = main(["rate", str(path), "--plans", str(root / "scenarios/plans/traffic_terms.toml"),
                 "--out", str(tmp_path / "out")])
    out = capsys.readouterr().out
    assert code == 0
    assert "sip-short-15pct: 'short calls': short_share(<=6s) > 0.15 per month" in out
    assert "20.00%" in out and "200 / 1,000" in out and "fired" in out
    import json

    terms = json.loads((tmp_path / "out" / "terms.json").read_text())["traffic_terms"]
    (sip,) = terms["sip-short-15pct"]
    assert sip["fired"] and sip["cost"] == "3.00000" and sip["windows"][0]["count"] == 200
    asr = {t["name"]: t for t in terms["asr-acd-minimum"]}["ASR minimum"]
    assert not asr["fired"] and asr["windows"][0]["value"] == pytest.approx(1000 / 1500)
    with (tmp_path / "out" / "costs.csv").open() as fh:
        rows = {r["plan"]: r for r in csv.DictReader(fh)}
    assert rows["ld-short-2c"]["traffic_fees"] == "4.00000"  # 200 x 0.02
    # 200 < 6 s of 1,000 is 20 %: not above the 20 % line; 500 0-s of 1,500 is: 500 x 0.015
    assert rows["tracking-short-zero"]["traffic_fees"] == "7.50000"


def test_compare_names_the_variant_that_crosses_a_line() -> None:
    from sim.experiment import Replications
    from sim.variants import Comparison

    def reps(values: list[float], fired: list[float]) -> Replications:
        rows = tuple({"seed": i, "term.short:p": v, "fired.short:p": f}
                     for i, (v, f) in enumerate(zip(values, fired, strict=True)))
        return Replications(scenario=None, rows=rows)  # type: ignore[arg-type]

    comp = Comparison(scenario=None, runs={  # type: ignore[arg-type]
        "base": reps([0.12, 0.13, 0.125], [0, 0, 0]),
        "cut": reps([0.18, 0.20, 0.18], [1, 1, 1]),
        "same": reps([0.121, 0.131, 0.126], [0, 0, 0])},
        plans=("p",), currency={"p": "USD"}, descriptions={},
        lines={("p", "short"): (0.15, "above")})
    (c,) = comp.crossings()
    assert (c["variant"], c["plan"], c["term"]) == ("cut", "p", "short")
    diff = (0.06 + 0.07 + 0.055) / 3
    assert c["diff"] == pytest.approx(diff) and c["diff_low"] < diff < c["diff_high"]
    assert (c["base_fired"], c["fired"]) == (0.0, 1.0)
    text = comp.format()
    assert "cut crosses 'short' of p (> 0.15): 0.125 -> 0.1867" in text
    assert "short: metric" in text and "short: fired" in text


def test_rounding_analysis_shows_the_short_call_share_by_each_line() -> None:
    from sim.analysis.rounding import rounding_analysis

    p = plan(short_term(), short_term(name="tight", max_s=2, threshold="0.05"))
    cdrs = carrier_table()
    ra = rounding_analysis(cdrs, rate(cdrs, [p], campaign=NONE))
    short, tight = ra["p"].short_lines
    assert (short.calls, short.base, short.over) == (200, 1000, True)
    assert short.share == pytest.approx(0.2)
    assert (tight.calls, tight.over) == (0, False)
    text = ra.format()
    assert "short-call line" in text and "≤6s 20.0% vs 15.0% OVER; ≤2s 0.0% vs 5.0%" in text
    assert ra["p"].row()["line:short:share"] == pytest.approx(0.2)


def test_zone_windows_follow_daylight_saving() -> None:
    """23:30 UTC is 23:30 in London on 28 March 2026 (GMT) but 00:30 the next day on
    29 March (BST from 01:00 UTC that night)."""
    day = 86_400.0
    at = 23 * 3600 + 1800.0
    cdrs = table([3] * 4, start=[at, at, day + at, day + at], epoch="2026-03-28T00:00:00")
    p = plan(short_term(window="day", zone="Europe/London", min_calls=0))
    (term,) = rate(cdrs, [p], campaign=NONE).summary("p").traffic
    assert [(w.window, w.base) for w in term.windows] == [("2026-03-28", 2),
                                                         ("2026-03-30", 2)]
