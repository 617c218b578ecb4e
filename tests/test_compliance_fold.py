"""ComplianceFold (issue #16): the compliance checks folded chunk by chunk equal
``evaluate`` on the whole table, every field and float, in memory bounded by time.

Simulated runs of every shipped scenario (shortened, AMD on and off, stricter limits so
that the rules find something), split at chunk sizes 1, 7 and 2**16 and streamed
through ``on_chunk``; random hand-made tables (ties, imported calls with lead_id -1,
answers out of dial order, random chunk cuts); constructed edge cases.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import SCENARIOS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sim
from sim.analysis.compliance import ComplianceLimits, evaluate
from sim.analysis.compliance_fold import ComplianceFold
from sim.cdr import CDRTable, empty_columns, encode, open_categories
from sim.model import check_compliance
from sim.scenario import quick

SIZES = (1, 7, 1 << 16)
SHIPPED = sorted(SCENARIOS.glob("*.toml"))
H = 3600.0


def _fold(cdrs: CDRTable, cuts, limits=None, **kw) -> ComplianceFold:
    """A fold fed ``cdrs`` cut into row slices at ``cuts`` (an int: that many rows each)."""
    n = len(cdrs)
    bounds = list(range(0, n, cuts)) + [n] if isinstance(cuts, int) else [0, *cuts, n]
    fold = ComplianceFold(limits, **kw)
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        fold.add(cdrs.select(slice(a, b)))
    return fold


def _strict(scenario: sim.Scenario, amd: bool) -> sim.Scenario:
    """All three rules, a long lockout, narrow hours and low caps: the checks find
    violations, windows and re-calls to count."""
    return scenario.with_overrides({
        "compliance.rules": ["us", "uk", "china"], "compliance.lockout_h": 400,
        "compliance.threshold_s": 3.0 if amd else 0.5,
        "compliance.calling_hours": [["10:00", "16:00"]], "compliance.max_per_24h": 1,
        "compliance.max_per_5min": 1, "dialer.amd.enabled": amd})


@pytest.mark.parametrize("amd", [False, True], ids=["no_amd", "amd"])
@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_fold_of_a_simulated_run_equals_the_whole_table(path, amd):
    scenario = _strict(quick(sim.load_scenario(path), days=3, leads=250), amd)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        whole = sim.run(scenario, 5)
        want = check_compliance(scenario, whole.cdrs)
        assert [r.as_dict() for r in want] == whole.compliance
        for size in SIZES:
            fold = ComplianceFold.for_scenario(scenario)
            n = len(whole.cdrs)
            for a in range(0, n, size):
                fold.add(whole.cdrs.select(slice(a, min(n, a + size))))
            assert fold.result() == want, size
            assert fold.calls == n
        # and through a streaming run, as the lead engineer will wire it
        fold = ComplianceFold.for_scenario(scenario)
        sim.run(scenario, 5, chunk_rows=7, keep_cdrs=False,
                on_chunk=[lambda cdrs, agent_start: fold.add(cdrs)])
        assert fold.result() == want


def test_simulated_runs_exercise_the_rules():
    """The strict limits make the shipped runs above non-trivial (else equality is cheap)."""
    scenario = _strict(quick(sim.load_scenario(SCENARIOS / "baseline.toml"), days=3,
                             leads=250), True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = {r.rule: r for r in check_compliance(scenario, sim.run(scenario, 5).cdrs)}
    assert 0 < res["us"].value < 1 and 0 < res["uk"].value < 1
    assert int(res["uk"].detail.split()[0]) > 100  # windows over more than a day
    assert res["uk_lockout"].value > 0
    assert res["china_hours"].value > 0 and res["china_frequency"].value > 1


# -- hand-made tables ---------------------------------------------------------------------

def table(rows: list[dict], dest: tuple[str, ...] = ("", "a", "b"),
          seg: tuple[str, ...] = ("", "east", "west")) -> CDRTable:
    """rows: start, answer (None), wait (None: never connected), who, lead, dest, seg;
    rows must come in dial order."""
    n = len(rows)
    c = empty_columns(n)
    for i, r in enumerate(rows):
        c["start"][i] = r["start"]
        c["lead_id"][i] = r.get("lead", i)
        c["destination"][i] = r.get("dest", 0)
        c["segment"][i] = r.get("seg", 0)
        ans, wait = r.get("answer"), r.get("wait")
        c["answer"][i] = np.nan if ans is None else ans
        c["connect"][i] = np.nan if ans is None or wait is None else ans + wait
        c["wait_s"][i] = 0.0 if ans is None else (30.0 if wait is None else wait)
        c["end"][i] = r["start"] + 100
        c["disposition"][i] = encode("disposition", "ANSWERED" if ans is not None else
                                     "NO ANSWER")
        c["answered_by"][i] = encode("answered_by", r.get("who") or "none")
    return CDRTable(c, open_categories(destination=dest[1:], segment=seg[1:]),
                    epoch="2026-03-02T00:00:00", tz="UTC")


_ROW = st.tuples(st.integers(0, 10**6), st.sampled_from(["person", "person", "machine", None]),
                 st.booleans(), st.sampled_from([0.0, 1.0, 5.0, 400.0]),
                 st.sampled_from([None, 0.0, 2.0, 3.0]), st.sampled_from([-1, 0, 1, 2, 3, 7]),
                 st.integers(0, 2), st.integers(0, 2))


@st.composite
def random_tables(draw):
    grid = draw(st.sampled_from([1.0, 300.0, 3 * H]))  # coarse grids make ties
    span = draw(st.sampled_from([2 * H, 20 * H, 30 * H, 4 * 86400.0]))
    raw = draw(st.lists(_ROW, max_size=60))
    n = len(raw)
    rows = []
    for k, who, pick, delay, wait, lead, dest, seg in sorted(raw, key=lambda r: r[0]):
        answered = who == "person" or (who is not None and pick)
        start = (k % int(span / grid + 1)) * grid
        rows.append({  # answers a little after the dial, often after later dials
            "start": start, "answer": start + delay if answered else None, "wait": wait,
            "who": who if answered else None, "lead": lead, "dest": dest, "seg": seg})
    rows.sort(key=lambda r: r["start"])
    cuts = sorted(draw(st.lists(st.integers(0, n), max_size=6)))
    limits = ComplianceLimits(
        uk_window_h=draw(st.sampled_from([24.0, 1.0, 6.0])),
        us_period_days=draw(st.sampled_from([30.0, 0.25])),
        lockout_h=draw(st.sampled_from([72.0, 0.5])),
        calling_hours=(10 * H, 16 * H), max_per_24h=2, max_per_5min=1)
    return table(rows), cuts, limits, draw(st.booleans())


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(random_tables())
def test_fold_of_random_tables_equals_evaluate(case):
    cdrs, cuts, limits, amd = case
    tz = {"east": 8 * H, "west": -5 * H}
    want = evaluate(cdrs, limits, amd_used=amd, tz_offset_s=tz)
    fold = _fold(cdrs, cuts, limits, amd_used=amd, tz_offset_s=tz, n_leads=3)
    assert fold.result() == want
    assert fold.result() == want  # reading does not change the fold


def _live(start, lead=None, wait=0.0, answer=None, who="person", **kw):
    return {"start": start, "answer": start + 5 if answer is None else answer, "wait": wait,
            "who": who, **({"lead": lead} if lead is not None else {}), **kw}


def by_rule(results):
    return {r.rule: r for r in results}


def test_no_calls_and_no_answers():
    empty = table([])
    assert ComplianceFold().result() == evaluate(empty)
    rows = [{"start": 100.0 * i} for i in range(5)]
    cdrs = table(rows)
    got = by_rule(_fold(cdrs, 2).result())
    assert got["us"].detail == "no live answers" and got["uk"].detail == "no answered calls"
    assert _fold(cdrs, 1).result() == evaluate(cdrs)


def test_uk_window_straddling_chunks_and_short_campaigns():
    # day 1: 10 live, 2 of them abandoned, in hours 10-11; day 2 (30 h on): 10 clean
    rows = [_live(10 * H + 300 * i, wait=None if i < 2 else 0.0) for i in range(10)]
    rows += [_live(40 * H + 300 * i) for i in range(10)]
    cdrs = table(rows)
    want = evaluate(cdrs, amd_used=True)
    uk = by_rule(want)["uk"]
    assert uk.value == pytest.approx(0.2) and uk.worst_window[0] == 10 * H + 5
    for cuts in ([3], [5, 15], [12], list(range(1, 20))):
        assert _fold(cdrs, cuts, amd_used=True).result() == want
    # a campaign shorter than 24 h has one window; exactly 24 h long too
    short = table(rows[:10])
    assert by_rule(evaluate(short, amd_used=True))["uk"].detail == "1 windows checked"
    assert _fold(short, 3, amd_used=True).result() == evaluate(short, amd_used=True)
    exact = table([_live(0.0, wait=None), _live(50.0), _live(86400.0 - 5)])
    assert by_rule(evaluate(exact))["uk"].detail == "1 windows checked"
    assert _fold(exact, 1).result() == evaluate(exact)


def test_ties_at_window_starts_across_chunks():
    # many calls answered at the same instant, cut apart: equal starts, equal windows
    rows = [_live(1000.0, answer=1010.0, wait=None if i % 3 == 0 else 0.0, lead=i)
            for i in range(9)]
    rows += [_live(1010.0, answer=1010.0, lead=20 + i) for i in range(4)]
    rows += [_live(30 * H + i) for i in range(3)]
    cdrs = table(rows)
    for amd in (False, True):
        want = evaluate(cdrs, amd_used=amd)
        assert by_rule(want)["uk"].detail == "13 windows checked"
        for cuts in (1, 4, [9], [2, 11]):
            assert _fold(cdrs, cuts, amd_used=amd).result() == want


def test_us_first_answer_can_come_from_a_later_dial():
    # the second dial answers first: t0 is its answer, not the first dial's
    rows = [_live(100.0, answer=500.0, wait=None), _live(110.0, answer=115.0),
            _live(200.0, answer=205.0)]
    rows += [_live(115.0 + 0.25 * 86400 * k, wait=None) for k in range(1, 6)]
    cdrs = table(rows)
    lim = ComplianceLimits(us_period_days=0.25)
    want = evaluate(cdrs, lim)
    assert by_rule(want)["us"].worst_window[0] == 115.0 + 0.25 * 86400  # periods from 115
    for cuts in (1, 2, [1], [2, 5]):
        assert _fold(cdrs, cuts, lim).result() == want


def test_lockout_straddles_chunks_and_skips_unknown_leads():
    rows = [_live(0.0, lead=4, wait=None),  # abandoned
            _live(100.0, lead=-1, wait=None), _live(200.0, lead=-1),  # imported: unknown
            _live(300.0, lead=5), _live(10 * H, lead=4), _live(11 * H, lead=5)]
    cdrs = table(rows)
    want = evaluate(cdrs)
    lock = by_rule(want)["uk_lockout"]
    assert lock.value == 1 and lock.calls == 2
    for cuts in (1, [4], [1, 5]):
        assert _fold(cdrs, cuts, n_leads=2).result() == want  # grows past n_leads


def test_china_counts_imported_callees_by_destination_label():
    # lead -1 calls are their destination's: two chunks with different vocabularies
    a = table([{"start": 0.0, "lead": -1, "dest": 1}, {"start": 60.0, "lead": -1, "dest": 2}],
              dest=("", "x", "y"))
    b = table([{"start": 120.0, "lead": -1, "dest": 1}, {"start": 180.0, "lead": -1,
                                                         "dest": 1}], dest=("", "y", "x"))
    whole = CDRTable.concat([a, b])
    want = by_rule(evaluate(whole))["china_frequency"]
    assert want.detail.startswith("max 3 per 24 h")  # y three times, x once
    fold = ComplianceFold()
    fold.add(a)
    fold.add(b)
    assert fold.result() == evaluate(whole)


def test_chunks_out_of_dial_order_are_refused():
    fold = ComplianceFold()
    fold.add(table([{"start": 100.0}]))
    with pytest.raises(ValueError, match="dial order"):
        fold.add(table([{"start": 50.0}]))
    with pytest.raises(ValueError, match="answered before"):
        fold.add(table([_live(200.0, answer=150.0)]))


def test_memory_is_bounded_by_time_not_by_calls():
    """40 days of calls hold no more than 10 days do: about a day of calls."""
    rng = np.random.default_rng(7)

    def peak(days: int) -> tuple[int, list]:
        rows = []
        for d in range(days):
            for s in np.sort(rng.uniform(9 * H, 17 * H, 200)):
                rows.append(_live(d * 86400.0 + s, lead=int(rng.integers(0, 500)),
                                  wait=None if rng.random() < 0.05 else 0.0))
        cdrs = table(rows)
        fold, most = ComplianceFold(n_leads=500), 0
        for a in range(0, len(cdrs), 50):
            fold.add(cdrs.select(slice(a, a + 50)))
            most = max(most, fold.nbytes)
        assert fold.result() == evaluate(cdrs)
        return most

    short, long = peak(10), peak(40)
    assert long <= 1.2 * short
    assert long < 500 * 8 + 400 * 40  # leads' 8 bytes + ~2 days of calls' few dozen bytes


def test_a_window_is_checked_only_once_no_call_to_come_can_fall_in_it():
    # the window at 0 must wait for the call dialled at 86300 (after the one at 86200,
    # answered late, has made the campaign long enough for it to count)
    rows = [_live(0.0, answer=0.0, wait=None), _live(86200.0, answer=90000.0),
            _live(86300.0, answer=86300.0)]
    cdrs = table(rows)
    for amd in (False, True):
        want = evaluate(cdrs, amd_used=amd)
        uk = by_rule(want)["uk"]
        assert uk.value == 0.5 and uk.detail == "1 windows checked"
        assert _fold(cdrs, 1, amd_used=amd).result() == want


def test_china_window_of_almost_24h_across_three_chunks():
    rows = [{"start": 0.0, "lead": 1}, {"start": 86200.0, "lead": 2},
            {"start": 86300.0, "lead": 1}, {"start": 2 * 86400.0, "lead": 1}]
    cdrs = table(rows)
    want = evaluate(cdrs)
    assert by_rule(want)["china_frequency"].value == 2
    assert _fold(cdrs, 1).result() == want


def test_a_callee_called_very_often_is_counted_exactly():
    # 100 calls to one lead in a day (past the stepping count, the rank search), the
    # last two exactly 24 h after the first two: they may share a window with neither
    rows = [{"start": 600.0 * i, "lead": 0} for i in range(98)]
    rows += [{"start": 86400.0, "lead": 0}, {"start": 86400.0 + 600.0, "lead": 0}]
    cdrs = table(rows)
    want = evaluate(cdrs)
    assert by_rule(want)["china_frequency"].value == 98
    assert _fold(cdrs, 9).result() == want
