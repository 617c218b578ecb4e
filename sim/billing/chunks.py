"""Rating CDRs chunk by chunk in bounded memory, exactly as the whole table would be.

A month of a large centre is tens of millions of calls; rating it needs no more than a
chunk of them at a time. :func:`rate_chunks` takes the calls as an iterable of
:class:`~sim.cdr.CDRTable` chunks (e.g. :func:`sim.cdrio.iter_cdrs` over a Parquet
file) and gives the same per-plan summaries as :func:`~sim.billing.rate` over the
concatenated table, to the last digit:

* the chunks are re-cut into blocks of :data:`~sim.billing.rater.CHUNK` calls at the
  same offsets as the whole-table pass, and each block is rated by the same code
  (:func:`~sim.billing.rate`): per-call charges, minimum and maximum charges, bands and
  destinations are per call; the talk-time float sum adds the same blocks in the same
  order;
* per plan, billed seconds and charge units are exact integers carried from block to
  block; telecom (rounded once per invoice or summed per call), bundles and rent are
  computed at the end from the carried totals;
* traffic terms carry their per-window counts (:data:`~sim.billing.terms.COUNTS`,
  keyed by the window's label), so windows that straddle chunks count whole;
* without ``campaign``, the estimate of :meth:`CampaignInfo.from_cdrs` is carried too:
  distinct agents, first and last dial day, and the peak concurrency by a sweep that
  keeps only the calls still in progress. That needs the calls in dial order (dialsim's
  own files are; an Asterisk Master.csv is in hang-up order): otherwise it refuses
  with a clear error, and ``campaign=`` must be given.

Per-call results are not kept: ``on_block(block, rating)`` receives each block's
:class:`~sim.billing.Rating` to write them out.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np

from sim.cdr import CDRTable, encode
from sim.errors import CDRFormatError

from .fees import CampaignInfo, money
from .plans import DAY_S, Plan
from .rater import CHUNK, _summary, check_unique_names, outcomes_known, rate, rate_prepared
from .results import PlanCalls, PlanSummaries, PlanSummary, Rating, exact_sum
from .tariff import week_offset_s
from .terms import COUNTS, TermResult, term_counts, window_keys, window_results

__all__ = ["ChunkRater", "ChunkedRating", "blocks", "rate_chunks"]

_NO_FEES = CampaignInfo()


@dataclass(frozen=True, slots=True, eq=False)
class ChunkedRating(PlanSummaries):
    """Per-plan summaries of a chunked rating (a :class:`~sim.billing.Rating` without
    its per-call arrays): :func:`~sim.billing.format_comparison` takes it as it is."""

    campaign: CampaignInfo
    summaries: Mapping[str, PlanSummary]
    plans: tuple[Plan, ...]
    calls: int
    blocks: int


def _rows(t: CDRTable, lo: int, hi: int) -> CDRTable:
    """Rows ``lo:hi`` of ``t`` as views (no copy)."""
    return CDRTable({k: v[lo:hi] for k, v in t.columns.items()}, t.categories, t.epoch,
                    t.tz, t.meta)


def blocks(chunks: Iterable[CDRTable], size: int = CHUNK) -> Iterator[CDRTable]:
    """The calls of ``chunks`` re-cut into tables of ``size`` rows (the last fewer):
    views into a chunk where a block lies within one, else the pieces concatenated.

    Chunks must share their epoch and zone (those of one file do).
    """
    held: list[CDRTable] = []
    count = 0
    first: CDRTable | None = None
    for chunk in chunks:
        if first is None:
            first = chunk
        elif chunk.epoch != first.epoch or chunk.tz != first.tz:
            raise CDRFormatError(f"chunked rating: a chunk's epoch/zone ({chunk.epoch}, "
                                 f"{chunk.tz}) differs from the first's ({first.epoch}, "
                                 f"{first.tz}); chunks must come from one table")
        n, pos = len(chunk), 0
        if held and n:
            pos = min(size - count, n)
            held.append(_rows(chunk, 0, pos))
            count += pos
            if count == size:
                yield CDRTable.concat(held)
                held, count = [], 0
        while n - pos >= size:
            yield _rows(chunk, pos, pos + size)
            pos += size
        if pos < n:
            held.append(_rows(chunk, pos, n))
            count += n - pos
    if held:
        yield held[0] if len(held) == 1 else CDRTable.concat(held)


class _CampaignCarry:
    """What :meth:`CampaignInfo.from_cdrs` needs, carried over the blocks."""

    def __init__(self) -> None:
        self.agents = np.zeros(0, dtype=np.int32)
        self.first = self.last = np.nan
        self.n = 0
        self.epoch = ""
        # peak concurrency sweep: starts so far, ends dropped, ends still live
        self.started = self.dropped = self.peak = 0
        self.live = np.zeros(0)
        self.max_start = -np.inf

    def add(self, cdrs: CDRTable) -> None:
        self.n += len(cdrs)
        self.epoch = cdrs.epoch
        agents = cdrs["agent_id"]
        self.agents = np.union1d(self.agents, agents[agents >= 0])
        start, end = cdrs["start"], cdrs["end"]
        ok = np.isfinite(start)
        if ok.any():
            self.first = np.fmin(self.first, start[ok].min())
            self.last = np.fmax(self.last, start[ok].max())
        ok &= np.isfinite(end)
        s = np.sort(start[ok])
        e = np.sort(np.maximum(end[ok], start[ok]))
        if not len(s):
            return
        if s[0] < self.max_start:
            raise CDRFormatError(
                "chunked rating without campaign=: the calls are not in dial order (a "
                f"chunk starts at {s[0]} s, before {self.max_start} s), so the peak "
                "concurrency cannot be estimated chunk by chunk; give campaign= (CLI: "
                "--seats, --channels, --numbers, --days) or sort the calls by start")
        ends = np.concatenate([self.live, e])
        ends.sort(kind="mergesort")
        live = (self.started + np.arange(1, len(s) + 1) - self.dropped
                - np.searchsorted(ends, s, side="left"))
        self.peak = max(self.peak, int(live.max()))
        self.started += len(s)
        self.max_start = s[-1]
        gone = int(np.searchsorted(ends, self.max_start, side="left"))
        self.dropped += gone
        self.live = ends[gone:]

    def info(self) -> CampaignInfo:
        days = 0
        if np.isfinite(self.first):
            off = week_offset_s(self.epoch) % DAY_S
            first, last = (np.floor((off + x) / DAY_S) for x in (self.first, self.last))
            days = int(last - first) + 1
        return CampaignInfo(seats=len(self.agents), channels=self.peak,
                            numbers=1 if self.n else 0, days=Decimal(days), estimated=True)


class _TermCarry:
    """One plan's traffic terms: per term, per window label, the summed counts."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.counts: list[dict[str, list[int]]] = [{} for _ in plan.traffic_terms]

    def add(self, cdrs: CDRTable, units: np.ndarray,
            keys: dict[tuple[str, str], tuple[np.ndarray, list[str]]]) -> None:
        answered = cdrs["disposition"] == encode("disposition", "ANSWERED")
        d = np.where(answered, cdrs["billsec"], 0)
        positive = answered & (d > 0)
        for term, carried in zip(self.plan.traffic_terms, self.counts, strict=True):
            wk = (term.window, term.zone)
            if wk not in keys:
                keys[wk] = window_keys(cdrs, *wk)
            index, labels = keys[wk]
            counts = term_counts(term, index, len(labels), d, answered, positive, units)
            for w, label in enumerate(labels):
                row = carried.setdefault(label, [0] * len(COUNTS))
                for k, name in enumerate(COUNTS):
                    row[k] += counts[name][w]

    def results(self, den: int) -> tuple[TermResult, ...]:
        out = []
        for term, carried in zip(self.plan.traffic_terms, self.counts, strict=True):
            # labels (YYYY-MM-DD, YYYY-MM-DD/week, YYYY-MM, campaign) sort by time
            labels = sorted(carried) or ["campaign"]
            rows = [carried.get(label, [0] * len(COUNTS)) for label in labels]
            counts = {name: [r[k] for r in rows] for k, name in enumerate(COUNTS)}
            out.append(window_results(term, labels, counts, den,
                                      lambda x, plan=self.plan: money(x, plan)))
        return tuple(out)


class _PeriodCarry:
    """Billing periods (bundles, volume tiers, minimum spend): the span of call days and,
    per plan and period, the summed charge units and billed seconds."""

    def __init__(self, plans: tuple[Plan, ...]) -> None:
        self.plans = [p for p in plans if p.bundle is not None or p.contract.tiers
                      or p.contract.min_monthly]
        self.lo = self.hi = np.nan
        self.epoch: str | None = None
        self.sums: dict[str, dict[int, list[int]]] = {p.name: {} for p in self.plans}

    def add(self, cdrs: CDRTable, calls: Mapping[str, PlanCalls]) -> None:
        if not self.plans or len(cdrs) == 0:
            return
        from .contract import call_periods, call_times

        self.epoch = cdrs.epoch
        t = call_times(cdrs)
        ok = t[np.isfinite(t)]
        if ok.size:
            self.lo = float(np.fmin(self.lo, ok.min()))
            self.hi = float(np.fmax(self.hi, ok.max()))
        by_anchor: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for plan in self.plans:
            anchor = plan.contract.period_start
            if anchor not in by_anchor:
                by_anchor[anchor] = call_periods(cdrs, anchor)
            k, timeless = by_anchor[anchor]
            k = np.where(timeless, TIMELESS, k)  # billed in the first period, known at the end
            pc = calls[plan.name]
            acc = self.sums[plan.name]
            for period in np.unique(k).tolist():
                m = k == period
                row = acc.setdefault(int(period), [0, 0])
                row[0] += exact_sum(pc.units[m])
                row[1] += exact_sum(pc.billed_s[m])

    def periods(self, plan: Plan, days: Decimal, den: int, totals: tuple[int, int]
                ) -> tuple[Any, ...]:
        if plan not in self.plans:
            return ()
        from .contract import _local_days, period_calendar, period_lines

        def rounder(x: Any) -> Decimal:
            return money(x, plan)

        if self.epoch is None:  # no calls: one period, as the whole-table pass has it
            return period_lines(plan, days, [totals[0]], den, [totals[1]], ["-"], [1],
                                rounder)
        lo, hi = (self.lo, self.hi) if np.isfinite(self.lo) else (0.0, 0.0)
        ends = _local_days(_EpochOnly(self.epoch), np.array([lo, hi]))  # type: ignore[arg-type]
        k0, labels, spans = period_calendar(int(ends[0]), int(ends[1]),
                                            plan.contract.period_start)
        acc = self.sums[plan.name]
        rows = [list(acc.get(k0 + i, [0, 0])) for i in range(len(labels))]
        extra = acc.get(TIMELESS, [0, 0])  # calls without a time: the first period's
        rows[0] = [rows[0][0] + extra[0], rows[0][1] + extra[1]]
        return period_lines(plan, days, [r[0] for r in rows], den, [r[1] for r in rows],
                            labels, spans, rounder)


#: Period key of calls with neither a dial nor an answer time (see contract.call_periods).
TIMELESS = -(1 << 62)


@dataclass(frozen=True, slots=True)
class _EpochOnly:
    """What :func:`~.contract._local_days` reads of a table: its epoch."""

    epoch: str


class ChunkRater:
    """:func:`rate_chunks` fed one chunk at a time: :meth:`add` each table of calls (in
    order), then :meth:`finish` with the campaign facts, which a streaming simulation
    knows only at the end (labour, the channels it held).

    Parameters are those of :func:`rate_chunks`.
    """

    def __init__(self, plans: Iterable[Plan], *, estimate_campaign: bool = True,
                 on_block: Callable[[CDRTable, Rating], None] | None = None,
                 block: int = CHUNK) -> None:
        plans = tuple(plans)
        check_unique_names(plans)
        self.plans = plans
        self.names = [p.name for p in plans]
        self.bare = tuple(dataclasses.replace(p, traffic_terms=()) if p.traffic_terms else p
                          for p in plans)
        self.billed = dict.fromkeys(self.names, 0)
        self.units = dict.fromkeys(self.names, 0)
        self.dens = dict.fromkeys(self.names, 1)
        self.terms = {p.name: _TermCarry(p) for p in plans if p.traffic_terms}
        #: The campaign estimate of :meth:`CampaignInfo.from_cdrs`, carried (its peak
        #: concurrency also serves a simulated run without a channel limit).
        self.carry = _CampaignCarry() if estimate_campaign else None
        self.periods = _PeriodCarry(plans)
        self.shared: dict[str, Any] = dict(calls=0, answered=0, contacts=0, conversions=0,
                                           talk_s=0.0)
        self.known = False
        self.n_blocks = 0
        self.on_block = on_block
        self.block = block
        self._held: list[CDRTable] = []
        self._count = 0
        #: Compiled plans and their lookup tables, built once and shared by the blocks.
        self._prepared: dict[Plan, Any] = {}
        self._first: tuple[str, str] | None = None

    def add(self, chunk: CDRTable) -> None:
        """Rate the calls of ``chunk`` (whole blocks now, the rest with the next)."""
        for table in self._blocks(chunk):
            self._rate(table)

    def _blocks(self, chunk: CDRTable) -> Iterator[CDRTable]:
        held = self._held
        if self._first is None:
            self._first = (chunk.epoch, chunk.tz)
        elif (chunk.epoch, chunk.tz) != self._first:
            raise CDRFormatError(f"chunked rating: a chunk's epoch/zone ({chunk.epoch}, "
                                 f"{chunk.tz}) differs from the first's ({self._first[0]}, "
                                 f"{self._first[1]}); chunks must come from one table")
        size = self.block
        n, pos = len(chunk), 0
        if held and n:
            pos = min(size - self._count, n)
            held.append(_rows(chunk, 0, pos))
            self._count += pos
            if self._count == size:
                yield CDRTable.concat(held)
                held.clear()
                self._count = 0
        while n - pos >= size:
            yield _rows(chunk, pos, pos + size)
            pos += size
        if pos < n:
            held.append(_rows(chunk, pos, n))
            self._count += n - pos

    def _rate(self, table: CDRTable) -> None:
        shared, names = self.shared, self.names
        self.n_blocks += 1
        r = rate_prepared(table, self.bare, campaign=_NO_FEES, prepared=self._prepared)
        shared["calls"] += len(table)
        if self.plans:
            s = r.summaries[names[0]]
            shared["answered"] += s.answered
            shared["contacts"] += s.contacts
            shared["conversions"] += s.conversions
            shared["talk_s"] += s.talk_s
        self.known = self.known or outcomes_known(table)
        keys: dict[tuple[str, str], Any] = {}
        for name in names:
            pc = r.calls[name]
            self.billed[name] += pc.billed_total_s
            self.units[name] += pc.units_total
            self.dens[name] = pc.den
            if name in self.terms:
                self.terms[name].add(table, pc.units, keys)
        if self.carry is not None:
            self.carry.add(table)
        self.periods.add(table, r.calls)
        if self.on_block is not None:
            self.on_block(table, r)

    def flush(self) -> None:
        """Rate the calls held for an unfinished block (the last one)."""
        if self._held:
            held, self._held, self._count = self._held, [], 0
            self._rate(held[0] if len(held) == 1 else CDRTable.concat(held))

    def finish(self, campaign: CampaignInfo | None = None) -> ChunkedRating:
        """The per-plan summaries (``campaign``: as for :func:`rate_chunks`)."""
        self.flush()
        shared = dict(self.shared)
        shared["outcomes_known"] = self.known or shared["calls"] == 0
        if campaign is None:
            if self.carry is None:
                raise ValueError("ChunkRater.finish: campaign= is needed without "
                                 "estimate_campaign")
            campaign = self.carry.info()
        empty = np.zeros(0, dtype=np.int64)
        summaries: dict[str, PlanSummary] = {}
        dens, names = self.dens, self.names
        for plan in self.plans:
            name = plan.name
            if self.n_blocks == 0:  # no calls: the denominators come from an empty rating
                dens[name] = rate(_empty_like(), [self.bare[names.index(name)]],
                                  campaign=_NO_FEES).calls[name].den
            pc = PlanCalls(plan=plan, billed_s=empty, units=empty, den=dens[name],
                           billed_total_s=self.billed[name], units_total=self.units[name])
            traffic = self.terms[name].results(dens[name]) if name in self.terms else ()
            summaries[name] = _summary(pc, campaign, shared, traffic,
                                       self.periods.periods(plan, campaign.days, dens[name],
                                                            (self.units[name],
                                                             self.billed[name])))
        return ChunkedRating(campaign=campaign, summaries=summaries, plans=self.plans,
                             calls=shared["calls"], blocks=self.n_blocks)


def rate_chunks(chunks: Iterable[CDRTable], plans: Iterable[Plan], *,
                campaign: CampaignInfo | None = None,
                on_block: Callable[[CDRTable, Rating], None] | None = None,
                block: int = CHUNK) -> ChunkedRating:
    """Rate calls given chunk by chunk under each plan, in memory bounded by a block.

    Parameters
    ----------
    chunks
        The calls, in order, as tables sharing epoch and zone (any sizes).
    plans
        Plans with unique names.
    campaign
        Seats, channels, numbers, days and labour for plan-level fees; None estimates
        them from the calls as :meth:`CampaignInfo.from_cdrs` would (see the module
        docstring for the one case this refuses).
    on_block
        Called with each block of (up to) :data:`~sim.billing.rater.CHUNK` calls and its
        rating (per-call billed seconds and charges, traffic terms left out): to write
        charges out as they are computed. Ratings are not kept.
    block
        Calls per block. The default cuts the blocks where the whole-table pass does,
        so that even the talk-time float sum is the same to the last bit; any other
        size gives the same money, counts and billed seconds (tests use small ones).

    Returns
    -------
    ChunkedRating
        Per-plan summaries equal to ``rate(CDRTable.concat(chunks), plans).summaries``.
    """
    rater = ChunkRater(plans, estimate_campaign=campaign is None, on_block=on_block,
                       block=block)
    for chunk in chunks:
        rater.add(chunk)
    return rater.finish(campaign)


def _empty_like() -> CDRTable:
    from sim.cdr import empty_columns, open_categories

    return CDRTable(empty_columns(0), open_categories())
