"""Writing CDR tables: native CSV (lossless) and Asterisk ``cdr_csv`` Master.csv.

Native CSV keeps everything: timestamps to the microsecond with the UTC offset of the
table's zone, durations to the microsecond (fixed point, trailing zeros dropped),
billsec and every other column exactly, and leading ``# key=value`` lines carry the
zone, the epoch, the label order of open categories (so codes survive a round trip)
and the table's meta. Its columns are formatted whole into bytes (:mod:`sim.csvtext`), with no
Python call per field.

Asterisk Master.csv is written through ``csv.writer`` (its quoting rules, a few
optional columns). It keeps what a carrier bills and what a PBX would log: whole-second
local timestamps (start, answer and end are floored), duration = whole seconds
started from start to end, billsec, disposition, ``dst`` = the dialled number (the
destination where it is unknown); the call_id goes in ``uniqueid`` and dialsim's own
columns in ``userfield`` as ``key=value;...``.
"""

from __future__ import annotations

import csv
import json
from itertools import repeat
from pathlib import Path
from typing import IO, Any

import numpy as np

from ..cdr import COLUMNS, CDRTable
from ..csvtext import fixed_us, integers, join_rows, labels
from ..output import atomic_write
from ._fields import OPEN_CATEGORIES, USERFIELD_KEYS, escape_label
from ._values import NAT, US_PER_S, format_times, get_zone, local_offsets_s

__all__ = ["NATIVE_MAGIC", "write_asterisk", "write_native"]

#: First line of a native file.
NATIVE_MAGIC = "# dialsim CDR, native CSV: one row per dial attempt"
_SLICE_ROWS = 65536
_MAX_VOCAB_IN_HEADER = 10_000
_TIMES = ("start", "answer", "connect", "end")


def _epoch_us(cdrs: CDRTable) -> int:
    return int(np.datetime64(cdrs.epoch, "us").astype(np.int64))


def _local_us(t_s: np.ndarray, epoch_us: int, *, floor: bool = False) -> np.ndarray:
    """Seconds from the epoch to local µs (``NAT`` for NaN); ``floor`` to whole s."""
    finite = np.isfinite(t_s)
    safe = np.where(finite, t_s, 0.0)
    us = np.floor(safe) * US_PER_S if floor else np.rint(safe * US_PER_S)
    return np.where(finite, us.astype(np.int64) + epoch_us, NAT)


def _labels(cdrs: CDRTable, name: str, rows: slice, escape: bool = False) -> list[str]:
    vocab = cdrs.vocabulary(name)
    if escape:
        vocab = tuple(escape_label(v) for v in vocab)
    return np.asarray(vocab, dtype=object)[cdrs[name][rows]].tolist()


def _header_lines(cdrs: CDRTable) -> list[str]:
    lines = [NATIVE_MAGIC, f"# tz={cdrs.tz}", f"# epoch={cdrs.epoch}"]
    for name in OPEN_CATEGORIES:
        vocab = cdrs.vocabulary(name)
        if len(vocab) <= _MAX_VOCAB_IN_HEADER:
            lines.append(f"# categories.{name}={json.dumps(list(vocab), ensure_ascii=False)}")
    try:
        meta = json.dumps(dict(cdrs.meta), ensure_ascii=False, sort_keys=True)
    except (TypeError, ValueError):
        meta = None  # not JSON-able: provenance stays with the in-memory table
    if meta is not None and len(meta) < 65_536:
        lines.append(f"# meta={meta}")
    return lines


def write_native(cdrs: CDRTable, path: str | Path) -> None:
    """Write ``cdrs`` as native CSV (see the module docstring), atomically.

    Times are written to the microsecond; so are durations (fixed point, trailing
    zeros dropped). Every column is formatted whole into bytes (:mod:`sim.csvtext`).
    """
    zone = get_zone(cdrs.tz)
    epoch_us = _epoch_us(cdrs)
    with atomic_write(path, "wb") as fh:
        fh.write(("\n".join(_header_lines(cdrs)) + "\n").encode("utf-8"))
        fh.write((",".join(c.name for c in COLUMNS) + "\n").encode("ascii"))
        for lo in range(0, len(cdrs), _SLICE_ROWS):
            fh.write(_native_rows(cdrs, slice(lo, lo + _SLICE_ROWS), zone, epoch_us))


def _native_rows(cdrs: CDRTable, rows: slice, zone: Any, epoch_us: int) -> bytes:
    """The CSV lines of ``cdrs[rows]``."""
    cols: list[np.ndarray] = []
    for c in COLUMNS:
        a = cdrs[c.name][rows]
        if c.name in _TIMES:
            cols.append(_time_text(a, zone, epoch_us))
        elif c.kind == "float":
            cols.append(fixed_us(a))
        elif c.kind == "cat":
            cols.append(labels(a, cdrs.vocabulary(c.name)))
        elif c.kind == "bool":
            cols.append(labels(a.astype(np.int8), ("0", "1")))
        else:
            cols.append(integers(a))
    return join_rows(cols)


def _time_text(t_s: np.ndarray, zone: Any, epoch_us: int) -> np.ndarray:
    """ISO text of times ``t_s`` (NUL-padded characters; all NUL where NaN).

    Only the times there are get formatted: most calls are never answered, so the
    answer and connect columns are mostly empty.
    """
    valid = ~np.isnan(t_s)
    some = not valid.all()
    us = _local_us(t_s[valid] if some else t_s, epoch_us)
    off = (local_offsets_s(us, zone) // 60).astype(np.int16)
    text: np.ndarray = format_times(us, offset_min=off, chars=True)  # type: ignore[assignment]
    if not some:
        return text
    out = np.zeros((len(t_s), text.shape[1]), dtype=np.uint8)
    out[valid] = text
    return out


def _userfields(cdrs: CDRTable, rows: slice) -> list[str]:
    template = ";".join(f"{k}={{}}" for k in USERFIELD_KEYS)
    args: list[list[Any]] = []
    for name in USERFIELD_KEYS.values():
        if name == "abandoned":
            args.append(cdrs[name][rows].astype(np.int8).tolist())
        elif cdrs[name].dtype.kind in "iu" and name in ("lead_id", "attempt", "agent_id"):
            args.append(cdrs[name][rows].tolist())
        else:
            args.append(_labels(cdrs, name, rows, escape=True))
    return list(map(template.format, *args))


def _dst(cdrs: CDRTable, rows: slice) -> list[str]:
    """The dialled number of each row, else its destination (prefix)."""
    number = _labels(cdrs, "number", rows)
    if not any(number):
        return _labels(cdrs, "destination", rows)
    return [n or d for n, d in zip(number, _labels(cdrs, "destination", rows), strict=True)]


def write_asterisk(cdrs: CDRTable, path: str | Path) -> None:
    """Write ``cdrs`` as an Asterisk Master.csv (18 columns), atomically."""
    epoch_us = _epoch_us(cdrs)
    with atomic_write(path) as fh:
        _write_asterisk_rows(cdrs, fh, epoch_us)


def _write_asterisk_rows(cdrs: CDRTable, fh: IO[str], epoch_us: int) -> None:
    # Asterisk quotes every text field and no number: QUOTE_NONNUMERIC does the same.
    writer = csv.writer(fh, lineterminator="\n", quoting=csv.QUOTE_NONNUMERIC)
    for lo in range(0, len(cdrs), _SLICE_ROWS):
        rows = slice(lo, lo + _SLICE_ROWS)
        start = _local_us(cdrs["start"][rows], epoch_us, floor=True)
        answer = _local_us(np.where(cdrs.answered[rows], cdrs["answer"][rows], np.nan),
                           epoch_us, floor=True)
        end = _local_us(cdrs["end"][rows], epoch_us, floor=True)
        span_us = (_local_us(cdrs["end"][rows], epoch_us)
                   - _local_us(cdrs["start"][rows], epoch_us))
        billsec = cdrs["billsec"][rows]
        duration = np.where((end == NAT) | (start == NAT), billsec,
                            np.maximum(-((-span_us) // US_PER_S), billsec))
        n = len(billsec)
        const = repeat
        cols: list[Any] = [
            const("", n), const("", n), _dst(cdrs, rows), const("dialsim", n),
            const("", n), const("", n), const("", n), const("Dial", n), const("", n),
            format_times(start, unit="s", sep=" "), format_times(answer, unit="s", sep=" "),
            format_times(end, unit="s", sep=" "), duration.tolist(), billsec.tolist(),
            _labels(cdrs, "disposition", rows), const("DOCUMENTATION", n),
            list(map(str, cdrs["call_id"][rows].tolist())), _userfields(cdrs, rows),
        ]
        writer.writerows(zip(*cols, strict=True))
