"""Writing CDR tables: native CSV (lossless) and Asterisk ``cdr_csv`` Master.csv.

Native CSV keeps everything: timestamps to the microsecond with the UTC offset of the
table's zone, durations to the microsecond (fixed point, trailing zeros dropped),
billsec and every other column exactly. The header is the first line, so pandas, the
csv module and spreadsheets read it with their defaults; the zone, the epoch, the label
order of open categories (so codes survive a round trip) and the table's meta go to
the sidecar ``<name>.meta.json`` beside it (:mod:`._sidecar`). Its columns are
formatted whole into bytes (:mod:`sim.csvtext`), with no Python call per field.

Asterisk Master.csv is written through ``csv.writer`` (its quoting rules, a few
optional columns). It keeps what a carrier bills and what a PBX would log: whole-second
local timestamps (start, answer and end are floored), duration = whole seconds
started from start to end, billsec, disposition, ``dst`` = the dialled number (the
destination where it is unknown); the call_id goes in ``uniqueid`` and dialsim's own
columns in ``userfield`` as ``key=value;...``.
"""

from __future__ import annotations

import csv
import re
from itertools import repeat
from pathlib import Path
from typing import IO, Any

import numpy as np

from ..cdr import COLUMNS, CDRTable, empty_columns
from ..csvtext import fixed_us, integers, join_rows, labels
from ..output import atomic_write
from ._fields import USERFIELD_KEYS, escape_label
from ._sidecar import sidecar_data, sidecar_path, write_sidecar
from ._values import NAT, US_PER_S, format_times, get_zone, local_offsets_s

__all__ = ["NativeCDRWriter", "one_line_labels", "write_asterisk", "write_native"]

_SLICE_ROWS = 65536
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


def write_native(cdrs: CDRTable, path: str | Path) -> None:
    """Write ``cdrs`` as native CSV and its sidecar (see the module docstring).

    Times are written to the microsecond; so are durations (fixed point, trailing
    zeros dropped). Every column is formatted whole into bytes (:mod:`sim.csvtext`).
    Both files are written atomically; the sidecar is renamed into place just before
    the CSV, and names the CSV's size so that a sidecar left beside another CSV (a
    crash between the two renames) is recognised and ignored when read.
    """
    path = Path(path)
    zone = get_zone(cdrs.tz)
    epoch_us = _epoch_us(cdrs)
    vocabs: dict[str, tuple[str, ...]] = {}
    written: dict[str, dict[str, str]] = {}
    for c in COLUMNS:
        if c.kind == "cat":
            vocabs[c.name], altered = one_line_labels(cdrs.vocabulary(c.name))
            if altered:
                written[c.name] = altered
    with atomic_write(path, "wb") as fh:
        size = fh.write((",".join(c.name for c in COLUMNS) + "\n").encode("ascii"))
        for lo in range(0, len(cdrs), _SLICE_ROWS):
            size += fh.write(_native_rows(cdrs, slice(lo, lo + _SLICE_ROWS), zone, epoch_us,
                                          vocabs))
        write_sidecar(sidecar_path(path), sidecar_data(cdrs, path.name, size, written))


class NativeCDRWriter:
    """Write native CSV CDRs as tables arrive (a streaming run's chunks), with the
    sidecar at :meth:`close`: the same bytes as :func:`write_native` of the tables
    concatenated, given the whole table's category order at the close.

    The CSV and its sidecar appear only when closed without error.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.rows = 0
        self.first: CDRTable | None = None
        self.written: dict[str, dict[str, str]] = {}
        self._file = atomic_write(self.path, "wb")
        self._fh = self._file.__enter__()
        self.size = self._fh.write((",".join(c.name for c in COLUMNS) + "\n").encode("ascii"))

    def write(self, cdrs: CDRTable) -> None:
        """Append the rows of ``cdrs``."""
        if self.first is None:
            self.first = cdrs
        elif (cdrs.epoch, cdrs.tz) != (self.first.epoch, self.first.tz):
            raise ValueError(f"{self.path}: a chunk's epoch/zone differs from the first's")
        zone, epoch_us = get_zone(cdrs.tz), _epoch_us(cdrs)
        vocabs: dict[str, tuple[str, ...]] = {}
        for c in COLUMNS:
            if c.kind == "cat":
                vocabs[c.name], altered = one_line_labels(cdrs.vocabulary(c.name))
                if altered:
                    self.written.setdefault(c.name, {}).update(altered)
        for lo in range(0, len(cdrs), _SLICE_ROWS):
            self.size += self._fh.write(_native_rows(cdrs, slice(lo, lo + _SLICE_ROWS), zone,
                                                     epoch_us, vocabs))
        self.rows += len(cdrs)

    def close(self, error: BaseException | None = None, *,
              categories: dict[str, tuple[str, ...]] | None = None,
              epoch: str = "1970-01-01T00:00:00", tz: str = "UTC",
              meta: dict[str, Any] | None = None) -> None:
        """Write the sidecar (``categories``: the whole table's label order; zone,
        epoch and meta of the first table, or those given when none came) and move
        both files into place; after an ``error``, remove them."""
        try:
            if error is None:
                from ..cdr import open_categories

                first = self.first
                cats = dict(first.categories if first is not None else open_categories())
                cats.update(categories or {})
                like = CDRTable(empty_columns(0), cats, first.epoch if first else epoch,
                                first.tz if first else tz,
                                dict(first.meta) if first else dict(meta or {}))
                data = sidecar_data(like, self.path.name, self.size, self.written)
                data["csv"]["rows"] = self.rows
                write_sidecar(sidecar_path(self.path), data)
        except BaseException as exc:
            own = exc
        else:
            own = None
        error = error or own
        if error is None:
            self._file.__exit__(None, None, None)
        else:
            self._file.__exit__(type(error), error, error.__traceback__)
        if own is not None:
            raise own


_BREAKS = re.compile("[\r\n\0]")


def one_line_labels(vocab: tuple[str, ...]) -> tuple[tuple[str, ...], dict[str, str]]:
    """Labels as a CSV line can hold them, and ``{written: label}`` for those changed.

    A record is one line (:mod:`._text`), and NUL pads the formatted columns
    (:mod:`sim.csvtext`): a CR, LF or NUL in a label (a scenario's stage name, an
    unescaped userfield) is written as a space, made unique with `` (2)``, `` (3)``, ...
    if that text is taken; the sidecar keeps the originals, so the round trip stays
    exact.
    """
    joined = "".join(vocab)
    if "\r" not in joined and "\n" not in joined and "\0" not in joined:
        return vocab, {}
    taken = set(vocab)
    out: list[str] = []
    altered: dict[str, str] = {}
    for label in vocab:
        if not _BREAKS.search(label):
            out.append(label)
            continue
        base = text = _BREAKS.sub(" ", label)
        k = 2
        while text in taken:
            text, k = f"{base} ({k})", k + 1
        taken.add(text)
        altered[text] = label
        out.append(text)
    return tuple(out), altered


def _native_rows(cdrs: CDRTable, rows: slice, zone: Any, epoch_us: int,
                 vocabs: dict[str, tuple[str, ...]]) -> bytes:
    """The CSV lines of ``cdrs[rows]`` (``vocabs``: the labels as written)."""
    cols: list[np.ndarray] = []
    for c in COLUMNS:
        a = cdrs[c.name][rows]
        if c.name in _TIMES:
            cols.append(_time_text(a, zone, epoch_us))
        elif c.kind == "float":
            cols.append(fixed_us(a))
        elif c.kind == "cat":
            cols.append(labels(a, vocabs[c.name]))
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
