"""The audit: match the carrier's rows to ours, re-rate, infer their tariff, attribute.

The money difference is the carrier's total minus what the contract says our matched
calls cost. It is split into causes *sequentially*, in a fixed order: each cause's
amount is the change in the total when that cause is corrected after every cause
before it, so the amounts add up to the difference exactly (integer sub-units)::

    their total
    - not_ours            remove the billed rows that match none of our calls
    - duplicate           remove the second billing of a call
    - unanswered_billed   a call we logged as not answered: charge it as the contract does
    - duration            their tariff at their billed seconds -> at our billed seconds
    - increment           their prices at their increment model -> at the contract's
    - rate                their prices (price per minute, fees, minimum) -> the contract's
    - other               what the inferred tariff does not reproduce of their charges
    = the contract's total on our matched calls

Where the carrier's file has no charge column, their rows are priced by the contract
at their billed seconds: only the first four causes can then be non-zero.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from sim.billing import CampaignInfo, Plan, rate
from sim.billing.tariff import compile_plan, units_to_decimal
from sim.cdr import CDRTable

from .errors import AuditError
from .infer import InferredTariff, infer_with_change
from .inputs import Side, load_contract, parse_charges
from .match import DUPLICATE, NOT_OURS, Matching, match_calls
from .numbers import country_of, digits, number_keys

__all__ = ["CAUSES", "METHOD", "Audit", "Cause", "Side", "audit", "load_contract",
           "parse_charges"]

#: The causes in the order they are corrected.
CAUSES: tuple[str, ...] = ("not_ours", "duplicate", "unanswered_billed", "duration",
                           "increment", "rate", "other")

#: Plan-level fees (seats, channels, bundles) are not per call: the audit leaves them out.
_NO_FEES = CampaignInfo()

METHOD = ("sequential: each cause's amount is the change in the total when that cause is "
          "corrected after every cause before it, in the order " + ", ".join(CAUSES)
          + "; so the amounts sum to the difference exactly. duration = their tariff at "
          "their billed seconds minus at ours; increment = their prices at their increment "
          "model minus at the contract's; rate = that minus the contract's charge; other = "
          "what the inferred tariff does not reproduce of their charges")


@dataclass(frozen=True, slots=True)
class Cause:
    """One cause of the difference: calls it touches and its exact amount."""

    cause: str
    calls: int
    amount: Decimal
    since: str | None = None
    detail: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"cause": self.cause, "calls": self.calls,
                               "amount": str(self.amount)}
        if self.since is not None:
            out["since"] = self.since
        if self.detail is not None:
            out["detail"] = self.detail
        return out


@dataclass(frozen=True, slots=True, eq=False)
class Audit:
    """The outcome of :func:`audit` (money in the contract's currency, exact)."""

    plan: Plan
    matching: Matching
    ours: Side
    theirs: Side
    their_total: Decimal
    contract_total: Decimal
    causes: tuple[Cause, ...]
    inferred: InferredTariff | None
    den: int
    their_units: np.ndarray
    contract_units: np.ndarray
    row_cause: np.ndarray
    country: str | None
    has_charges: bool
    only_ours_answered: int
    basis: str = "start"
    method: str = METHOD
    notes: tuple[str, ...] = field(default=())

    @property
    def difference(self) -> Decimal:
        return self.their_total - self.contract_total

    @property
    def matched(self) -> int:
        return len(self.matching.their_row)

    @property
    def only_ours(self) -> int:
        return int(np.count_nonzero(~self.matching.our_matched))

    @property
    def only_theirs(self) -> int:
        return int(np.count_nonzero(self.matching.status == NOT_OURS))

    @property
    def duplicates(self) -> int:
        return int(np.count_nonzero(self.matching.status == DUPLICATE))

    def cause(self, name: str) -> Cause:
        return next(c for c in self.causes if c.cause == name)

    def disputed(self) -> np.ndarray:
        """Carrier rows whose charge differs from the contract's (index array; a row
        that is not one of our calls: any charge)."""
        return np.flatnonzero(self.their_units != self.contract_units)

    def to_dict(self) -> dict[str, Any]:
        m = self.matching
        return {
            "matched": self.matched, "only_ours": self.only_ours,
            "only_ours_answered": self.only_ours_answered,
            "only_theirs": self.only_theirs, "duplicates": self.duplicates,
            "currency": self.plan.currency, "contract_plan": self.plan.name,
            "contract_tariff": self.plan.tariff_text,
            "contract": {"increments": self.plan.increments,
                         "price_per_min": None if self.plan.price_per_min is None
                         else str(self.plan.price_per_min),
                         "connect_fee": str(self.plan.connect_fee),
                         "min_cost": str(self.plan.min_cost),
                         "per_attempt_fee": str(self.plan.per_attempt_fee)},
            "their_total": str(self.their_total), "contract_total": str(self.contract_total),
            "difference": str(self.difference),
            "causes": [c.to_dict() for c in self.causes],
            "method": self.method,
            "inferred": None if self.inferred is None else self.inferred.to_dict(),
            "charges_from": "their charge column" if self.has_charges else
                            "the contract at their billed seconds (no charge column)",
            "clock": {"shift_h": m.shift_h, "offset_s": m.offset_s,
                      "tolerance_s": m.tolerance_s, "estimated_from_pairs": m.estimated_from,
                      "matched_on": f"our {self.basis} times"},
            "country_code": self.country,
            "disputes": int(len(self.disputed())),
            "ours": {"source": self.ours.source, "rows": len(self.ours.cdrs)},
            "theirs": {"source": self.theirs.source, "rows": len(self.theirs.cdrs)},
            "notes": list(self.notes),
        }


def _side(x: Side | CDRTable | str | Path, what: str) -> Side:
    if isinstance(x, Side):
        return x
    if isinstance(x, CDRTable):
        return Side(x, source=str(x.meta.get("source", what)))
    if isinstance(x, str | Path):
        from .reading import read_side  # a file: read with its charge column (theirs)
        return read_side(x, charges=what == "theirs")[0]
    raise TypeError(f"{what}: expected a CDRTable, Side or file (got {type(x).__name__})")


def _labels(cdrs: CDRTable) -> tuple[np.ndarray, tuple[str, ...]]:
    """Per row code and vocabulary of the dialled number."""
    if "number" in cdrs.columns:  # the dialled number, when the table keeps it
        vocab = cdrs.vocabulary("number")
        if len(vocab) > 1:
            return cdrs["number"], vocab
    return cdrs["destination"], cdrs.vocabulary("destination")


def _epoch_s(epoch: str) -> float:
    return float(np.datetime64(epoch, "s").astype(np.int64))


def _iso(t_s: float) -> str:
    return str(np.datetime64(int(round(t_s)), "s")).replace("T", " ")


def _to_den(units: np.ndarray, den: int, target: int) -> np.ndarray:
    out = np.asarray(units)
    if out.dtype != object:
        out = out.astype(np.int64)
    return out * (target // den) if target != den else out


def _shifted(side: CDRTable, clock_s: float, epoch: str) -> CDRTable:
    """``side`` with its times moved onto our clock and epoch."""
    delta = _epoch_s(side.epoch) - _epoch_s(epoch) - clock_s
    cols = dict(side.columns)
    for name in ("start", "answer", "connect", "end"):
        cols[name] = side[name] + delta
    return CDRTable(cols, side.categories, epoch, side.tz, dict(side.meta))


def _mixed(ours: CDRTable, rows: np.ndarray, theirs: CDRTable,
           their_rows: np.ndarray) -> CDRTable:
    """Our matched calls (times, destination) with their billed seconds and outcome."""
    sel = ours.select(rows)
    cols = dict(sel.columns)
    cols["billsec"] = theirs["billsec"][their_rows].astype(np.int64)
    cols["disposition"] = theirs["disposition"][their_rows]
    return CDRTable(cols, sel.categories, sel.epoch, sel.tz, dict(sel.meta))


def _plan_units(plans: Sequence[Plan], which: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Charge units (plan ``out_den``) of talk times ``d``, row ``i`` under
    ``plans[which[i]]`` (plans without bands or destinations)."""
    out = np.zeros(len(d), dtype=np.int64)
    for k, p in enumerate(plans):
        sel = np.flatnonzero(which == k)
        if len(sel):
            _, u = compile_plan(p).rate_calls(d[sel].astype(np.int64))
            out[sel] = np.asarray(u, dtype=np.int64)
    return out


def _contract_xy(plan: Plan) -> tuple[int, int] | None:
    if plan.increments is None:
        return None
    x, _, y = plan.increments.partition("/")
    return int(x), int(y)


def _duration_detail(ours: CDRTable, oi: np.ndarray, d_o: np.ndarray, d_t: np.ndarray,
                     answered: np.ndarray) -> str | None:
    """How their billed seconds differ from ours: by how much, and how many calls they
    bill from the dial instead of the answer (their billsec = our whole duration)."""
    differ = answered & (d_t != d_o)
    if not differ.any():
        return None
    extra = (d_t - d_o)[differ]
    start, end = ours["start"][oi][differ], ours["end"][oi][differ]
    ring = (ours["answer"][oi] - ours["start"][oi])[differ]
    whole = np.ceil(np.nan_to_num(end - start, nan=-1e9))
    from_dial = int(np.count_nonzero((np.abs(d_t[differ] - whole) <= 1) & (ring >= 2)))
    text = (f"{int(differ.sum()):,} calls billed for other seconds than ours: median "
            f"{float(np.median(extra)):+g} s, from {int(extra.min()):+d} to "
            f"{int(extra.max()):+d} s")
    if from_dial:
        text += (f"; {from_dial:,} of them billed from the dial, not the answer (their "
                 "billsec = our whole duration)")
    return text


def _rate_detail(inferred: InferredTariff, contract: Plan) -> str | None:
    parts = []
    if contract.price_per_min is not None and inferred.price_per_min != contract.price_per_min:
        parts.append(f"price per minute {inferred.price_per_min} against the contract's "
                     f"{contract.price_per_min}")
    for c in inferred.changes:
        parts.append(f"{c.price_per_min} from {c.at} (their clock)")
    if inferred.connect_fee != contract.connect_fee:
        parts.append(f"connection fee {inferred.connect_fee} against {contract.connect_fee}")
    if inferred.min_cost != contract.min_cost:
        parts.append(f"minimum charge {inferred.min_cost} against {contract.min_cost}")
    return "; ".join(parts) or None


def _mark_repeats(m: Matching, keys: np.ndarray, t: np.ndarray, billsec: np.ndarray) -> None:
    """Among the carrier rows that are none of ours, a repeat of another one (same
    number and billed seconds, start within the tolerance) is a duplicate too."""
    rows = np.flatnonzero(m.status == NOT_OURS)
    rows = rows[np.isfinite(t[rows])]
    if len(rows) < 2:
        return
    order = rows[np.lexsort((t[rows], billsec[rows], keys[rows]))]
    same = ((keys[order][1:] == keys[order][:-1]) & (billsec[order][1:] == billsec[order][:-1])
            & (np.diff(t[order]) <= m.tolerance_s))
    m.status[order[1:][same]] = DUPLICATE


def _nonzero(a: np.ndarray) -> int:
    return int(np.count_nonzero(a))


def _total(a: np.ndarray) -> int:
    return int(a.sum(dtype=np.int64)) if a.dtype != object else int(sum(a.tolist()))


# -- the audit ------------------------------------------------------------------------

def audit(ours: Side | CDRTable | str | Path, theirs: Side | CDRTable | str | Path,
          plan: Plan | str | Path, *,
          charges: Sequence[Any] | None = None, tolerance_s: float = 2.0,
          country: str | None = None, clock: tuple[float, float] | None = None) -> Audit:
    """Audit the carrier's CDRs against ours under the contract ``plan``.

    Parameters
    ----------
    ours, theirs
        Our CDRs and the carrier's (:class:`Side` to carry line numbers and charges), or
        their files (read by :func:`~sim.audit.reading.read_side`, format detected).
    plan
        The contract's plan, or ``FILE[:NAME]``.
    charges
        The carrier's charge per row (decimal strings or Decimals), if not in ``theirs``.
    tolerance_s
        Largest start difference of a pair after the clock correction, s.
    country
        Country code to strip from numbers (default: inferred from the numbers).
    clock
        ``(shift_h, offset_s)`` of their clock against ours (default: estimated).

    Returns
    -------
    Audit

    Raises
    ------
    AuditError
        No overlap in time or numbers, currencies differ, a charge is unreadable.
    """
    contract = load_contract(plan)
    o, t = _side(ours, "ours"), _side(theirs, "theirs")
    notes: list[str] = []
    if charges is not None:
        units, places, cur = parse_charges(charges, source=t.source or "charges")
        if len(units) != len(t.cdrs):
            raise AuditError(f"charges: {len(units)} values for {len(t.cdrs)} carrier rows")
        t = Side(t.cdrs, t.lines, units, places, cur or t.currency, t.source)
    if t.currency is not None and t.currency != contract.currency:
        raise AuditError(f"{t.source or 'theirs'}: charges are in {t.currency} but the "
                         f"contract plan {contract.name!r} is in {contract.currency}: "
                         "audit against a plan in the bill's currency")
    oc, ov = _labels(o.cdrs)
    tc, tv = _labels(t.cdrs)
    o_dig, t_dig = digits(ov), digits(tv)
    if country is None:
        country = country_of(np.concatenate([o_dig[0], t_dig[0]]))
        if country:
            notes.append(f"country code {country} inferred from the numbers and stripped")
    our_keys = number_keys(ov, country, o_dig)[oc]
    their_keys = number_keys(tv, country, t_dig)[tc]
    our_t = o.cdrs["start"] + _epoch_s(o.cdrs.epoch)
    their_t = t.cdrs["start"] + _epoch_s(t.cdrs.epoch)
    m = match_calls(our_keys, our_t, their_keys, their_t, tolerance_s=tolerance_s, clock=clock)
    basis = "start"
    answer = o.cdrs["answer"]
    if clock is None and len(m.their_row) < 0.9 * len(t.cdrs) and np.isfinite(answer).any():
        # a carrier may log a call from its answer: try our answer times instead
        our_a = np.where(np.isfinite(answer), answer, o.cdrs["start"]) + _epoch_s(o.cdrs.epoch)
        try:
            alt = match_calls(our_keys, our_a, their_keys, their_t, tolerance_s=tolerance_s)
        except AuditError:
            alt = None
        if alt is not None and len(alt.their_row) > len(m.their_row):
            m, basis = alt, "answer"
            notes.append("their start times are our answer times: calls matched on our "
                         "answer times")
    if len(m.their_row) == 0:
        raise AuditError(
            f"no carrier row matches one of our calls (clock correction {m.clock_text}, "
            f"tolerance {tolerance_s} s): ours run "
            f"{_iso(float(np.nanmin(our_t)))} .. {_iso(float(np.nanmax(our_t)))}, theirs "
            f"{_iso(float(np.nanmin(their_t)))} .. {_iso(float(np.nanmax(their_t)))}")

    _mark_repeats(m, their_keys, their_t, t.cdrs["billsec"])

    # what the contract says each of our calls costs
    pc = rate(o.cdrs, [contract], campaign=_NO_FEES).per_call(contract.name)
    k_den = pc.den
    ti, oi = m.their_row, m.our_row
    # what they charged per row
    if t.charges is not None:
        if len(t.charges) != len(t.cdrs):
            raise AuditError(f"{t.source}: {len(t.charges)} charges for {len(t.cdrs)} rows")
        c_den = 10 ** t.charge_decimals
        their_raw = np.asarray(t.charges, dtype=np.int64)
    else:
        c_den = k_den
        their_raw = np.zeros(len(t.cdrs), dtype=np.int64)
        moved = _shifted(t.cdrs, m.clock_s, o.cdrs.epoch)
        priced = rate(moved, [contract], campaign=_NO_FEES).per_call(contract.name)
        their_raw[:] = np.asarray(priced.units, dtype=np.int64)
        mixed = rate(_mixed(o.cdrs, oi, t.cdrs, ti), [contract],
                     campaign=_NO_FEES).per_call(contract.name)
        their_raw[ti] = np.asarray(mixed.units, dtype=np.int64)
        notes.append("no charge column: their rows priced by the contract at their billed "
                     "seconds")
    den = math.lcm(k_den, c_den)
    their_u = _to_den(their_raw, c_den, den)
    k_all = _to_den(np.asarray(pc.units), k_den, den)
    k = k_all[oi]
    c = their_u[ti]

    # the carrier's tariff, from its own rows
    their_answered = t.cdrs["disposition"] == 0
    d_their = np.where(their_answered, t.cdrs["billsec"], 0).astype(np.int64)
    our_answered = o.cdrs["disposition"][oi] == 0
    d_o = np.where(our_answered, o.cdrs["billsec"][oi], 0).astype(np.int64)
    d_t = d_their[ti]
    inferred: InferredTariff | None = None
    if t.charges is not None:
        inferred = infer_with_change(d_their, their_raw, t.charge_decimals, their_t, label=_iso)
        plans = inferred.plans(contract.currency)
        which = np.zeros(len(ti), dtype=np.int64)
        for j, ch in enumerate(inferred.changes, 1):
            which[their_t[ti] >= ch.at_s] = j
        xy = _contract_xy(contract)
        hybrid = plans if xy is None else [inferred.plan(
            contract.currency, price_per_min=p.price_per_min, increments=xy) for p in plans]
        if xy is None:
            notes.append("the contract has no X/Y increments: increment and price "
                         "differences are both counted as rate")
        s1 = _to_den(_plan_units(plans, which, d_t), c_den, den)
        s2 = _to_den(_plan_units(plans, which, d_o), c_den, den)
        s3 = _to_den(_plan_units(hybrid, which, d_o), c_den, den)
    else:
        s1 = c.copy()
        s2 = s3 = k.copy()
    unans = ~our_answered
    per_row = {
        "unanswered_billed": np.where(unans, c - k, 0),
        "duration": np.where(unans, 0, s1 - s2),
        "increment": np.where(unans, 0, s2 - s3),
        "rate": np.where(unans, 0, s3 - k),
        "other": np.where(unans, 0, c - s1),
    }
    status = m.status
    their_total = _total(their_u)
    contract_total = _total(k)
    amounts = {"not_ours": _total(their_u[status == NOT_OURS]),
               "duplicate": _total(their_u[status == DUPLICATE])}
    calls = {"not_ours": _nonzero(status == NOT_OURS), "duplicate": _nonzero(status == DUPLICATE)}
    for name, v in per_row.items():
        amounts[name] = _total(v)
        calls[name] = _nonzero(v)
    assert sum(amounts.values()) == their_total - contract_total, "attribution must be exact"
    since = inferred.changes[0].at if inferred is not None and inferred.changes else None
    details = {"duration": _duration_detail(o.cdrs, oi, d_o, d_t, our_answered),
               "rate": None if inferred is None else _rate_detail(inferred, contract)}
    causes = tuple(Cause(name, calls[name], units_to_decimal(amounts[name], den),
                         since if name == "rate" else None, details.get(name))
                   for name in CAUSES)
    # per carrier row: a bit per cause (in CAUSES order) that changes its charge
    row_cause = np.zeros(len(t.cdrs), dtype=np.int16)
    row_cause[status == NOT_OURS] = 1
    row_cause[status == DUPLICATE] = 2
    bits = np.zeros(len(ti), dtype=np.int16)
    for j, name in enumerate(CAUSES[2:], 2):
        bits |= np.where(per_row[name] != 0, 1 << j, 0).astype(np.int16)
    row_cause[ti] = bits
    contract_per_their = np.zeros(len(t.cdrs), dtype=np.int64)
    contract_per_their[ti] = k
    answered_all = o.cdrs["disposition"] == 0
    return Audit(plan=contract, matching=m, ours=o, theirs=t,
                 their_total=units_to_decimal(their_total, den),
                 contract_total=units_to_decimal(contract_total, den),
                 causes=causes, inferred=inferred, den=den, their_units=their_u,
                 contract_units=contract_per_their, row_cause=row_cause, country=country,
                 has_charges=t.charges is not None,
                 only_ours_answered=_nonzero(answered_all & ~m.our_matched),
                 basis=basis, notes=tuple(notes))
