"""Per-format block converters: CSV records of one block in, a raw column dict out.

Each converter checks the field count, converts the columns it knows with the
vectorised parsers of :mod:`._values`, rejects the rows it cannot read (naming the
column, what was expected and what was found), and hands the raw columns to
:func:`._build.derive`. Fields it does not use are ignored.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from zoneinfo import ZoneInfo

import numpy as np

from ._build import OPEN_CATEGORIES, Assembler, RowChecks
from ._fields import (
    BOOL_CODES,
    DISPOSITION_CODES,
    FIXED_CODES,
    FIXED_VOCABULARIES,
    FREESWITCH_FIELDS,
    USERFIELD_KEYS,
    cause_dispositions,
    normalise_label,
)
from ._values import (
    INT64_RANGE,
    INT_LIMITS,
    MAX_CALL_S,
    MISSING,
    NAT,
    NO_OFFSET,
    US_PER_S,
    Times,
    map_labels,
    parse_floats,
    parse_ints,
    parse_times,
    utc_to_local_us,
)

__all__ = ["AsteriskConverter", "FreeSwitchConverter", "HeaderConverter", "Raw"]

Raw = dict[str, np.ndarray]
_TS_EXAMPLE = "a timestamp such as 2026-03-02 09:00:03"
_DISPOSITION_TEXT = "ANSWERED, NO ANSWER, BUSY or FAILED"


def column(rows: Sequence[list[str]], i: int, min_len: int) -> list[str]:
    """Field ``i`` of every row (``''`` where a row is shorter); ``min_len`` is the
    shortest row length of the block, so the common case runs at C speed."""
    if i < min_len:
        return list(map(itemgetter(i), rows))
    return [r[i] if len(r) > i else "" for r in rows]


def check_widths(rows: list[list[str]], checks: RowChecks, lo: int,
                 what: str) -> tuple[list[list[str]], np.ndarray, int]:
    """Reject rows with fewer than ``lo`` fields; return the rows ready for extraction
    (rejected rows replaced by empty ones), the field count of each row, and the
    shortest row length left."""
    widths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
    short = widths < lo
    if short.any():
        checks.reject(short, lambda i: f"expected {what}, found {widths[i]} fields "
                      "(truncated line or broken quoting?)")
        blank = [""] * lo
        rows = [blank if s else r for r, s in zip(rows, short.tolist(), strict=True)]
    return rows, widths, int(np.where(short, lo, widths).min()) if len(widths) else lo


def in_zone(times: Times, zone: ZoneInfo) -> np.ndarray:
    """Local µs in ``zone``: values written with a UTC offset are converted to the
    zone's wall clock (exact, also across DST); values without one are kept."""
    has = times.offset_min != NO_OFFSET
    if not has.any():
        return times.us
    out = times.us.copy()
    utc = times.us[has] - times.offset_min[has].astype(np.int64) * 60 * US_PER_S
    out[has] = utc_to_local_us(utc, zone)
    return out


def _times(raw: Raw, name: str, values: list[str], checks: RowChecks, zone: ZoneInfo,
           where: str, coarse: np.ndarray | None = None) -> np.ndarray:
    t = parse_times(values)
    checks.reject(t.bad, lambda i: f"{where}: expected {_TS_EXAMPLE}, found {values[i]!r}")
    raw[name] = in_zone(t, zone)
    if coarse is not None:
        coarse |= t.coarse
    return t.missing


def _seconds(raw: Raw, name: str, values: list[str], checks: RowChecks, where: str) -> None:
    v, bad, _missing = parse_floats(values, MAX_CALL_S)
    checks.reject(bad, lambda i: f"{where}: expected a number of seconds (0 to "
                  f"{MAX_CALL_S:,}), found {values[i]!r}")
    raw[name] = v


def _whole_seconds(raw: Raw, name: str, values: list[str], checks: RowChecks,
                   where: str) -> None:
    """A required duration in whole seconds (Asterisk, FreeSWITCH)."""
    v, bad, missing = parse_ints(values, -MAX_CALL_S, MAX_CALL_S)

    def reason(i: int) -> str:
        return f"{where}: expected whole seconds (0 to {MAX_CALL_S:,}), found {values[i]!r}"

    checks.reject(bad, reason)
    checks.reject(missing, f"{where} missing")
    raw[name] = v.astype(np.float64)


def _ints(raw: Raw, name: str, values: list[str], checks: RowChecks, where: str) -> None:
    lo, hi = INT_LIMITS.get(name, INT64_RANGE)
    v, bad, missing = parse_ints(values, lo, hi)
    checks.reject(bad, lambda i: f"{where}: expected an integer from {lo} to {hi}, "
                  f"found {values[i]!r}")
    raw[name] = np.where(missing, NAT, v)


def _fixed(raw: Raw, name: str, values: list[str], checks: RowChecks, where: str) -> None:
    codes = map_labels(values, FIXED_CODES[name], normalise_label)
    missing = codes < 0
    unknown = missing & np.fromiter((v.strip() not in MISSING for v in values), dtype=bool,
                                    count=len(values)) if missing.any() else missing
    labels = ", ".join(FIXED_VOCABULARIES[name])
    checks.reject(unknown, lambda i: f"{where}: expected one of {labels}, found {values[i]!r}")
    raw[name] = codes


def _bool(raw: Raw, name: str, values: list[str], checks: RowChecks, where: str) -> None:
    codes = map_labels(values, BOOL_CODES, str.strip)
    missing = codes < 0
    if missing.any():
        unknown = missing & np.fromiter((v.strip() not in MISSING for v in values),
                                        dtype=bool, count=len(values))
        checks.reject(unknown, lambda i: f"{where}: expected 0/1 or true/false, "
                      f"found {values[i]!r}")
    raw[name] = codes


def _dispositions(values: list[str], checks: RowChecks, where: str,
                  answer_stamped: np.ndarray | None, reject: bool = True) -> np.ndarray:
    """Disposition codes; hang-up causes in the disposition column (FreeSWITCH's
    "asterisk" template) are read by the cause rule when an answer column exists."""
    codes = map_labels(values, DISPOSITION_CODES, normalise_label)
    unknown = codes < 0
    if unknown.any() and answer_stamped is not None:
        idx = np.flatnonzero(unknown)
        sub = [values[i] for i in idx.tolist()]
        codes[idx] = cause_dispositions(sub, answer_stamped[idx], known_only=True)
        unknown = codes < 0
    if not reject:
        return codes
    checks.reject(unknown, lambda i: f"{where}: expected {_DISPOSITION_TEXT}, "
                  f"found {values[i]!r}" if values[i].strip() not in MISSING
                  else f"{where}: disposition missing")
    return codes


# -- Asterisk cdr_csv -------------------------------------------------------------------
@dataclass(slots=True)
class AsteriskConverter:
    """Asterisk ``cdr_csv`` Master.csv rows (16 to 21 fields, no header).

    ``dst`` becomes the destination; ``uniqueid`` the call_id when it is an integer
    (as written by dialsim; real uniqueids like ``1706368044.0`` are not, and rows are
    then numbered in file order); a dialsim userfield restores lead, attempt, agent,
    answered_by, amd, abandoned, hangup_by, result, stage, number_type and segment.
    """

    zone: ZoneInfo
    assembler: Assembler
    notes: Callable[[str, int], None]

    def __call__(self, rows: list[list[str]], checks: RowChecks) -> Raw:
        rows, widths, min_len = check_widths(rows, checks, 16,
                                             "16 to 21 fields (Asterisk cdr_csv)")
        self.notes("{n} rows have more than 21 fields: the fields after the 21st are "
                   "ignored", int((widths > 21).sum()))
        n = len(rows)
        raw: Raw = {}
        coarse = np.zeros(n, dtype=bool)
        for name, i in (("start", 9), ("answer", 10), ("end", 11)):
            _times(raw, name, column(rows, i, min_len), checks, self.zone,
                   f"field {i + 1} ({name})", coarse)
        raw["coarse"] = coarse
        for name, i in (("duration", 12), ("billsec", 13)):
            _whole_seconds(raw, name, column(rows, i, min_len), checks,
                           f"field {i + 1} ({name})")
        raw["disposition"] = _dispositions(column(rows, 14, min_len), checks,
                                           "field 15 (disposition)", raw["answer"] != NAT)
        raw["destination"] = self.assembler.ids("destination", column(rows, 2, min_len))
        if int(widths.max(initial=0)) > 16:
            # only plain digits are ours (dialsim writes the call_id); Asterisk's own
            # uniqueids ("1706368044.12") leave rows numbered in file order
            uid = [u if u.isascii() and u.isdigit() and len(u) <= 18 else ""
                   for u in column(rows, 16, min_len)]
            ids, _bad, missing = parse_ints(uid)
            raw["call_id"] = np.where(missing, NAT, ids)
        if int(widths.max(initial=0)) > 17:
            parse_userfields(column(rows, 17, min_len), raw, checks, self.assembler,
                             "field 18 (userfield)")
        return raw


def parse_userfields(values: list[str], raw: Raw, checks: RowChecks, asm: Assembler,
                     where: str) -> None:
    """Read dialsim ``key=value;...`` userfields into ``raw``; other userfields are
    ignored. A whole block written by dialsim is split in one pass over its text."""
    n = len(values)
    keys = tuple(USERFIELD_KEYS)
    k = len(keys)
    cols: dict[str, list[str]] | None = None
    if n and values[0].startswith("lead="):
        parts = ";".join(values).replace("=", ";").split(";")
        if len(parts) == 2 * k * n and all(
                parts[2 * j::2 * k].count(key) == n for j, key in enumerate(keys)):
            cols = {key: parts[2 * j + 1::2 * k] for j, key in enumerate(keys)}
    if cols is None:
        ours = [i for i, v in enumerate(values) if v.startswith("lead=")]
        if not ours:
            return
        cols = {key: [""] * n for key in keys}
        for i in ours:
            for item in values[i].split(";"):
                key, sep, value = item.partition("=")
                if sep and key in cols:
                    cols[key][i] = value
    for key, name in USERFIELD_KEYS.items():
        vals = cols[key]
        label = f"{where} {key}"
        if name in ("lead_id", "attempt", "agent_id"):
            _ints(raw, name, vals, checks, label)
        elif name == "abandoned":
            _bool(raw, name, vals, checks, label)
        elif name in OPEN_CATEGORIES:
            raw[name] = asm.ids(name, vals)
        else:
            _fixed(raw, name, vals, checks, label)


# -- FreeSWITCH mod_cdr_csv -------------------------------------------------------------
@dataclass(slots=True)
class FreeSwitchConverter:
    """FreeSWITCH ``mod_cdr_csv`` rows, template "example" (15 fields; 13 to 15 read,
    longer templates that begin the same way too).

    Answered is decided from ``hangup_cause`` and ``answer_stamp`` (see
    :mod:`._fields`). The destination is ``destination_number``, or
    ``caller_id_number`` when the destination is an application (``&park()``,
    ``&``: a call originated by a dialer, whose A-leg is the called party).
    """

    zone: ZoneInfo
    assembler: Assembler
    notes: Callable[[str, int], None]
    seen_uuids: dict[str, int] = field(default_factory=dict)

    def __call__(self, rows: list[list[str]], checks: RowChecks) -> Raw:
        rows, widths, min_len = check_widths(
            rows, checks, 13, "13 to 15 fields (FreeSWITCH cdr_csv example template)")
        self.notes("{n} rows have more than 15 fields: the fields after the 15th are "
                   "ignored", int((widths > 15).sum()))
        n = len(rows)
        raw: Raw = {}
        coarse = np.zeros(n, dtype=bool)
        for name, i in (("start", 4), ("answer", 5), ("end", 6)):
            _times(raw, name, column(rows, i, min_len), checks, self.zone,
                   f"field {i + 1} ({FREESWITCH_FIELDS[i]})", coarse)
        raw["coarse"] = coarse
        for name, i in (("duration", 7), ("billsec", 8)):
            _whole_seconds(raw, name, column(rows, i, min_len), checks,
                           f"field {i + 1} ({name})")
        causes = column(rows, 9, min_len)
        disp = cause_dispositions(causes, raw["answer"] != NAT)
        checks.reject(disp < 0, lambda i: "field 10 (hangup_cause): expected a hang-up cause "
                      f"such as NORMAL_CLEARING, found {causes[i]!r}")
        raw["disposition"] = disp
        dest = column(rows, 2, min_len)
        app = [i for i, d in enumerate(dest) if d.startswith("&")]
        if app:
            callee = column(rows, 1, min_len)
            dest = list(dest)
            for i in app:
                dest[i] = callee[i]
            self.notes("{n} rows dialled an application (destination_number '&...'): "
                       "caller_id_number taken as the destination", len(app))
        raw["destination"] = self.assembler.ids("destination", dest)
        before = len(self.seen_uuids)
        uuids = column(rows, 10, min_len)
        for u, line in zip(uuids, checks.lines.tolist(), strict=True):
            self.seen_uuids.setdefault(u, line)
        self.notes("{n} rows repeat a uuid seen on an earlier line (all kept: duplicated "
                   "by a copy-paste?)", n - (len(self.seen_uuids) - before))
        return raw


# -- header CSV: native and mapped -------------------------------------------------------
#: Columns a header CSV can map, by kind. ``duration`` (start to end, s) and
#: ``hangup_cause`` (FreeSWITCH / Q.850) are import-only helpers.
TIME_COLUMNS = ("start", "answer", "connect", "end")
SECONDS_COLUMNS = ("duration", "billsec", "ring_s", "talk_s", "wait_s", "wrap_s")
INT_COLUMNS = ("call_id", "lead_id", "attempt", "agent_id")
MAPPABLE: tuple[str, ...] = (
    *INT_COLUMNS, *TIME_COLUMNS, *SECONDS_COLUMNS, "disposition", "hangup_cause",
    *FIXED_VOCABULARIES, "abandoned", *OPEN_CATEGORIES,
)


@dataclass(slots=True)
class HeaderConverter:
    """Rows of a CSV with a header line: native dialsim files and mapped exports.

    Parameters
    ----------
    positions
        Our column name -> field index in the file.
    headers
        The header names (for messages).
    header_line
        Line number of the header.
    """

    zone: ZoneInfo
    assembler: Assembler
    positions: Mapping[str, int]
    headers: Sequence[str]
    header_line: int

    def _where(self, name: str) -> str:
        header = self.headers[self.positions[name]]
        return f"column {header!r}" + (f" ({name})" if header != name else "")

    def __call__(self, rows: list[list[str]], checks: RowChecks) -> Raw:
        width = len(self.headers)
        widths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
        wrong = widths != width
        if wrong.any():
            checks.reject(wrong, lambda i: f"expected {width} fields as in the header (line "
                          f"{self.header_line}), found {widths[i]} (broken quoting or a "
                          "truncated line?)")
            blank = [""] * width
            rows = [blank if w else r for r, w in zip(rows, wrong.tolist(), strict=True)]
        n = len(rows)
        raw: Raw = {}
        coarse = np.zeros(n, dtype=bool)
        pos = self.positions
        get = {name: list(map(itemgetter(i), rows)) for name, i in pos.items()}
        for name in TIME_COLUMNS:
            if name in pos:
                _times(raw, name, get[name], checks, self.zone, self._where(name), coarse)
        raw["coarse"] = coarse
        for name in SECONDS_COLUMNS:
            if name in pos:
                _seconds(raw, name, get[name], checks, self._where(name))
        for name in INT_COLUMNS:
            if name in pos:
                _ints(raw, name, get[name], checks, self._where(name))
        for name in FIXED_VOCABULARIES:
            if name in pos:
                _fixed(raw, name, get[name], checks, self._where(name))
        if "abandoned" in pos:
            _bool(raw, "abandoned", get["abandoned"], checks, self._where("abandoned"))
        for name in OPEN_CATEGORIES:
            if name in pos:
                raw[name] = self.assembler.ids(name, get[name])
        stamped = raw["answer"] != NAT if "answer" in raw else np.zeros(n, dtype=bool)
        if "disposition" in pos:
            raw["disposition"] = _dispositions(get["disposition"], checks,
                                               self._where("disposition"), stamped,
                                               reject="hangup_cause" not in pos)
        if "hangup_cause" in pos:
            causes = get["hangup_cause"]
            by_cause = cause_dispositions(causes, stamped)
            if "disposition" in raw:  # the disposition wins where it is given
                by_cause = np.where(raw["disposition"] >= 0, raw["disposition"], by_cause)
            checks.reject(by_cause < 0, lambda i: f"{self._where('hangup_cause')}: expected a "
                          f"hang-up cause such as NORMAL_CLEARING, found {causes[i]!r}")
            raw["disposition"] = by_cause
        return raw
