"""From parsed columns to a CDR table: derive what a file leaves out, reject what
cannot be completed, and assemble the accepted rows block by block.

Every importer turns its text columns into a *raw* dict of arrays with the CDR column
names (plus ``duration``, start to end in s, and ``coarse``, minute-precision
timestamps). Missing values are marked (``NAT`` times, NaN durations, -1 codes), and
:func:`derive` fills them by the rules a telecom engineer would apply:

* answered is decided by the disposition alone (an IVR can answer a NO ANSWER call:
  such rows keep billsec 0 and no answer time, and the report counts them);
* ``start`` may come from ``end - duration``; ``end`` from ``start + duration``, or
  ``answer + talk``;
* talk time is ``talk_s``, else ``billsec``, else ``end - answer``; ``answer`` may come
  from ``end - talk``, or ``start + ring_s``;
* ``billsec`` is the file's (a fractional billsec is rounded up), else ``ceil(talk)``;
* minute-precision timestamps (a re-saved spreadsheet) keep their start but take
  answer and end from the durations, which are exact.

A row that still lacks what rating needs, or holds negative durations or times out of
order, is rejected with its line and the reason.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..cdr import ANSWERED_BY, COLUMNS, CDRTable
from ._fields import OPEN_CATEGORIES
from ._report import Rejections
from ._values import NAT, US_PER_DAY, US_PER_S, Factorizer

__all__ = [
    "Assembler",
    "OPEN_CATEGORIES",
    "RowChecks",
    "derive",
]

_TIMES = ("start", "answer", "connect", "end")
_DURATIONS = ("ring_s", "talk_s", "wait_s", "wrap_s")
_INT_DEFAULTS = {"lead_id": -1, "attempt": 0, "agent_id": -1}
_UNKNOWN_BY = ANSWERED_BY.index("unknown")


@dataclass(slots=True)
class RowChecks:
    """Rejection bookkeeping for one block: a row is rejected once, for its first fault.

    Parameters
    ----------
    lines
        1-based file line of each row of the block.
    rejections
        Where the rejections go.
    """

    lines: np.ndarray
    rejections: Rejections
    bad: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.bad = np.zeros(len(self.lines), dtype=bool)

    def reject(self, mask: np.ndarray, reason: str | Callable[[int], str]) -> None:
        """Reject the rows of ``mask`` not yet rejected; ``reason`` may depend on the
        row index (e.g. to quote the value found)."""
        new = mask & ~self.bad
        if not new.any():
            return
        idx = np.flatnonzero(new)
        self.bad |= new
        if isinstance(reason, str):
            self.rejections.add_rows(self.lines[idx], [reason] * len(idx))
        else:
            self.rejections.add_rows(self.lines[idx], [reason(i) for i in idx.tolist()])


def _us(seconds: np.ndarray) -> np.ndarray:
    """Float seconds to int64 µs (NaN to 0: callers mask)."""
    return np.rint(np.nan_to_num(seconds, nan=0.0, posinf=0.0, neginf=0.0) * US_PER_S
                   ).astype(np.int64)


def _ceil_s(us: np.ndarray) -> np.ndarray:
    return -((-us) // US_PER_S)


def _negative(name: str, values: np.ndarray) -> Callable[[int], str]:
    def reason(i: int) -> str:
        return f"{name}: a duration must not be negative (found {values[i]:g} s)"
    return reason


def derive(raw: dict[str, np.ndarray], checks: RowChecks, notes: Rejections) -> None:
    """Complete ``raw`` in place (see the module docstring); reject incomplete rows.

    ``raw`` must hold ``disposition`` (int16 codes, -1 already rejected); every other
    column is optional.
    """
    n = len(checks.lines)
    nat = np.full(n, NAT, dtype=np.int64)
    nan = np.full(n, np.nan)
    answered = raw["disposition"] == 0
    start = raw.get("start", nat).copy()
    answer = raw.get("answer", nat).copy()
    end = raw.get("end", nat).copy()
    duration = raw.get("duration", nan)
    billsec = raw.get("billsec", nan)
    talk = raw.get("talk_s", nan).copy()
    ring = raw.get("ring_s", nan).copy()

    for name in ("duration", "billsec", *_DURATIONS):
        arr = raw.get(name)
        if arr is not None:
            checks.reject(arr < 0, _negative(name, arr))

    has_dur = ~np.isnan(duration)
    coarse = raw.get("coarse", np.zeros(n, dtype=bool))
    if coarse.any():
        redo = coarse & has_dur
        answer[redo & (answer != NAT)] = NAT
        end[redo] = NAT
        notes.tally("{n} rows have timestamps without seconds (re-saved by a spreadsheet?): "
                    "start kept to the minute, answer and end derived from start + "
                    "(duration - billsec) and start + duration", int(coarse.sum()))

    # start
    miss = start == NAT
    fix = miss & (end != NAT) & has_dur
    if fix.any():
        start[fix] = end[fix] - _us(duration)[fix]
        notes.tally("start derived as end - duration for {n} rows", int(fix.sum()))
    checks.reject(miss & ~fix, "start time missing (and no end time with a duration to "
                  "derive it)")

    # talk time of answered calls: talk_s, else billsec (what the switch measured)
    talk = np.where(np.isnan(talk), billsec, talk)
    # end
    miss = end == NAT
    from_dur = miss & has_dur & (start != NAT)
    if from_dur.any():
        end[from_dur] = start[from_dur] + _us(duration)[from_dur]
        notes.tally("end derived as start + duration for {n} rows",
                    int((from_dur & ~coarse).sum()))
    from_talk = miss & ~from_dur & answered & (answer != NAT) & ~np.isnan(talk)
    end[from_talk] = answer[from_talk] + _us(talk)[from_talk]
    from_ring = miss & ~from_dur & ~from_talk & ~answered & ~np.isnan(ring) & (start != NAT)
    end[from_ring] = start[from_ring] + _us(ring)[from_ring]
    checks.reject(end == NAT, "end time missing (and no duration to derive it)")

    # answered calls: talk from the timestamps if nothing else, answer from end - talk
    need = answered & np.isnan(talk) & (answer != NAT) & (end != NAT)
    talk[need] = (end[need] - answer[need]) / US_PER_S
    miss = answered & (answer == NAT)
    from_end = miss & ~np.isnan(talk) & (end != NAT)
    if from_end.any():
        answer[from_end] = end[from_end] - _us(talk)[from_end]
        notes.tally("answer time derived as end - billsec for {n} answered rows",
                    int((from_end & ~coarse).sum()))
    from_ring = miss & ~from_end & ~np.isnan(ring) & (start != NAT)
    answer[from_ring] = start[from_ring] + _us(ring)[from_ring]
    checks.reject(answered & ((answer == NAT) | np.isnan(talk)),
                  "answered call without billsec, talk time or answer and end times")

    # unanswered calls: no answer time, no talk, billsec 0 - whatever the file says
    un = ~answered
    billed_un = un & ~checks.bad & ((billsec > 0) | (talk > 0))
    notes.tally("{n} unanswered rows (by disposition) carry billsec > 0 (answered by an "
                "IVR or the PBX, not the callee): billsec set to 0, not billed",
                int(billed_un.sum()))
    answer[un] = NAT
    talk[un] = 0.0
    frac = ~np.isnan(billsec) & (billsec != np.floor(billsec)) & answered
    notes.tally("{n} fractional billsec values rounded up to whole seconds",
                int(frac.sum()))
    bill = np.where(np.isnan(billsec), _ceil_s(_us(talk)), np.ceil(np.nan_to_num(billsec)))
    bill = np.where(answered, bill, 0).astype(np.int64)

    ok = ~checks.bad
    checks.reject(ok & (end < start), lambda i: "end before start "
                  f"({(end[i] - start[i]) / US_PER_S:g} s)")
    checks.reject(ok & answered & (answer < start), "answer before start")
    checks.reject(ok & answered & (answer > end), "answer after end")

    ring = np.where(np.isnan(ring), (np.where(answered, answer, end) - start) / US_PER_S, ring)
    raw.update(start=start, answer=answer, end=end, talk_s=talk, ring_s=ring, billsec=bill)
    raw.setdefault("connect", nat)
    raw.setdefault("wait_s", np.zeros(n))
    raw.setdefault("wrap_s", np.zeros(n))
    for name in ("wait_s", "wrap_s"):
        raw[name] = np.nan_to_num(raw[name], nan=0.0)


class Assembler:
    """Accumulates the accepted rows of each block; builds the :class:`CDRTable`."""

    def __init__(self) -> None:
        self.blocks: list[dict[str, np.ndarray]] = []
        self.sizes: list[int] = []
        self.factorizers: dict[str, Factorizer] = {k: Factorizer() for k in OPEN_CATEGORIES}
        self.n = 0

    def ids(self, name: str, values: list[str]) -> np.ndarray:
        """Label slot ids of an open categorical column (see :class:`Factorizer`)."""
        return self.factorizers[name].ids(values)

    def label_ids(self, name: str, codes: np.ndarray, labels: np.ndarray,
                  keys: np.ndarray | None = None) -> np.ndarray:
        """Slot ids from a block's own codes and distinct byte labels (fast path)."""
        return self.factorizers[name].add(codes, labels, keys)

    def add(self, raw: Mapping[str, np.ndarray], keep: np.ndarray) -> None:
        """Keep the rows ``keep`` of a derived block."""
        self.blocks.append({k: v[keep] for k, v in raw.items()})
        self.sizes.append(int(keep.sum()))
        self.n += self.sizes[-1]

    def column(self, name: str) -> np.ndarray | None:
        """A column over all blocks; blocks without it (e.g. no userfield there) give
        "missing": ``NAT`` for int64, -1 for codes, NaN for floats."""
        parts = [b.get(name) for b in self.blocks]
        known = [p for p in parts if p is not None]
        if not known:
            return None
        dtype = known[0].dtype
        fill = (np.nan if dtype.kind == "f" else False if dtype.kind == "b"
                else NAT if dtype == np.int64 else -1)
        return np.concatenate([p if p is not None else np.full(size, fill, dtype=dtype)
                               for p, size in zip(parts, self.sizes, strict=True)])

    def first_start_us(self) -> int | None:
        """Earliest start among accepted rows (local µs), None if no rows."""
        start = self.column("start")
        return None if start is None or len(start) == 0 else int(start.min())

    def finish(self, *, tz: str, epoch: str | None, meta: dict[str, Any],
               vocabularies: Mapping[str, tuple[str, ...]] | None = None,
               transforms: Mapping[str, Callable[[str], str]] | None = None,
               number_is_destination: bool = False) -> CDRTable:
        """The table of all accepted rows.

        Parameters
        ----------
        tz
            Zone of the wall-clock times.
        epoch
            Naive local ISO datetime of time 0; default midnight of the first start.
        meta
            Provenance for ``CDRTable.meta``.
        vocabularies
            Known label order of open categoricals (keeps codes stable in round trips).
        transforms
            Clean-up of raw labels per open column (e.g. unescaping).
        number_is_destination
            Where no ``number`` column was read, the dialled number is the destination
            as written (a switch's ``dst``), not unknown.
        """
        n = self.n
        vocabularies = vocabularies or {}
        transforms = transforms or {}
        if epoch is None:
            first = self.first_start_us()
            epoch_us = 0 if first is None else first // US_PER_DAY * US_PER_DAY
            epoch = str(np.datetime64(epoch_us, "us").astype("datetime64[s]"))
        epoch_us = int(np.datetime64(epoch, "us").astype(np.int64))

        cols: dict[str, np.ndarray] = {}
        disp = self.column("disposition")
        disp = np.zeros(0, dtype=np.int16) if disp is None else disp
        answered = disp == 0
        for c in COLUMNS:
            v = self.column(c.name)
            if c.name in _TIMES:
                us = np.full(n, NAT, dtype=np.int64) if v is None else v
                cols[c.name] = np.where(us == NAT, np.nan, (us - epoch_us) / US_PER_S)
            elif c.name == "call_id":
                pos = np.arange(n, dtype=np.int64)
                cols[c.name] = pos if v is None else np.where(v == NAT, pos, v)
            elif c.name in _INT_DEFAULTS:
                d = _INT_DEFAULTS[c.name]
                cols[c.name] = (np.full(n, d, dtype=c.dtype) if v is None
                                else np.where(v == NAT, d, v).astype(c.dtype))
            elif c.kind == "float":
                cols[c.name] = np.zeros(n) if v is None else v.astype(np.float64)
            elif c.name == "billsec":
                cols[c.name] = np.zeros(n, dtype=np.int64) if v is None else v.astype(np.int64)
            elif c.name == "abandoned":
                cols[c.name] = np.zeros(n, dtype=bool) if v is None else v == 1
            elif c.name in OPEN_CATEGORIES:
                continue
            else:  # fixed vocabularies
                if v is None:
                    v = np.full(n, -1, dtype=np.int16)
                default = np.where(answered, _UNKNOWN_BY, 0) if c.name == "answered_by" else 0
                cols[c.name] = np.where(v < 0, default, v).astype(c.dtype)
        cats: dict[str, tuple[str, ...]] = {}
        for name in OPEN_CATEGORIES:
            ids = self.column(name)
            dtype = next(c.dtype for c in COLUMNS if c.name == name)
            if ids is None:
                cols[name] = np.zeros(n, dtype=dtype)
                cats[name] = ("", *[x for x in vocabularies.get(name, ()) if x])
            else:
                cols[name], cats[name] = self.factorizers[name].finish(
                    ids, vocabulary=vocabularies.get(name, ()),
                    transform=transforms.get(name), dtype=dtype)
        if number_is_destination and self.column("number") is None:
            cols["number"] = cols["destination"].astype(np.int32)
            cats["number"] = cats["destination"]
        return CDRTable(cols, cats, epoch, tz, meta)
