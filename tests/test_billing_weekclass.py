"""Banded and destination plans rated by table (sim/billing/weekclass.py, ratetables.py)
against the exact banded kernel call by call, on many calls: time-ordered (whole chunks
in one class) and shuffled (placed call by call), bands at odd seconds, band tariffs,
calls that cross a band start, number-type fallbacks, calls without an answer time, and
the chunked path. The per-call oracle (test_billing_oracle.py) covers generated plans
on few calls; here the chunks are many and large enough for every placing path."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import numpy as np
import pytest

import sim.billing.rater as rater
from sim.billing import CampaignInfo, plans_from_dict, rate, rate_chunks
from sim.billing.tariff import compile_plan, tariff_map, week_offset_s
from sim.billing.weekclass import week_classes, week_times
from sim.cdr import CDRTable, empty_columns, encode, open_categories
from sim.errors import CDRFormatError

EPOCH = "2026-03-05T07:00:00"  # a Thursday morning: three weeks of calls
DESTS = ("", "+447700900123", "02079460000", "441614960000", "5")
NTYPES = ("", "mobile", "landline")

FACTOR_ODD_SECONDS = {
    "name": "factor", "currency": "GBP", "price_per_min": "0.012", "increments": "1/1",
    "connect_fee": "0.001", "min_cost": "0.002", "rounding": {"decimals": 4},
    "bands": [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "08:00:07",
               "end": "18:00:00", "factor": "1.5"},
              {"days": ["sat"], "start": "10:00", "factor": "0.25"}],
    "destinations": [{"prefix": "447", "price_per_min": "0.03"},
                     {"number_type": "mobile", "price_per_min": "0.02"}]}
BAND_TARIFFS = {
    "name": "tariffs", "currency": "GBP", "price_per_min": "0.01", "increments": "60/1",
    "connect_fee": "0.01", "included_s": 5, "rounding": {"decimals": 3, "method": "up"},
    "bands": [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00",
               "end": "17:30", "connect_fee": "0.02", "price_per_min": "0.05",
               "increments": "30/6"},
              {"days": ["sun"], "start": "00:00", "end": "24:00", "factor": "0.5"}],
    "destinations": [{"prefix": "44", "price_per_min": "0.04", "increments": "6/6"}]}
DEST_ONLY = {
    "name": "dest", "currency": "GBP", "price_per_min": "0.008", "increments": "60/1",
    "connect_fee": "0.01", "rounding": {"decimals": 4, "method": "up"},
    "destinations": [{"prefix": "07", "price_per_min": "0.02"},
                     {"prefix": "447", "price_per_min": "0.02", "increments": "1/1"},
                     {"number_type": "landline", "price_per_min": "0.005"}]}


def plan(raw: dict[str, Any]) -> Any:
    (p,) = plans_from_dict({"plan": [raw]})
    return p


def calls(n: int, seed: int, *, ordered: bool) -> CDRTable:
    """``n`` calls, half answered, talk up to two hours (some cross band starts), a few
    billable calls without an answer time (dial time only). Ordered: by dial time over
    two days (most chunks within one band); else shuffled over three weeks."""
    rng = np.random.default_rng(seed)
    cols = empty_columns(n)
    start = rng.uniform(0, (2 if ordered else 21) * 86400, n)
    if ordered:
        start.sort()
    answered = rng.random(n) < 0.5
    talk = np.where(rng.random(n) < 0.05, rng.uniform(0, 7200, n),  # some long ones
                    np.minimum(rng.lognormal(np.log(40), 1.5, n), 7200)) * answered
    answer = np.where(answered, start + rng.uniform(1, 20, n), np.nan)
    answer[answered & (rng.random(n) < 0.01)] = np.nan  # no answer time: the dial time
    cols["start"][:] = start
    cols["answer"][:] = answer
    cols["billsec"][:] = np.ceil(talk).astype(np.int64)
    cols["talk_s"][:] = talk
    cols["disposition"][:] = np.where(answered, encode("disposition", "ANSWERED"),
                                      encode("disposition", "NO ANSWER"))
    cols["destination"][:] = rng.integers(0, len(DESTS), n)
    cols["number_type"][:] = rng.integers(0, len(NTYPES), n)
    return CDRTable(cols, open_categories(destination=DESTS, number_type=NTYPES),
                    epoch=EPOCH, tz="Europe/London")


def kernel(p: Any, t: CDRTable) -> tuple[np.ndarray, np.ndarray]:
    """Every call by the exact kernel (the banded path, with week times)."""
    cp = compile_plan(p)
    d = np.where(t["disposition"] == encode("disposition", "ANSWERED"), t["billsec"], 0)
    tmap = tariff_map(p, t.vocabulary("destination"), t.vocabulary("number_type"))
    tariff = None if tmap is None else tmap(t["destination"], t["number_type"])
    times = (week_times(t["answer"], t["start"], d, week_offset_s(t.epoch))
             if p.bands else None)
    return cp.rate_calls(d.astype(np.int64), tariff, times)


@pytest.mark.parametrize("raw", [FACTOR_ODD_SECONDS, BAND_TARIFFS, DEST_ONLY],
                         ids=lambda r: r["name"])
@pytest.mark.parametrize("ordered", [True, False], ids=["ordered", "shuffled"])
def test_table_path_equals_the_kernel(raw: dict[str, Any], ordered: bool,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rater, "CHUNK", 1 << 12)  # many chunks, some in one class
    p = plan(raw)
    t = calls(60_000, 3, ordered=ordered)
    b, u = kernel(p, t)
    pc = rate(t, [p]).calls[p.name]
    assert np.array_equal(pc.billed_s, b)
    assert np.array_equal(pc.units, u)
    assert pc.units_total == int(u.sum()) and pc.billed_total_s == int(b.sum())
    info = CampaignInfo(seats=1, channels=1, numbers=1, days=Decimal(21))
    chunked = rate_chunks([t], [p], campaign=info, block=1 << 12)
    assert chunked.summaries[p.name] == rate(t, [p], campaign=info).summaries[p.name]


def test_classes_of_a_week() -> None:
    """Odd-second band starts give one-second slots; a stretch of one class runs on over
    band edges of equal prices and past Sunday midnight into Monday."""
    k = week_classes(compile_plan(plan(FACTOR_ODD_SECONDS)))
    assert k is not None and k.g == 1 and len(k.plans) == 3  # factors 1.5, 0.25, 1
    # Friday 18:00 to Saturday 10:00, then Saturday 10:00 to Monday 08:00:07
    fri18, sat10 = 4 * 86400 + 18 * 3600, 5 * 86400 + 10 * 3600
    assert k.slot_end[fri18] + k.reach == sat10
    assert k.slot_end[sat10] + k.reach == 7 * 86400 + 8 * 3600 + 7
    assert k.slot_end[0] + k.reach == 8 * 3600 + 7  # Monday night (factor 1)
    assert week_classes(compile_plan(plan(DEST_ONLY))) is None


def test_billable_calls_without_any_time_are_refused() -> None:
    p = plan(FACTOR_ODD_SECONDS)
    t = calls(100, 1, ordered=True)
    i = int(np.flatnonzero(t["billsec"] > 0)[0])
    t["answer"][i] = t["start"][i] = np.nan
    with pytest.raises(CDRFormatError, match="neither an answer nor a start time"):
        rate(t, [p])


def test_unbillable_calls_without_any_time_pay_the_attempt() -> None:
    p = plan({**FACTOR_ODD_SECONDS, "per_attempt_fee": "0.001"})
    t = calls(50, 1, ordered=True)
    t["answer"][:] = t["start"][:] = np.nan
    t["billsec"][:] = 0
    pc = rate(t, [p]).calls[p.name]
    assert (pc.units == 10).all() and not pc.billed_s.any()


def test_longest_prefix_on_a_large_vocabulary() -> None:
    """The per-length lookup agrees with a plain longest-prefix search, label by label."""
    rng = np.random.default_rng(5)
    labels = ("", *{("+" if rng.random() < 0.3 else "") + "".join(
        rng.choice(list("0124478"), rng.integers(1, 12))) for _ in range(20_000)})
    prefixes = ["4", "44", "447", "4477", "0", "07", "012", "2", "8"]
    p = plan({"name": "p", "currency": "GBP", "price_per_min": "0.01", "increments": "1/1",
              "destinations": [{"prefix": x, "price_per_min": "0.02"} for x in prefixes]})
    tmap = tariff_map(p, labels, ("",))
    assert tmap is not None
    for code, label in enumerate(labels):
        number = label.lstrip("+")
        best = max((x for x in prefixes if number.startswith(x)), key=len, default=None)
        assert tmap.by_destination[code] == (-1 if best is None else
                                             prefixes.index(best) + 1), label
