"""The audit on synthetic CDRs with known perturbations: matching, re-rating, attribution.

The carrier's file is made from ours (sim.audit.synthetic) with 60/60 where the contract
says 6/6, +1 s on every billsec, a 5 % price rise from a date, 2 % of our calls
missing, 1 % foreign calls, duplicates, unanswered calls billed, a +8 h zone shift and a
1.5 s clock offset. Every cause's amount is computed here independently, in plain
Python Decimal arithmetic, from the truth the generator returns.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal

import numpy as np
import pytest

import sim
from sim.audit import AuditError, Side, audit, match_calls, normalise, number_keys
from sim.audit.numbers import infer_country
from sim.audit.synthetic import DAY_S, synthetic_audit
from sim.billing import plans_from_dict

P0 = Decimal("0.15")


def contract(increments: str = "6/6") -> sim.billing.Plan:
    return plans_from_dict({"plan": [{
        "name": "contract", "currency": "CNY", "price_per_min": str(P0),
        "increments": increments, "rounding": {"decimals": 3, "method": "up"}}]})[0]


def charge(d: int, ppm: Decimal, x: int, y: int) -> Decimal:
    """The oracle: DESIGN §6's X/Y formula, rounded up to 3 places once."""
    if d <= 0:
        return Decimal(0)
    billed = x if d <= x else x + -(-(d - x) // y) * y
    return (Decimal(billed) * ppm / 60).quantize(Decimal("0.001"), rounding=ROUND_CEILING)


def side(s) -> Side:
    return Side(s.theirs, charges=s.charges, charge_decimals=s.decimals, source="theirs")


@pytest.fixture(scope="module")
def injected():
    s = synthetic_audit(3000, seed=7, rise_day=6)
    return s, audit(s.ours, side(s), contract())


def test_every_cause_is_named_with_its_exact_amount(injected):
    s, a = injected
    bill = s.ours["billsec"]
    their = [charge(int(d), Decimal(str(p)), 60, 60)
             for d, p in zip(s.theirs["billsec"], s.price, strict=True)]
    # the generator's charges are what the oracle says the carrier's tariff gives
    assert [str(c) for c in their] == s.charge_strings()
    expect = dict.fromkeys(["not_ours", "duplicate", "unanswered_billed", "duration",
                            "increment", "rate", "other"], Decimal(0))
    calls = dict.fromkeys(expect, 0)
    contract_total = Decimal(0)
    for i, kind in enumerate(s.kind):
        if kind == "foreign":
            expect["not_ours"] += their[i]
            calls["not_ours"] += 1
        elif kind == "duplicate":
            expect["duplicate"] += their[i]
            calls["duplicate"] += 1
        elif kind == "unanswered":
            expect["unanswered_billed"] += their[i]  # the contract charges 0 for it
            calls["unanswered_billed"] += 1
        else:
            d_o = int(bill[s.source[i]])
            p = Decimal(str(s.price[i]))
            parts = {"duration": charge(d_o + 1, p, 60, 60) - charge(d_o, p, 60, 60),
                     "increment": charge(d_o, p, 60, 60) - charge(d_o, p, 6, 6),
                     "rate": charge(d_o, p, 6, 6) - charge(d_o, P0, 6, 6)}
            for k, v in parts.items():
                expect[k] += v
                calls[k] += v != 0
            contract_total += charge(d_o, P0, 6, 6)
    got = {c.cause: c.amount for c in a.causes}
    assert got == expect
    assert {c.cause: c.calls for c in a.causes} == calls
    assert a.their_total == sum(their)
    assert a.contract_total == contract_total
    # the causes add up to the difference to the last sub-unit
    assert sum(got.values()) == a.difference == a.their_total - a.contract_total
    assert expect["duration"] > 0 and expect["increment"] > 0 and expect["rate"] > 0
    assert a.cause("rate").since is not None and a.cause("rate").since.startswith("2026-03-08")


def test_categories_clock_and_inferred_tariff(injected):
    s, a = injected
    m = a.matching
    assert (m.shift_h, abs(m.offset_s - 1.5) < 0.05) == (8, True)
    assert a.only_theirs == int((s.kind == "foreign").sum())
    assert a.duplicates == int((s.kind == "duplicate").sum())
    assert a.matched == int(np.isin(s.kind, ["billed", "unanswered"]).sum())
    inf = a.inferred
    assert (inf.increments, inf.price_per_min, inf.connect_fee, inf.min_cost) == (
        "60/60", Decimal("0.15"), 0, 0)
    assert [c.price_per_min for c in inf.changes] == [Decimal("0.1575")]
    assert inf.share_exact == 1.0
    d = a.to_dict()
    for key in ("matched", "only_ours", "only_theirs", "duplicates", "their_total",
                "contract_total", "difference", "causes", "inferred"):
        assert key in d
    assert set(d["inferred"]) >= {"increments", "price_per_min", "connect_fee", "min_cost",
                                  "rows_exact"}
    assert isinstance(d["difference"], str) and Decimal(d["difference"]) == a.difference


@pytest.mark.parametrize("tolerance", [0.5, 1.0, 2.0])
def test_matching_precision_and_recall(tolerance):
    s = synthetic_audit(4000, seed=3)
    a = audit(s.ours, side(s), contract(), tolerance_s=tolerance)
    m = a.matching
    truth = s.source[m.their_row]
    correct = int((truth == m.our_row).sum())
    true_pairs = len(set(s.source[np.isin(s.kind, ["billed", "unanswered"])].tolist()))
    assert correct / len(m.their_row) >= 0.99
    assert correct / true_pairs >= 0.99


def test_a_clean_carrier_file_gives_no_difference_and_no_disputes():
    s = synthetic_audit(2000, seed=5, increments=(6, 6), rise_day=None, extra_s=0,
                        missing=0, foreign=0, duplicates=0, unanswered=0, shift_h=0,
                        offset_s=0, jitter_s=0)
    a = audit(s.ours, side(s), contract())
    assert a.difference == 0 and a.their_total == a.contract_total > 0
    assert all(c.amount == 0 and c.calls == 0 for c in a.causes)
    assert len(a.disputed()) == 0
    assert a.only_ours_answered == 0
    # and without a charge column: the contract prices their rows, still nothing
    plain = audit(s.ours, s.theirs, contract())
    assert plain.difference == 0 and plain.inferred is None


def test_without_a_charge_column_extra_seconds_are_duration():
    s = synthetic_audit(1500, seed=11, increments=(6, 6), rise_day=None, extra_s=1,
                        foreign=0, duplicates=0, unanswered=0)
    a = audit(s.ours, s.theirs, contract())
    bill = s.ours["billsec"]
    expect = sum(charge(int(bill[j]) + 1, P0, 6, 6) - charge(int(bill[j]), P0, 6, 6)
                 for j in s.source)
    assert a.cause("duration").amount == expect > 0
    assert a.difference == expect
    assert {c.cause for c in a.causes if c.amount} == {"duration"}


def test_assignment_beats_a_greedy_scan():
    # ours at 0 s and 1.8 s; theirs at 1.0 s and 2.9 s, tolerance 1.5 s: a greedy scan
    # gives their first row our nearest (1.8 s) and leaves the second unmatched
    keys = np.array([5, 5], dtype=np.int64)
    m = match_calls(keys, np.array([0.0, 1.8]) + 1e9, keys, np.array([1.0, 2.9]) + 1e9,
                    tolerance_s=1.5, clock=(0, 0.0))
    assert m.their_row.tolist() == [0, 1] and m.our_row.tolist() == [0, 1]


def test_numbers_are_normalised():
    assert normalise("+86 138-0000-1234", "86") == "13800001234"
    assert normalise("0086 13800001234", "86") == "13800001234"
    assert normalise("+86 138-0000-1234") == "8613800001234"  # no country code given
    assert normalise("013800001234") == "13800001234"
    assert normalise("8613800001234", "86") == "13800001234"
    assert normalise("+44 20 7946 0000", "44") == normalise("020 7946 0000", "44")
    ours = [f"0138000012{i:02d}" for i in range(20)]
    theirs = [f"+86 138000012{i:02d}" for i in range(20)]
    assert infer_country(ours + theirs) == "86"
    assert infer_country(ours) is None  # nothing written with a code
    mixed = ["+86 138-0000-1234", "008613800001234", "8613800001234", "013800001234",
             "0201234567", "+44 20 7946 0000", "07946000000", "86123"]
    for code in (None, "86", "44"):
        want = [int(normalise(x, code) or -1) for x in mixed]
        assert number_keys(mixed, code).tolist() == want, code
    assert number_keys(["", "n/a", "+86 138 0000 1234"], "86").tolist() == [-1, -1, 13800001234]


def test_no_overlap_in_time_is_a_clear_error():
    s = synthetic_audit(500, seed=2)
    cols = dict(s.theirs.columns)
    cols["start"] = cols["start"] + 40 * DAY_S
    far = sim.CDRTable(cols, s.theirs.categories, s.theirs.epoch, s.theirs.tz)
    with pytest.raises(AuditError, match="no overlap"):
        audit(s.ours, Side(far, charges=s.charges, charge_decimals=3), contract())


def test_currency_mismatch_is_a_clear_error():
    s = synthetic_audit(300, seed=2)
    with pytest.raises(AuditError, match="USD.*CNY"):
        audit(s.ours, s.theirs, contract(), charges=[f"{c} USD" for c in s.charge_strings()])


def test_charges_the_tariff_does_not_explain_are_other():
    s = synthetic_audit(2000, seed=13, rise_day=None, extra_s=0, foreign=0, duplicates=0,
                        unanswered=0)
    base = audit(s.ours, side(s), contract())
    billed = np.flatnonzero(s.kind == "billed")[::97][:12]
    s.charges[billed] += 7  # hand-made: 0.007 more on 12 calls
    a = audit(s.ours, side(s), contract())
    assert a.cause("other").amount == Decimal("0.084") and a.cause("other").calls == 12
    assert a.difference == base.difference + Decimal("0.084")
    for name in ("not_ours", "duplicate", "unanswered_billed", "duration", "increment", "rate"):
        assert a.cause(name).amount == base.cause(name).amount
    assert a.inferred.rows_exact == a.inferred.rows - 12


def test_clock_behind_by_hours_and_seconds_is_estimated():
    s = synthetic_audit(1500, seed=17, shift_h=-5, offset_s=-3.2)
    a = audit(s.ours, side(s), contract())
    assert a.matching.shift_h == -5 and abs(a.matching.offset_s + 3.2) < 0.05
    truth = s.source[a.matching.their_row]
    assert (truth == a.matching.our_row).mean() >= 0.99


def test_a_carrier_that_logs_calls_from_their_answer_is_matched_on_our_answers():
    s = synthetic_audit(1500, seed=19, ring_s=(3.0, 30.0), their_start="answer")
    a = audit(s.ours, side(s), contract())
    assert a.basis == "answer" and a.matching.shift_h == 8
    truth = s.source[a.matching.their_row]
    assert (truth == a.matching.our_row).mean() >= 0.99
    assert a.matched >= 0.99 * int(np.isin(s.kind, ["billed", "unanswered"]).sum())
    # dial times would not do: ring times from 3 to 30 s are no constant offset
    with pytest.raises(AuditError, match="no carrier row matches"):
        audit(s.ours, side(s), contract(), clock=(a.matching.shift_h, a.matching.offset_s))


def test_a_foreign_call_billed_twice_is_a_duplicate():
    s = synthetic_audit(800, seed=23, duplicates=0)
    foreign = np.flatnonzero(s.kind == "foreign")[0]
    rows = np.concatenate([np.arange(len(s.theirs)), [foreign]])
    twice = s.theirs.select(rows)
    a = audit(s.ours, Side(twice, charges=s.charges[rows], charge_decimals=3), contract())
    assert a.duplicates == 1 and a.only_theirs == int((s.kind == "foreign").sum())
    assert a.cause("duplicate").amount == Decimal(int(s.charges[foreign])).scaleb(-3)


def test_duration_says_when_calls_are_billed_from_the_dial():
    s = synthetic_audit(1200, seed=29, increments=(6, 6), rise_day=None, extra_s=0,
                        foreign=0, duplicates=0, unanswered=0, ring_s=(4.0, 20.0),
                        bill_from_dial=True)
    a = audit(s.ours, side(s), contract())
    dur = a.cause("duration")
    billed = int((s.kind == "billed").sum())
    assert dur.amount == a.difference > 0
    assert f"{billed:,} of them billed from the dial" in dur.detail
    assert a.cause("rate").detail is None and a.cause("increment").amount == 0


@pytest.mark.parametrize(("shift_h", "offset_s", "text"), [
    (5.5, 1.5, "+5 h 30 min +1.49"),     # India against UTC
    (5.75, -2.0, "+5 h 45 min -2.00"),   # Nepal against UTC
    (-3.5, 0.4, "-3 h 30 min +0.39"),    # Newfoundland
    (0.25, 3.0, "+0 h 15 min +2.99")])   # Nepal against India
def test_a_clock_shifted_by_a_fraction_of_an_hour_is_estimated(shift_h, offset_s, text):
    s = synthetic_audit(1500, seed=17, shift_h=shift_h, offset_s=offset_s)
    a = audit(s.ours, side(s), contract())
    m = a.matching
    assert m.shift_h == shift_h and abs(m.offset_s - offset_s) < 0.05
    assert (s.source[m.their_row] == m.our_row).mean() >= 0.99
    assert a.matched >= 0.99 * int(np.isin(s.kind, ["billed", "unanswered"]).sum())
    assert m.clock_text.startswith(text) and m.clock_text.endswith(" s")
    assert a.to_dict()["clock"]["shift_h"] == shift_h


def test_a_whole_hour_shift_stays_a_whole_hour():
    s = synthetic_audit(1500, seed=17, shift_h=-5, offset_s=0.0)
    m = audit(s.ours, side(s), contract()).matching
    assert m.shift_h == -5 and isinstance(m.shift_h, int) and m.clock_text.startswith("-5 h ")
    assert "min" not in m.clock_text
