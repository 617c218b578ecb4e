"""Billsec against the call it bills: a billed time longer than the call is rejected.

A switch measures billsec on the same clock as the call's timestamps and duration, so
for an answered call ``billsec <= end - answer`` and ``billsec <= duration`` (start to
end), each up to 1 s of rounding: whole-second fields are each rounded from finer
times, and a ceiling of the talk time exceeds the difference of floored stamps by at
most 1 s. ``billsec <= talk_s`` likewise where a file gives the talk time. A row that
breaks one of these is **rejected** with its line, the values and the rule, not
clamped: the file contradicts itself and nothing tells which field is wrong (a corrupt
billsec of 6,000,000,000 s on a 567 s call, or a wrong end stamp). Billing such a row
by either field would put a guess in an invoice; a rejected row is visible in the
report (and an error under ``strict``), so the user decides.

The checks see each field as the file gives it, before anything is derived (negative
durations and an answer after the end are left to the rejections of
:func:`._build.derive`, which name them so):
``end - answer`` only where both stamps are in the file and have seconds (minute
stamps of a re-saved spreadsheet are re-derived from the durations instead), and
measured on the UTC clock (a call across a daylight-saving change is not an hour
longer or shorter than its stamps read).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from zoneinfo import ZoneInfo

import numpy as np

from ._build import RowChecks
from ._values import NAT, US_PER_S, local_offsets_s

__all__ = ["ROUNDING_S", "check_billsec", "field_labels"]

#: Rounding allowed between billsec and the times it is checked against (s).
ROUNDING_S = 1.0

_FIELDS = {
    "asterisk": {"billsec": "field 14 (billsec)", "duration": "field 13 (duration)"},
    "freeswitch": {"billsec": "field 9 (billsec)", "duration": "field 8 (duration)"},
}


def field_labels(fmt: str, mapping: Mapping[str, str]) -> dict[str, str]:
    """How messages name ``billsec``, ``duration`` and ``talk_s`` in a file of format
    ``fmt`` (header files: ``mapping`` = our column -> their header)."""
    if fmt in _FIELDS:
        return dict(_FIELDS[fmt])
    return {ours: ours if theirs == ours else f"column {theirs!r} ({ours})"
            for ours, theirs in mapping.items()}


def _s(x: float) -> str:
    return f"{x:,.6f}".rstrip("0").rstrip(".")


def _more_than(name: str, billsec: np.ndarray, what: str, label: str,
               given: np.ndarray) -> Callable[[int], str]:
    def reason(i: int) -> str:
        return (f"{name}: {_s(billsec[i])} s is more than {what} ({label}: "
                f"{_s(given[i])} s) + {ROUNDING_S:g} s rounding: billsec cannot exceed "
                "the call (not billed; check the export)")
    return reason


def check_billsec(raw: Mapping[str, np.ndarray], checks: RowChecks, zone: ZoneInfo,
                  labels: Mapping[str, str]) -> None:
    """Reject answered rows whose billsec exceeds their duration, talk time or
    ``end - answer`` by more than :data:`ROUNDING_S` (see the module docstring).

    ``raw`` is a converter's output (before :func:`._build.derive`): ``billsec``,
    ``duration`` and ``talk_s`` in float seconds (NaN: not given), ``answer`` and
    ``end`` local µs (``NAT``: not given), ``coarse`` minute-precision rows. The work
    is done on the answered rows only (a minority in a dialer's CDRs).
    """
    billsec = raw.get("billsec")
    if billsec is None:
        return
    rows = np.flatnonzero((raw["disposition"] == 0) & ~checks.bad)
    if not len(rows):
        return
    bill = billsec[rows]
    name = labels.get("billsec", "billsec")

    def reject(over: np.ndarray, reason: Callable[[int], str]) -> None:
        if over.any():
            mask = np.zeros(len(billsec), dtype=bool)
            mask[rows[over]] = True
            checks.reject(mask, reason)

    with np.errstate(invalid="ignore"):  # NaN: not given, never "over"
        for other, what in (("duration", "the call's duration"), ("talk_s", "its talk time")):
            given = raw.get(other)
            if given is None:
                continue
            g = given[rows]
            label = labels.get(other, other)
            reject((g >= 0) & (bill > g + ROUNDING_S), _more_than(name, billsec, what,
                                                                 label, given))
    answer, end = raw.get("answer"), raw.get("end")
    if answer is None or end is None:
        return
    a, e = answer[rows], end[rows]
    stamped = (a != NAT) & (e != NAT) & (e >= a) & ~checks.bad[rows]
    coarse = raw.get("coarse")
    if coarse is not None:
        stamped &= ~coarse[rows]
    if not stamped.any():
        return
    span_us = np.where(stamped, e - a, 0)
    if _changes_offset(zone, int(a[stamped].min()), int(e[stamped].max())):
        # on the UTC clock: a DST change is no call time
        both = local_offsets_s(np.concatenate([a, e]), zone)
        span_us -= (both[len(a):] - both[:len(a)]) * US_PER_S
    span = np.zeros(len(billsec))
    span[rows] = span_us / US_PER_S
    with np.errstate(invalid="ignore"):
        over = stamped & (bill > span[rows] + ROUNDING_S)
    reject(over, lambda i: (
        f"{name}: {_s(billsec[i])} s is more than end - answer ({_s(span[i])} s) + "
        f"{ROUNDING_S:g} s rounding: billsec cannot exceed the call (not billed; "
        "check the export)"))


_HOUR_US = 3600 * US_PER_S


def _changes_offset(zone: ZoneInfo, lo_us: int, hi_us: int) -> bool:
    """Whether ``zone``'s UTC offset changes between two local times (checked at every
    hour from one to the other: a zone changes on the hour or half hour, so a change
    inside an hour shows as a difference between its ends). Most blocks of a file see
    none, and their spans need no conversion."""
    if zone.key == "UTC" or zone.key.startswith("Etc/"):
        return False  # fixed offsets
    lo, hi = lo_us // _HOUR_US, hi_us // _HOUR_US + 1
    if hi - lo > 24 * 400:
        return True  # more than a year: assume it does
    offsets = local_offsets_s(np.arange(lo, hi + 1, dtype=np.int64) * _HOUR_US, zone)
    return bool(np.any(offsets != offsets[0]))
