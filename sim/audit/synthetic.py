"""A carrier's file made from ours with known perturbations, to test and demonstrate the
audit (the truth of every row is returned with it).

Our side: ``n`` dial attempts over ``days`` days (09:00-20:00), up to three attempts
per number hours apart, 60 % answered with lognormal talk times, numbers written
nationally (``138...``). The carrier's side bills our answered calls, written with the
country code (``86138...``), after the perturbations asked for: calls missing, foreign
calls, duplicates, our unanswered calls billed, extra billed seconds, a clock shift and
offset with a little jitter, and charges under a tariff of its own (increments, price,
a price rise from a date).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import numpy as np

from sim.billing import Plan, Rounding
from sim.billing.plans import shorthand_steps
from sim.billing.tariff import compile_plan
from sim.cdr import CDRTable, empty_columns, open_categories

__all__ = ["Synthetic", "carrier_plan", "synthetic_audit"]

EPOCH = "2026-03-02T00:00:00"
DAY_S = 86_400


@dataclass(frozen=True, slots=True, eq=False)
class Synthetic:
    """Both sides and the truth.

    Attributes
    ----------
    ours, theirs
        CDR tables (theirs: billed rows; its ``billsec`` as the carrier billed it).
    charges
        Their charge per row, units of ``10**-decimals``.
    decimals
        Places of the charges.
    source
        Per carrier row: index of our row it bills, or -1 (foreign).
    kind
        Per carrier row: ``"billed"``, ``"foreign"``, ``"duplicate"`` or ``"unanswered"``.
    price
        Per carrier row: their price per minute in force.
    """

    ours: CDRTable
    theirs: CDRTable
    charges: np.ndarray
    decimals: int
    source: np.ndarray
    kind: np.ndarray
    price: np.ndarray

    def charge_strings(self) -> list[str]:
        return [str(Decimal(int(u)).scaleb(-self.decimals)) for u in self.charges.tolist()]

    def write_theirs(self, path: str | Path) -> None:
        """The carrier's file as a CSV: an Asterisk CDR table dump (``calldate, dst,
        duration, billsec, disposition``) with a ``charge`` column, to the millisecond."""
        from sim.output import atomic_write

        t = self.theirs
        at = np.datetime64(t.epoch, "ms") + np.rint(t["start"] * 1000).astype(np.int64)
        stamps = np.datetime_as_string(at, unit="ms")
        dst = t.labels("destination")
        with atomic_write(path) as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(["calldate", "dst", "duration", "billsec", "disposition", "charge"])
            for i, charge in enumerate(self.charge_strings()):
                b = int(t["billsec"][i])
                w.writerow([stamps[i].replace("T", " "), dst[i], b + 8, b, "ANSWERED", charge])


def carrier_plan(price_per_min: Decimal, increments: tuple[int, int], decimals: int,
                 method: str = "up") -> Plan:
    x, y = increments
    return Plan(name=f"carrier {price_per_min} {x}/{y}", currency="CNY",
                steps=shorthand_steps(price_per_min, x, y), increments=f"{x}/{y}",
                price_per_min=price_per_min,
                rounding=Rounding(decimals=decimals, method=method))  # type: ignore[arg-type]


def _table(start: np.ndarray, answered: np.ndarray, billsec: np.ndarray, numbers: list[str],
           number_idx: np.ndarray, epoch: str, tz: str,
           ring: float | np.ndarray = 8.0) -> CDRTable:
    n = len(start)
    cols = empty_columns(n)
    cols["start"][:] = start
    cols["answer"][:] = np.where(answered, start + ring, np.nan)
    cols["end"][:] = start + ring + np.where(answered, billsec, 0)
    cols["ring_s"][:] = ring
    cols["talk_s"][:] = np.where(answered, billsec, 0).astype(np.float64)
    cols["billsec"][:] = np.where(answered, billsec, 0)
    cols["disposition"][:] = np.where(answered, 0, 1).astype(np.int8)
    cols["answered_by"][:] = np.where(answered, 1, 0).astype(np.int8)
    cols["destination"][:] = (number_idx + 1).astype(np.int32)
    cats = open_categories(destination=numbers)
    return CDRTable(cols, cats, epoch, tz, {"source": "synthetic"})


def synthetic_audit(n: int = 2000, *, seed: int = 1, days: int = 10,
                    contract_ppm: Decimal = Decimal("0.15"),
                    increments: tuple[int, int] = (60, 60), rise: Decimal = Decimal("0.05"),
                    rise_day: int | None = 6, extra_s: int = 1, missing: float = 0.02,
                    foreign: float = 0.01, duplicates: int = 5, unanswered: int = 3,
                    shift_h: int = 8, offset_s: float = 1.5, jitter_s: float = 0.2,
                    decimals: int = 3, p_answer: float = 0.6,
                    ring_s: tuple[float, float] = (8.0, 8.0),
                    their_start: str = "start", bill_from_dial: bool = False) -> Synthetic:
    """Our calls and a perturbed carrier file of them (see the module docstring).

    ``p_answer``: share of our attempts answered (billed by the carrier).
    ``ring_s``: our ring times are uniform in this range, s.
    ``their_start``: what the carrier logs as a call's start: our ``"start"`` (dial) or
    our ``"answer"`` time. ``bill_from_dial``: the carrier bills from the dial, not the
    answer (its billsec = our billsec + the ring time, rounded up).
    ``rise_day``: the carrier's price is ``contract_ppm * (1 + rise)`` from 00:00 of that
    day (0 = the first) on; None for no rise.
    """
    rng = np.random.default_rng(seed)
    leads = max(1, n // 2)
    lead = rng.integers(0, leads, n)
    numbers = [f"138{i:08d}" for i in range(leads)]
    day = rng.integers(0, days, n)
    # attempts of one lead hours apart: each attempt in its own hour slot of the day
    slot = rng.integers(9, 20, n)
    start = day * DAY_S + slot * 3600.0 + rng.uniform(0, 3000, n)
    order = np.argsort(start, kind="stable")
    start, lead = start[order], lead[order]
    answered = rng.random(n) < p_answer
    billsec = np.where(answered, np.maximum(1, np.rint(rng.lognormal(3.6, 1.0, n))), 0)
    billsec = billsec.astype(np.int64)
    ring = rng.uniform(ring_s[0], ring_s[1], n)
    ours = _table(start, answered, billsec, numbers, lead, EPOCH, "Asia/Shanghai", ring)
    logged = start + ring if their_start == "answer" else start

    ans_idx = np.flatnonzero(answered)
    keep = ans_idx[rng.random(len(ans_idx)) >= missing]
    unans_idx = np.flatnonzero(~answered)
    billed_unans = rng.choice(unans_idx, size=min(unanswered, len(unans_idx)), replace=False)
    src = np.concatenate([keep, np.sort(billed_unans)])
    kind = np.array(["billed"] * len(keep) + ["unanswered"] * len(billed_unans), dtype=object)
    t_start = logged[src] + shift_h * 3600 + offset_s + rng.uniform(-jitter_s, jitter_s, len(src))
    basis = billsec[src] + (np.ceil(ring[src]).astype(np.int64) if bill_from_dial else 0)
    t_bill = np.where(kind == "unanswered", 5, basis + extra_s).astype(np.int64)
    t_num = lead[src]
    # foreign calls: numbers we never dialled, at random times
    n_f = int(round(foreign * len(src)))
    f_num = np.arange(leads, leads + n_f)
    foreign_numbers = [f"139{i:08d}" for i in range(n_f)]
    f_start = rng.uniform(0, days * DAY_S, n_f) + 9 * 3600 + shift_h * 3600
    f_bill = np.maximum(1, np.rint(rng.lognormal(3.6, 1.0, n_f))).astype(np.int64)
    # duplicates: exact copies of billed rows
    dup_of = rng.choice(len(keep), size=min(duplicates, len(keep)), replace=False)
    all_start = np.concatenate([t_start, f_start, t_start[dup_of]])
    all_bill = np.concatenate([t_bill, f_bill, t_bill[dup_of]])
    all_num = np.concatenate([t_num, f_num, t_num[dup_of]])
    all_src = np.concatenate([src, np.full(n_f, -1), src[dup_of]])
    all_kind = np.concatenate([kind, np.array(["foreign"] * n_f, dtype=object),
                               np.array(["duplicate"] * len(dup_of), dtype=object)])
    # the carrier's file, in its start order, on its own clock (labelled UTC)
    order = np.argsort(all_start, kind="stable")
    all_start, all_bill, all_num = all_start[order], all_bill[order], all_num[order]
    all_src, all_kind = all_src[order], all_kind[order]
    their_numbers = ["86" + s for s in numbers] + ["86" + s for s in foreign_numbers]
    theirs = _table(all_start, np.ones(len(all_start), dtype=bool), all_bill, their_numbers,
                    all_num, EPOCH, "UTC")
    # their price in force by their clock's date
    new_ppm = contract_ppm * (1 + rise)
    our_clock_start = all_start - shift_h * 3600 - offset_s
    later = (np.zeros(len(all_start), dtype=bool) if rise_day is None
             else our_clock_start >= rise_day * DAY_S)
    price = np.full(len(all_start), contract_ppm, dtype=object)
    price[later] = new_ppm
    charges = np.zeros(len(all_start), dtype=np.int64)
    for ppm in (contract_ppm, new_ppm):
        sel = np.flatnonzero(price == ppm)
        _, u = compile_plan(carrier_plan(ppm, increments, decimals)).rate_calls(all_bill[sel])
        charges[sel] = u
    return Synthetic(ours=ours, theirs=theirs, charges=charges, decimals=decimals,
                     source=all_src, kind=all_kind, price=price)
