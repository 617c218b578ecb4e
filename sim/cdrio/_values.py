"""Column converters: text columns in, numpy arrays and per-row validity masks out.

Each converter tries the whole column at C speed first (numpy parses ISO timestamps and
integers from a list of strings in ~0.1 us per value) and falls back to a per-value
parser only for the values the fast path cannot take (other layouts, missing values,
garbage), so a clean million-row file never runs Python code per value, and a dirty
one still gets an exact verdict for every row.

Timestamps become int64 microseconds of *local wall-clock* time since 1970-01-01
(naive), with the UTC offset written beside them (if any) kept separately. Missing
values are ``NAT`` (the int64 minimum) and flagged ``missing``; unreadable ones are
flagged ``bad`` so the caller can reject the row with a reason.
"""

from __future__ import annotations

import functools
import re
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import compress, repeat
from operator import itemgetter
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

from ..csvtext import glue
from ..errors import CDRFormatError

__all__ = [
    "Factorizer",
    "MISSING",
    "NAT",
    "NO_OFFSET",
    "Times",
    "format_times",
    "get_zone",
    "local_offsets_s",
    "map_labels",
    "parse_floats",
    "parse_ints",
    "parse_times",
    "utc_to_local_us",
]

#: Texts that mean "no value" in CDR exports (database dumps write NULL or \N).
MISSING: frozenset[str] = frozenset({"", "NULL", "null", "Null", "\\N", "NaN", "nan", "None"})
NAT: int = int(np.iinfo(np.int64).min)
NO_OFFSET: int = -32768  # int16 marker: the timestamp carried no UTC offset
US_PER_S = 1_000_000
US_PER_DAY = 86_400 * US_PER_S

_EPOCH_NAIVE = datetime(1970, 1, 1)
_EPOCH_UTC = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)
_YEAR_1000_US = (datetime(1000, 1, 1) - _EPOCH_NAIVE) // _ONE_US
_YEAR_10000_US = (datetime(9999, 12, 31, 23, 59, 59) - _EPOCH_NAIVE) // _ONE_US + US_PER_S

# Accepted timestamp layouts beyond numpy's ISO: Y-M-D or Y/M/D with 1-2 digit month,
# day and hour (spreadsheets rewrite "2020-02-10 22:41:07" as "2020/2/10 22:41"),
# optional seconds and fraction, optional "Z" / "+08:00" / "+0800" / "+08".
_TS_RE = re.compile(
    r"\s*(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T]+)(\d{1,2}):(\d{2})"
    r"(?::(\d{2})(?:[.,](\d{1,9}))?)?\s*(Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?\s*\Z",
    re.IGNORECASE,
)
_OFF_RE = re.compile(r"\s*(Z|UTC|GMT|([+-])(\d{2})(?::?(\d{2}))?)\s*\Z", re.IGNORECASE)


# -- timestamps --------------------------------------------------------------------------
@dataclass(slots=True)
class Times:
    """A parsed timestamp column.

    Attributes
    ----------
    us
        Local wall-clock time, int64 microseconds since 1970-01-01 (``NAT`` if none).
    offset_min
        UTC offset written with the value, int16 minutes (``NO_OFFSET`` if none).
    coarse
        The text had no seconds (minute precision, e.g. re-saved by a spreadsheet).
    bad
        Text present but not a timestamp.
    missing
        No value (empty, ``NULL``).
    """

    us: np.ndarray
    offset_min: np.ndarray
    coarse: np.ndarray
    bad: np.ndarray
    missing: np.ndarray


def _offset_minutes(text: str) -> int | None:
    m = _OFF_RE.match(text)
    if m is None:
        return None
    if m.group(2) is None:
        return 0
    minutes = int(m.group(3)) * 60 + int(m.group(4) or 0)
    if minutes > 18 * 60 or int(m.group(4) or 0) >= 60:
        return None
    return -minutes if m.group(2) == "-" else minutes


def _parse_one(text: str) -> tuple[int, int, bool] | None:
    """One timestamp by the tolerant layout: ``(local us, offset min, coarse)`` or None."""
    m = _TS_RE.match(text)
    if m is None:
        return None
    y, mo, d, hh, mi, ss, frac, off = m.groups()
    try:
        dt = datetime(int(y), int(mo), int(d), int(hh), int(mi), int(ss or 0))
    except ValueError:
        return None
    us = (dt - _EPOCH_NAIVE) // _ONE_US + (int((frac + "000000")[:6]) if frac else 0)
    if off is None:
        offset = NO_OFFSET
    else:
        parsed = _offset_minutes(off)
        if parsed is None:
            return None
        offset = parsed
    return us, offset, ss is None


def _np_times(values: Sequence[str]) -> np.ndarray | None:
    """numpy's ISO parser over a whole list, or None if any value is not for it."""
    try:
        with warnings.catch_warnings():
            # numpy warns (and will fail) on timezone suffixes: those go the slow way.
            warnings.simplefilter("error")
            return np.array(values, dtype="datetime64[us]").view(np.int64)
    except (ValueError, TypeError, OverflowError, Warning):
        return None


def parse_times(values: Sequence[str]) -> Times:
    """Parse a column of timestamps (see :class:`Times`).

    Fast paths: ``YYYY-MM-DD HH:MM:SS`` (19 characters, Asterisk, FreeSWITCH, most
    PBX exports) and ``YYYY-MM-DDTHH:MM:SS.ffffff+HH:MM`` (32, dialsim native).
    Everything else goes through the tolerant per-value parser.
    """
    n = len(values)
    us = np.full(n, NAT, dtype=np.int64)
    offset = np.full(n, NO_OFFSET, dtype=np.int16)
    coarse = np.zeros(n, dtype=bool)
    bad = np.zeros(n, dtype=bool)
    lens = np.fromiter(map(len, values), dtype=np.int64, count=n)
    missing = lens == 0
    slow = ~missing

    m19 = lens == 19
    if m19.any():
        sub = values if m19.all() else list(compress(values, m19))
        parsed = _np_times(sub)
        if parsed is not None:
            us[m19] = parsed
            slow &= ~m19
    m32 = lens == 32
    if m32.any():
        sub = values if m32.all() else list(compress(values, m32))
        parsed = _np_times(list(map(itemgetter(slice(0, 26)), sub)))
        tails = list(map(itemgetter(slice(26, None)), sub))
        if parsed is not None:
            codes, labels = _factorize_once(tails)
            offs = np.array([_offset_minutes(t) if t[:1] in "+-" else None for t in labels],
                            dtype=object)
            if all(o is not None for o in offs):
                us[m32] = parsed
                offset[m32] = np.asarray(offs.tolist(), dtype=np.int16)[codes]
                slow &= ~m32

    if slow.any():
        for i in np.flatnonzero(slow).tolist():
            text = values[i]
            if text.strip() in MISSING:
                missing[i] = True
                continue
            one = _parse_one(text)
            if one is None:
                bad[i] = True
            else:
                us[i], offset[i], coarse[i] = one
    return Times(us, offset, coarse, bad, missing)


def _civil(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Year, month, day of days since 1970-01-01 (proleptic Gregorian, vectorised;
    H. Hinnant's days_from_civil inverse)."""
    z = days + 719_468
    era = z // 146_097
    doe = z - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = np.where(mp < 10, mp + 3, mp - 9)
    year = yoe + era * 400 + (month <= 2)
    return year, month, day


_TWO_DIGITS = np.array([[48 + i // 10, 48 + i % 10] for i in range(100)], dtype=np.uint8)


@functools.cache
def _clock_text() -> np.ndarray:
    """``HH:MM:SS`` of every second of a day, (86400, 8) ASCII codes."""
    secs = np.arange(86_400)
    out = np.empty((86_400, 8), dtype=np.uint8)
    out[:, 0:2] = _TWO_DIGITS[secs // 3600]
    out[:, 2] = out[:, 5] = ord(":")
    out[:, 3:5] = _TWO_DIGITS[secs // 60 % 60]
    out[:, 6:8] = _TWO_DIGITS[secs % 60]
    return out


@functools.cache
def _dot_three_digits() -> np.ndarray:
    """``.000`` .. ``.999`` as (1000, 4) ASCII codes."""
    out = np.empty((1000, 4), dtype=np.uint8)
    out[:, 0] = ord(".")
    out[:, 1:] = _three_digits()
    return out


@functools.cache
def _three_digits() -> np.ndarray:
    """``000`` .. ``999`` as (1000, 3) ASCII codes."""
    i = np.arange(1000)
    return np.stack([48 + i // 100, 48 + i // 10 % 10, 48 + i % 10], axis=1).astype(np.uint8)


def format_times(us: np.ndarray, *, unit: Literal["us", "s"] = "us", sep: str = "T",
                 offset_min: np.ndarray | None = None, chars: bool = False) -> list[str]:
    """Format local µs timestamps as ISO text, ``''`` where ``us`` is ``NAT``.

    Digits are computed with integer arithmetic on whole columns into one ASCII
    buffer that is decoded and split once (several times faster than
    ``numpy.datetime_as_string`` followed by ``tolist``).

    Parameters
    ----------
    us
        int64 local wall-clock microseconds since 1970-01-01.
    unit
        ``"us"`` (``...:SS.ffffff``) or ``"s"`` (``...:SS``, truncated).
    sep
        Date/time separator, ``"T"`` or ``" "``.
    offset_min
        UTC offset of each value in minutes, appended as ``+HH:MM`` if given.
    chars
        Return the ``(n, width)`` uint8 character array instead (NUL for no time), for
        :func:`sim.csvtext.join_rows`.
    """
    n = len(us)
    if n == 0:
        return np.zeros((0, 1), np.uint8) if chars else []  # type: ignore[return-value]
    valid = us != NAT
    if np.any(valid & ((us < _YEAR_1000_US) | (us >= _YEAR_10000_US))):
        # years outside 1000..9999 change the text width: rare, done plainly
        text = np.datetime_as_string(np.where(valid, us, 0).astype("datetime64[us]"), unit=unit)
        strs = [str(s).replace("T", sep) if v else ""
                for s, v in zip(text.tolist(), valid.tolist(), strict=True)]
        if offset_min is not None:
            strs = [s + _offset_text(int(o)) if s else s
                    for s, o in zip(strs, offset_min.tolist(), strict=True)]
        if chars:
            return np.frombuffer(  # type: ignore[return-value]
                b"".join(s.encode().ljust(40, b"\0") for s in strs), np.uint8).reshape(n, 40)
        return strs
    u = np.where(valid, us, 0)
    days, rem = np.divmod(u, US_PER_DAY)
    secs, frac = np.divmod(rem, US_PER_S)
    # Dates: a CDR file spans few days, so each day's text is made once and gathered.
    d_lo = int(days.min())
    span = np.arange(d_lo, int(days.max()) + 1, dtype=np.int64)
    year, month, day = _civil(span)
    date_text = np.empty((len(span), 11), dtype=np.uint8)
    date_text[:, 0:2] = _TWO_DIGITS[year // 100]
    date_text[:, 2:4] = _TWO_DIGITS[year % 100]
    date_text[:, 4] = date_text[:, 7] = ord("-")
    date_text[:, 5:7] = _TWO_DIGITS[month]
    date_text[:, 8:10] = _TWO_DIGITS[day]
    date_text[:, 10] = ord(sep)
    # 1-D gathers of whole fixed-width texts (``V`` dtypes), glued side by side once:
    # several times faster than 2-D fancy indexing and slice assignment
    pieces = [_rows(date_text, days - d_lo), _rows(_clock_text(), secs)]
    if unit == "us":
        hi, lo = np.divmod(frac, 1000)
        pieces += [_rows(_dot_three_digits(), hi), _rows(_three_digits(), lo)]
    if offset_min is not None:
        om = np.where(valid, offset_min, offset_min[valid][0] if valid.any() else 0)
        o_lo = int(om.min())
        offs = np.arange(o_lo, int(om.max()) + 1)  # a zone has few offsets, minutes apart
        table = np.frombuffer("".join(_offset_text(int(o)) for o in offs.tolist()).encode(),
                              dtype=np.uint8).reshape(len(offs), 6)
        pieces.append(_rows(table, om.astype(np.int64) - o_lo))
    if chars:  # the character array itself, NUL where there is no time
        buf = glue(pieces)
        if not valid.all():
            buf[~valid] = 0
        return buf  # type: ignore[return-value]
    # one newline-separated buffer, decoded and split once
    buf = glue([*pieces, np.full((n, 1), 10, dtype=np.uint8)])
    out = buf.tobytes().decode("ascii").split("\n")
    out.pop()
    if not valid.all():
        for i in np.flatnonzero(~valid).tolist():
            out[i] = ""
    return out


def _rows(table: np.ndarray, index: np.ndarray) -> np.ndarray:
    """``table[index]`` for a 2-D ``uint8`` table, gathered as whole rows."""
    table = np.ascontiguousarray(table)
    rows = table.view(f"V{table.shape[1]}").ravel()
    return rows.take(index).view(np.uint8).reshape(len(index), table.shape[1])


def _offset_text(minutes: int) -> str:
    sign = "-" if minutes < 0 else "+"
    h, m = divmod(abs(minutes), 60)
    return f"{sign}{h:02d}:{m:02d}"


# -- time zones ------------------------------------------------------------------------
def get_zone(tz: str) -> ZoneInfo:
    """The IANA zone ``tz``, or :class:`CDRFormatError` naming it."""
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise CDRFormatError(f"tz: must be an IANA time zone such as 'Asia/Shanghai' "
                             f"(got {tz!r})") from exc


def _per_hour(us: np.ndarray, offset_at: Callable[[int], int]) -> np.ndarray:
    """Offsets (s) of many instants, computed once per hour touched (zones change on
    the hour or half hour; an hour whose two ends differ is done value by value)."""
    out = np.zeros(len(us), dtype=np.int64)
    valid = us != NAT
    if not valid.any():
        return out
    hour_us = 3600 * US_PER_S
    hours = np.where(valid, us, 0) // hour_us
    vh = hours[valid]
    lo, hi = int(vh.min()), int(vh.max())
    if hi - lo <= 20_000:
        keys = np.arange(lo, hi + 1, dtype=np.int64)
        index = hours - lo
    else:
        keys, inverse = np.unique(vh, return_inverse=True)
        index = np.zeros(len(us), dtype=np.int64)
        index[valid] = inverse.reshape(-1)
    first = np.array([offset_at(k * hour_us) for k in keys.tolist()], dtype=np.int64)
    last = np.array([offset_at((k + 1) * hour_us - 1) for k in keys.tolist()], dtype=np.int64)
    out[valid] = first[index[valid]]
    mixed = valid & (first != last)[np.where(valid, index, 0)]
    for i in np.flatnonzero(mixed).tolist():
        out[i] = offset_at(int(us[i]))
    return out


def local_offsets_s(local_us: np.ndarray, zone: ZoneInfo) -> np.ndarray:
    """UTC offset (s) of zone ``zone`` at each local wall-clock time (fold 0)."""
    def at(u: int) -> int:
        off = (_EPOCH_NAIVE + timedelta(microseconds=u)).replace(tzinfo=zone).utcoffset()
        return int(off.total_seconds()) if off is not None else 0
    return _per_hour(local_us, at)


def utc_to_local_us(utc_us: np.ndarray, zone: ZoneInfo) -> np.ndarray:
    """Local wall-clock µs in ``zone`` of UTC instants (µs since 1970, ``NAT`` kept)."""
    def at(u: int) -> int:
        off = (_EPOCH_UTC + timedelta(microseconds=u)).astimezone(zone).utcoffset()
        return int(off.total_seconds()) if off is not None else 0
    offs = _per_hour(utc_us, at)
    return np.where(utc_us != NAT, utc_us + offs * US_PER_S, NAT)


# -- numbers ---------------------------------------------------------------------------
def _int_one(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        x = float(text)
    except ValueError:
        return None
    return int(x) if x.is_integer() else None


def parse_ints(values: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Integers: ``(int64 values, bad, missing)``; missing and bad values are 0."""
    n = len(values)
    try:
        return (np.array(values, dtype=np.int64), np.zeros(n, dtype=bool),
                np.zeros(n, dtype=bool))
    except (ValueError, TypeError, OverflowError):
        pass
    out = np.zeros(n, dtype=np.int64)
    bad = np.zeros(n, dtype=bool)
    missing = np.zeros(n, dtype=bool)
    for i, text in enumerate(values):
        if text.strip() in MISSING:
            missing[i] = True
            continue
        v = _int_one(text)
        if v is None or not -(2**63) < v < 2**63:
            bad[i] = True
        else:
            out[i] = v
    return out, bad, missing


def parse_floats(values: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Finite floats: ``(float64 values, bad, missing)``; missing and bad are NaN."""
    n = len(values)
    try:
        out = np.array(values, dtype=np.float64)
    except (ValueError, TypeError):
        out = np.full(n, np.nan)
        for i, text in enumerate(values):
            if text.strip() in MISSING:
                continue
            try:
                out[i] = float(text)
            except ValueError:
                out[i] = np.inf  # marks bad below
    missing = np.isnan(out)
    bad = np.isinf(out)
    out[bad] = np.nan
    return out, bad, missing


# -- labels ----------------------------------------------------------------------------
def _factorize_once(values: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """Codes and distinct labels of ``values``, in order of first appearance."""
    first: dict[str, int] = {}
    n = len(values)
    pos = np.fromiter(map(first.setdefault, values, range(n)), dtype=np.int64, count=n)
    _, inv = np.unique(pos, return_inverse=True)
    return inv.reshape(-1), list(first)


def _decode_labels(raw: np.ndarray) -> list[str]:
    if len(raw) == 0:
        return []
    if int(np.frombuffer(raw.tobytes(), dtype=np.uint8).max(initial=0)) < 128:
        return raw.astype(f"U{max(raw.dtype.itemsize, 1)}").tolist()  # ASCII: one cast
    return [b.decode("utf-8", "dialsim-latin1") for b in raw.tolist()]


def _digit_keys(labels: list[str]) -> np.ndarray | None:
    """Sort keys ``value * 32 + length`` if every label is a short ASCII digit string
    (the same keys the fast Asterisk path makes, so blocks of both paths mix)."""
    if not all(lab.isascii() and (lab.isdigit() or lab == "") and len(lab) <= 17
               for lab in labels):
        return None
    return np.array([int(lab or "0") * 32 + len(lab) for lab in labels], dtype=np.int64)


class Factorizer:
    """Codes for an open label column (destination, stage, ...), built block by block.

    Each block contributes its distinct labels (as UTF-8 byte strings, in order of
    first appearance) and codes into them; :meth:`finish` deduplicates all blocks'
    labels at once with ``numpy.unique`` - no Python work per label even for a
    million distinct dialled numbers - and orders them by first appearance in the file,
    with ``''`` at code 0.
    """

    def __init__(self) -> None:
        self.blocks: list[np.ndarray] = []
        self.keys: list[np.ndarray | None] = []
        self.size = 0

    def add(self, codes: np.ndarray, labels: np.ndarray,
            keys: np.ndarray | None = None) -> np.ndarray:
        """Slot ids of a block whose rows have ``codes`` into its ``labels`` (S array);
        ``keys`` are optional int64 stand-ins of the labels for sorting (equal keys
        exactly when labels are equal: digit strings)."""
        self.blocks.append(labels)
        self.keys.append(keys)
        ids = codes.astype(np.int64) + self.size
        self.size += len(labels)
        return ids

    def ids(self, values: Sequence[str]) -> np.ndarray:
        """Slot ids (int64) of a block of label texts."""
        codes, labels = _factorize_once(values)
        raw = np.array([lab.encode("utf-8", "surrogatepass") for lab in labels], dtype=bytes)
        if len(labels) == 0:
            raw = np.zeros(0, dtype="S1")
        return self.add(codes, raw, _digit_keys(labels))

    def finish(self, ids: np.ndarray, *, vocabulary: Iterable[str] = (),
               transform: Callable[[str], str] | None = None,
               dtype: str = "int32") -> tuple[np.ndarray, tuple[str, ...]]:
        """Dense codes of the slot ``ids`` of the accepted rows (-1: none, ``''``) and
        their labels: ``''`` first, then ``vocabulary``, then new labels by first
        appearance; ``transform`` cleans labels (texts it makes equal are merged)."""
        head = list(dict.fromkeys(["", *vocabulary]))
        ids = np.where(ids < 0, -1, ids)  # any negative id: no label
        if not np.any(ids >= 0) or not self.blocks:
            return np.zeros(len(ids), dtype=dtype), tuple(head)
        slots_all = np.concatenate(self.blocks)
        used = np.zeros(len(slots_all), dtype=bool)
        used[ids[ids >= 0]] = True
        slots = np.flatnonzero(used)
        by_key = all(k is not None for k in self.keys)
        sort_on = (np.concatenate([k for k in self.keys if k is not None])[slots] if by_key
                   else slots_all[slots])
        uniq, first, inv = np.unique(sort_on, return_index=True, return_inverse=True)
        order = np.argsort(first, kind="stable")
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        labels = _decode_labels(slots_all[slots][first[order]])
        if transform is not None:
            labels = list(map(transform, labels))
            final = list(dict.fromkeys([*head, *labels]))
            index = dict(zip(final, range(len(final)), strict=True))
            code_of = np.fromiter(map(index.__getitem__, labels), dtype=np.int64,
                                  count=len(labels))
        else:  # labels are distinct: only those already in ``head`` need a lookup
            code_of = np.empty(len(labels), dtype=np.int64)
            new = np.ones(len(labels), dtype=bool)
            # the known labels found among the block labels: one vectorised lookup
            # (a round trip may bring a vocabulary of 10^5 dialled numbers)
            raws = [h.encode("utf-8", "surrogatepass") for h in head]
            known: list[tuple[int, int | bytes]]
            if by_key:  # keys are digit strings' value * 32 + length
                known = [(c, int(r or b"0") * 32 + len(r)) for c, r in enumerate(raws)
                         if (r.isdigit() or r == b"") and len(r) <= 17]
                probes = np.array([k for _, k in known], dtype=np.int64)
            else:
                known = [(c, r) for c, r in enumerate(raws)
                         if len(r) <= uniq.dtype.itemsize and not r.endswith(b"\0")]
                probes = np.array([r for _, r in known], dtype=uniq.dtype)
            if known:
                h_codes = np.array([c for c, _ in known], dtype=np.int64)
                j = np.minimum(np.searchsorted(uniq, probes), len(uniq) - 1)
                hit = uniq[j] == probes  # np.unique output is sorted
                code_of[rank[j[hit]]] = h_codes[hit]
                new[rank[j[hit]]] = False
            code_of[new] = len(head) + np.arange(int(new.sum()))
            final = head + list(compress(labels, new.tolist()))
        slot_code = np.zeros(len(slots_all) + 1, dtype=np.int64)  # the extra slot: -1 -> ''
        slot_code[slots] = code_of[rank[inv.reshape(-1)]]
        return slot_code[ids].astype(dtype), tuple(final)


def map_labels(values: Sequence[str], table: Mapping[str, int],
               normalise: Callable[[str], str] | None = None) -> np.ndarray:
    """Codes of ``values`` in a fixed ``table`` (int16, -1 where unknown).

    Values not found as written are looked up again after ``normalise`` (e.g. upper
    case, ``_`` for spaces), once per distinct value.
    """
    n = len(values)
    codes = np.fromiter(map(table.get, values, repeat(-1)), dtype=np.int16, count=n)
    if normalise is not None:
        unknown = np.flatnonzero(codes < 0)
        if len(unknown):
            cache: dict[str, int] = {}
            for i in unknown.tolist():
                v = values[i]
                c = cache.get(v)
                if c is None:
                    c = cache[v] = table.get(normalise(v), -1)
                codes[i] = c
    return codes
