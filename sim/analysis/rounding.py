"""Rounding analysis: what "every started minute billed as a full minute" costs a campaign.

A carrier bills talk time in blocks (60/60: whole minutes; 30/6: a first 30 s block,
then 6 s blocks). Whatever a call leaves unused of its last block is billed anyway —
the *rounding*. Outbound traffic is full of calls of a few seconds (no interest,
voicemail, silent calls), each of which pays a whole first block. For one CDR table and
each plan, this module measures:

* the talk-time distribution against the plan's blocks (calls, billed and rounding
  seconds per block);
* the share of billed seconds that is rounding;
* the calls shorter than the first block and what they cost;
* the calls that end just past a block boundary (within ``k`` seconds) and what trimming
  them by up to ``k`` seconds — to the boundary — would save.

Billed seconds and charges always come from the rater (:func:`sim.billing.rate`); the
block geometry here is derived from the same compiled tariff and cross-checked against
the rater call by call, so every total reconciles exactly::

    billed_s = legs * (billsec_s - free_s) + rounding_s

where ``billsec_s`` is the answered calls' whole talk seconds, ``free_s`` what the plan
does not bill at all (``no_charge_under_s`` calls, ``included_s`` seconds) and
``rounding_s`` the unused ends of last blocks, over all legs. A trimmed call is re-rated
by the rater; savings are exact (for per-invoice rounding: before the invoice's final
rounding).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np

from ..billing import CampaignInfo, Plan, PlanCalls, Rating, rate
from ..billing.tariff import units_to_decimal
from ..cdr import CDRTable, empty_columns, encode, open_categories

__all__ = [
    "DEFAULT_TRIMS_S",
    "BlockRow",
    "PlanRounding",
    "RoundingAnalysis",
    "ShortLine",
    "TrimSaving",
    "block_edges",
    "rounding_analysis",
]

#: Trim lengths (s) evaluated by default.
DEFAULT_TRIMS_S: tuple[int, ...] = (1, 2, 3, 5, 10)


@dataclass(frozen=True, slots=True, kw_only=True)
class TrimSaving:
    """What ending calls up to ``trim_s`` seconds earlier would save under one plan.

    A call whose last block (after the first one) holds at most ``trim_s`` seconds of
    talk — it ends just past a block boundary — is trimmed to that boundary.

    Attributes
    ----------
    trim_s
        Largest trim, s.
    calls
        Calls trimmed.
    trimmed_s
        Talk seconds removed (sum of the trims, each <= ``trim_s``).
    saved_billed_s
        Billed seconds saved (all legs), from the rater.
    saved
        Call charges saved (currency), from the rater.
    saved_share
        ``saved`` / the plan's call charges (0-1; NaN without charges).
    """

    trim_s: int
    calls: int
    trimmed_s: int
    saved_billed_s: int
    saved: Decimal
    saved_share: float


@dataclass(frozen=True, slots=True, kw_only=True)
class ShortLine:
    """A plan's short-call surcharge line (a ``short_share`` traffic term) against the
    short-call share of the whole table: ``calls`` of ``0 < billsec <= max_s`` among
    ``base`` answered calls with billsec > 0."""

    term: str
    max_s: int
    threshold: Decimal
    calls: int
    base: int

    @property
    def share(self) -> float:
        return self.calls / self.base if self.base else float("nan")

    @property
    def over(self) -> bool:
        """Whether the whole table is past the line (its windows may differ)."""
        return self.base > 0 and self.calls > self.threshold * self.base


@dataclass(frozen=True, slots=True, kw_only=True)
class BlockRow:
    """Calls whose billed length (one leg) ends at block ``block`` of the plan's tariff.

    ``lo_s``/``hi_s`` bound the block (talk in ``(lo_s, hi_s]`` is billed ``hi_s``);
    ``block = 0`` with ``hi_s = -1`` collects every longer call. Seconds are all legs.
    """

    block: int
    lo_s: int
    hi_s: int
    calls: int
    billable_s: int
    billed_s: int
    rounding_s: int


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanRounding:
    """The rounding account of one plan over one CDR table (seconds are integers).

    Attributes
    ----------
    plan, currency, tariff
        Plan name, currency code, tariff text (e.g. ``0.12/min 60/60``).
    first_block_s, next_block_s
        The plan's own tariff: length of the first block, s, and of the blocks after
        it (the last step's increment).
    legs
        Legs billed per call.
    calls, answered
        Dial attempts, answered calls (by disposition).
    talk_s
        Talk time of answered calls, s (float, as recorded).
    billsec_s
        Whole talk seconds of answered calls (``ceil(talk_s)``, what carriers bill from).
    free_s
        Seconds of ``billsec_s`` the plan does not bill (free short calls, included s).
    billable_s, rounding_s, billed_s
        Seconds the tariff applies to, the unused ends of last blocks, and the rater's
        billed seconds: ``billed_s = legs * billable_s + rounding_s`` (all legs).
    free_calls
        Answered calls with talk that the plan bills no time for.
    telecom
        Call charges of the plan (currency), as :func:`sim.billing.rate` totals them.
    short_calls, short_billable_s, short_billed_s, short_charge
        Calls billed time yet shorter than their first block, their billable and billed
        seconds, and their charges (currency, connection fees included).
    blocks
        The first few blocks of the plan's own tariff, then one row for longer calls.
    trims
        Savings of trimming calls that end just past a block boundary, per trim length.
    """

    plan: str
    currency: str
    tariff: str
    first_block_s: int
    next_block_s: int
    legs: int
    calls: int
    answered: int
    talk_s: float
    billsec_s: int
    free_s: int
    billable_s: int
    rounding_s: int
    billed_s: int
    free_calls: int
    telecom: Decimal
    short_calls: int
    short_billable_s: int
    short_billed_s: int
    short_charge: Decimal
    blocks: tuple[BlockRow, ...]
    trims: tuple[TrimSaving, ...]
    short_lines: tuple[ShortLine, ...] = ()

    @property
    def rounding_share(self) -> float:
        """Share of billed seconds that is rounding (0-1)."""
        return self.rounding_s / self.billed_s if self.billed_s else float("nan")

    @property
    def short_share(self) -> float:
        """Share of the answered calls that are shorter than their first block."""
        return self.short_calls / self.answered if self.answered else float("nan")

    @property
    def short_charge_share(self) -> float:
        """Share of call charges paid for calls shorter than the first block."""
        return float(self.short_charge / self.telecom) if self.telecom else float("nan")

    def row(self) -> dict[str, Any]:
        """A flat dict for tables and JSON (money as Decimal, shares 0-1)."""
        out: dict[str, Any] = {
            "plan": self.plan, "currency": self.currency, "tariff": self.tariff,
            "first_block_s": self.first_block_s, "next_block_s": self.next_block_s,
            "answered": self.answered, "billsec_s": self.billsec_s, "free_s": self.free_s,
            "billable_s": self.billable_s, "rounding_s": self.rounding_s,
            "billed_s": self.billed_s, "rounding_share": self.rounding_share,
            "telecom": self.telecom, "short_calls": self.short_calls,
            "short_share": self.short_share, "short_billed_s": self.short_billed_s,
            "short_charge": self.short_charge, "short_charge_share": self.short_charge_share,
        }
        for t in self.trims:
            out[f"trim{t.trim_s}_calls"] = t.calls
            out[f"trim{t.trim_s}_saved"] = t.saved
        for line in self.short_lines:
            out[f"line:{line.term}:share"] = line.share
            out[f"line:{line.term}:threshold"] = line.threshold
        return out


@dataclass(frozen=True, slots=True)
class RoundingAnalysis:
    """Rounding accounts of several plans over the same calls (plan name -> account)."""

    plans: Mapping[str, PlanRounding]

    def __getitem__(self, name: str) -> PlanRounding:
        return self.plans[name]

    def __iter__(self) -> Any:
        return iter(self.plans.values())

    def __len__(self) -> int:
        return len(self.plans)

    def rows(self) -> list[dict[str, Any]]:
        return [p.row() for p in self.plans.values()]

    def to_pandas(self) -> Any:
        """One row per plan (needs pandas)."""
        import pandas as pd

        return pd.DataFrame(self.rows()).set_index("plan")

    def format(self) -> str:
        """A plain-text table, one line per plan."""
        trims = sorted({t.trim_s for p in self.plans.values() for t in p.trims})
        head = ["plan", "blocks", "billed min", "rounding", "short calls", "short cost"]
        head += [f"trim ≤{k}s saves" for k in trims]
        lines = any(p.short_lines for p in self.plans.values())
        if lines:
            head.append("short-call line")
        rows = []
        for p in self.plans.values():
            blocks = f"{p.first_block_s}/{p.next_block_s}"
            row = [p.plan, blocks, f"{p.billed_s / 60:,.1f}", _pct(p.rounding_share),
                   f"{p.short_calls:,} ({_pct(p.short_share)})",
                   f"{p.short_charge:,} ({_pct(p.short_charge_share)})"]
            by_k = {t.trim_s: t for t in p.trims}
            row += [f"{by_k[k].saved:,} ({by_k[k].calls:,})" if k in by_k else "-"
                    for k in trims]
            if lines:
                row.append("; ".join(
                    f"≤{x.max_s}s {_pct(x.share)} vs {_pct(float(x.threshold))}"
                    + (" OVER" if x.over else "") for x in p.short_lines) or "-")
            rows.append(row)
        return _text_table(head, rows)


def _text_table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell: the first two left-aligned, the rest right."""
    from ..fmt import format_table

    return format_table(rows, head, "ll")


def _pct(x: float) -> str:
    return "n/a" if x != x else f"{100 * x:.1f}%"


def _grid(d_max: int) -> CDRTable:
    """One answered call per billsec value 0 .. ``d_max`` (no destination, no band)."""
    cols = empty_columns(d_max + 1)
    d = np.arange(d_max + 1, dtype=np.int64)
    cols["billsec"][:] = d
    cols["talk_s"][:] = d
    cols["start"][:] = 0.0
    cols["answer"][:] = 0.0
    cols["end"][:] = d
    cols["disposition"][:] = encode("disposition", "ANSWERED")
    return CDRTable(cols, open_categories())


def _edges(plans: Sequence[Plan], up_to_s: int | None, count: int | None
           ) -> dict[str, np.ndarray]:
    """Block boundaries of each plan's own tariff (see :func:`block_edges`), from one
    rating of a grid of call lengths, widened until every plan has enough of them."""
    if up_to_s is None and count is None:
        raise ValueError("block edges need up_to_s or count")
    span = max(256, 2 * (up_to_s or 0))
    while True:
        rating = rate(_grid(span), plans, campaign=CampaignInfo())
        out: dict[str, np.ndarray] = {}
        done = True
        for p in plans:
            billed = rating.per_call(p.name).billed_s.astype(np.int64)
            e = np.flatnonzero((billed[:-1] > 0) & (billed[1:] > billed[:-1]))
            done &= (up_to_s is None or bool(e.size and e[-1] >= up_to_s)) and (
                count is None or e.size >= count)
            if up_to_s is not None and e.size:
                e = e[:int(np.searchsorted(e, up_to_s, side="left")) + 1]
            out[p.name] = (e if count is None else e[:count]).astype(np.int64)
        if done or span > 1 << 22:
            return out
        span *= 4


def block_edges(plan: Plan, up_to_s: int | None = None, *, count: int | None = None
                ) -> np.ndarray:
    """Block boundaries of the plan's own tariff, in talk seconds (one leg).

    A boundary is a talk length ``e`` billed exactly (``e + 1`` s is billed more): talk
    in ``(previous edge, e]`` is billed as ``e``. Found by rating one call of every
    length, so every term of the plan (steps, ``included_s``, free short calls) counts.
    Edges are listed up to the first one at or beyond ``up_to_s`` and/or the first
    ``count`` of them (one of the two is needed).
    """
    return _edges([plan], up_to_s, count)[plan.name]


def exact_sum(units: np.ndarray) -> int:
    """Exact sum of charge units (integer or Python-int object arrays) without overflow."""
    if units.dtype == object:
        return int(sum(units.tolist()))
    total = 0
    for i in range(0, len(units), 1 << 16):  # Python ints: exact, in bounded memory
        total += int(units[i:i + (1 << 16)].astype(object).sum())
    return total


def _shortened(cdrs: CDRTable, by_s: np.ndarray | int) -> CDRTable:
    """The same calls, each ending ``by_s`` whole seconds earlier (never below 0 s)."""
    cols = dict(cdrs.columns)
    cut = np.minimum(cdrs["billsec"], by_s)
    cols["billsec"] = cdrs["billsec"] - cut
    cols["talk_s"] = np.maximum(cdrs["talk_s"] - cut, 0.0)
    cols["end"] = cdrs["end"] - cut
    return CDRTable(cols, cdrs.categories, cdrs.epoch, cdrs.tz, dict(cdrs.meta))


@dataclass(frozen=True, slots=True)
class _Probe:
    """Rater results of the analysed calls shortened by 1 .. J s, and of a call of one
    billable second (its first block)."""

    billed: list[dict[str, np.ndarray]]  # [j][plan] billed seconds, j = 0 .. J
    units: list[dict[str, np.ndarray]]
    first: dict[str, np.ndarray]


def _probe(cdrs: CDRTable, plans: Sequence[Plan], j_max: int) -> _Probe:
    """Re-rate ``cdrs`` shortened by 1 .. ``j_max`` s, and at each plan's shortest billed
    length, in one rating of the stacked copies."""
    n = len(cdrs)
    ones = sorted({p.no_charge_under_s + p.included_s + 1 for p in plans})
    copies = [_shortened(cdrs, j) for j in range(1, j_max + 1)]
    for one in ones:
        cols = dict(cdrs.columns)
        cols["billsec"] = np.full(n, one, dtype=cdrs["billsec"].dtype)
        cols["talk_s"] = np.full(n, float(one))
        cols["end"] = cdrs["answer"] + one
        copies.append(CDRTable(cols, cdrs.categories, cdrs.epoch, cdrs.tz, dict(cdrs.meta)))
    stacked = CDRTable({c: np.concatenate([t[c] for t in copies]) for c in cdrs.columns},
                       cdrs.categories, cdrs.epoch, cdrs.tz, dict(cdrs.meta))
    r = rate(stacked, plans, campaign=CampaignInfo())
    billed: list[dict[str, np.ndarray]] = []
    units: list[dict[str, np.ndarray]] = []
    for j in range(j_max):
        s = slice(j * n, (j + 1) * n)
        billed.append({p.name: r.per_call(p.name).billed_s[s].astype(np.int64) for p in plans})
        units.append({p.name: r.per_call(p.name).units[s] for p in plans})
    first = {}
    for p in plans:
        k = j_max + ones.index(p.no_charge_under_s + p.included_s + 1)
        first[p.name] = r.per_call(p.name).billed_s[k * n:(k + 1) * n].astype(np.int64) // p.legs
    return _Probe(billed=billed, units=units, first=first)


def _plan_rounding(cdrs: CDRTable, pc: PlanCalls, telecom: Decimal, probe: _Probe,
                   sel: np.ndarray, trims_s: Sequence[int], edges: np.ndarray,
                   n_blocks: int) -> PlanRounding:
    """The account of one plan; ``sel`` are the answered calls with talk, the only ones
    the probe re-rated (every other call bills no time)."""
    plan = pc.plan
    answered = cdrs.answered
    d_all = np.where(answered, cdrs["billsec"], 0).astype(np.int64)
    billed_all = pc.billed_s.astype(np.int64)
    d = d_all[sel]
    billed = billed_all[sel]
    units = pc.units[sel]
    if units.dtype != object:
        units = units.astype(np.int64)
    billable = np.where(d > plan.no_charge_under_s, np.maximum(d - plan.included_s, 0), 0)
    billed_leg = billed // plan.legs
    rounding_leg = billed_leg - billable
    first = probe.first[plan.name]
    short = (billable > 0) & (billable < first) & (billed_leg == first)

    # Overrun: how far past its last block boundary a call ends = the first trim that
    # lowers its billed time. Past the first block: the trimmed call still bills time.
    j_max = len(probe.billed)
    over = np.full(d.size, j_max + 1, dtype=np.int64)
    at_over_billed = np.zeros(d.size, dtype=np.int64)
    at_over_units = units.copy()
    for j in range(j_max, 0, -1):
        b_j = probe.billed[j - 1][plan.name]
        drop = (billed > 0) & (b_j < billed)
        over[drop] = j
        at_over_billed[drop] = b_j[drop]
        at_over_units[drop] = probe.units[j - 1][plan.name][drop]
    trimmable = (over <= j_max) & (at_over_billed > 0)
    units_total = exact_sum(pc.units)
    trims = []
    for k in sorted({int(k) for k in trims_s}):
        m = trimmable & (over <= k)
        saved_u = exact_sum(units[m]) - exact_sum(at_over_units[m])
        trims.append(TrimSaving(
            trim_s=k, calls=int(m.sum()), trimmed_s=int(over[m].sum()),
            saved_billed_s=int((billed[m] - at_over_billed[m]).sum()),
            saved=units_to_decimal(saved_u, pc.den),
            saved_share=saved_u / units_total if units_total else float("nan")))

    own = edges - plan.included_s  # first and second boundary: block lengths
    edges = own[:n_blocks]
    blocks = []
    lo = 0
    has = billable > 0
    for b, hi in enumerate([*edges.tolist(), None], 1):
        m = has & (billed_leg > lo) & (True if hi is None else billed_leg <= hi)
        blocks.append(BlockRow(block=b if hi is not None else 0, lo_s=lo + plan.included_s,
                               hi_s=-1 if hi is None else hi + plan.included_s,
                               calls=int(m.sum()),
                               billable_s=int(billable[m].sum()) * plan.legs,
                               billed_s=int(billed[m].sum()),
                               rounding_s=int(rounding_leg[m].sum()) * plan.legs))
        lo = hi if hi is not None else lo
    talk = cdrs["talk_s"]
    return PlanRounding(
        plan=plan.name, currency=plan.currency, tariff=plan.tariff_text,
        first_block_s=int(own[0]), next_block_s=int(own[1] - own[0]) if own.size > 1 else 0,
        legs=plan.legs, calls=len(cdrs), answered=int(answered.sum()),
        talk_s=float(np.sum(talk, where=answered & np.isfinite(talk))),
        billsec_s=int(d_all.sum()), free_s=int((d - billable).sum()),
        billable_s=int(billable.sum()), rounding_s=int(rounding_leg.sum()) * plan.legs,
        billed_s=int(billed_all.sum()), free_calls=int(((d > 0) & (billable == 0)).sum()),
        telecom=telecom, short_calls=int(short.sum()),
        short_billable_s=int(billable[short].sum()) * plan.legs,
        short_billed_s=int(billed[short].sum()),
        short_charge=units_to_decimal(exact_sum(units[short]), pc.den),
        blocks=tuple(blocks), trims=tuple(trims),
        short_lines=tuple(ShortLine(term=t.name, max_s=t.max_s, threshold=t.threshold,
                                    calls=int(((d_all > 0) & (d_all <= t.max_s)).sum()),
                                    base=int((d_all > 0).sum()))
                          for t in plan.traffic_terms if t.metric == "short_share"))


def rounding_analysis(cdrs: CDRTable, plans: Iterable[Plan] | Rating, *,
                      trims_s: Sequence[int] = DEFAULT_TRIMS_S,
                      n_blocks: int = 6) -> RoundingAnalysis:
    """Rounding account of each plan over ``cdrs``.

    Parameters
    ----------
    cdrs
        The calls (simulated or imported).
    plans
        Plans to analyse, or the :class:`~sim.billing.Rating` of ``cdrs`` already made
        (its per-call billed seconds and charges are used as they are).
    trims_s
        Trim lengths to evaluate, s (each >= 1).
    n_blocks
        Blocks of the plan's own tariff listed one by one in :attr:`PlanRounding.blocks`.

    Returns
    -------
    RoundingAnalysis
        Plan name -> :class:`PlanRounding`.
    """
    if n_blocks < 1:
        raise ValueError(f"n_blocks must be >= 1 (got {n_blocks})")
    if any(int(k) < 1 for k in trims_s):
        raise ValueError(f"trims_s must all be >= 1 s (got {list(trims_s)})")
    rating = plans if isinstance(plans, Rating) else rate(cdrs, plans,
                                                          campaign=CampaignInfo())
    if len(rating.call_id) != len(cdrs):
        raise ValueError(f"the rating holds {len(rating.call_id)} calls, the CDRs {len(cdrs)}")
    sel = np.flatnonzero(cdrs.answered & (cdrs["billsec"] > 0))
    plan_list = [pc.plan for pc in rating.calls.values()]
    probe = _probe(cdrs.select(sel), plan_list, max([int(k) for k in trims_s], default=0))
    edges = _edges(plan_list, None, max(n_blocks, 2))
    out = {name: _plan_rounding(cdrs, pc, rating.summary(name).telecom, probe, sel, trims_s,
                                edges[name], n_blocks)
           for name, pc in rating.calls.items()}
    return RoundingAnalysis(out)
