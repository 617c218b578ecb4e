"""Reading one side of an audit from a file: its CDRs and, for the carrier, the charges.

The CDRs come through :func:`sim.read_cdrs` (every format and mapping it knows). The
carrier's ``charge`` (and an optional ``currency``) column is not a CDR column: it is
read here from the same file and joined to the accepted rows by their line numbers
(rows read = accepted + rejected, so the accepted lines are the record lines less the
rejected ones; a table that keeps ``source_line`` gives them directly).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from sim.cdrio import ImportReport, read_cdrs
from sim.errors import CDRFormatError

from .errors import AuditError
from .inputs import Side, parse_charges

__all__ = ["read_side", "respell"]


def respell(exc: CDRFormatError, side: str) -> CDRFormatError:
    """``exc`` with the reader's ``--format``, ``--map`` and ``--where`` spelt as
    ``dialsim audit`` spells them for ``side`` (``--theirs-format``, ...); ``--tz`` is
    the same for both sides."""
    return CDRFormatError(re.sub(r"--(format|map|where)\b", rf"--{side}-\1", str(exc)))

_EXTRA = ("charge", "currency")


def _fold(name: str) -> str:
    return "".join(name.split()).casefold()


def _record_lines(path: Path, header: bool) -> tuple[list[int], list[str], list[str]]:
    """1-based line numbers and texts of the records (after the header, if any), and
    the header's fields."""
    lines: list[int] = []
    texts: list[str] = []
    head: list[str] = []
    seen_header = not header
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as fh:
        for no, text in enumerate(fh, 1):
            body = text.rstrip("\r\n")
            if not body.strip():
                continue
            if not seen_header:
                if body.startswith("#"):
                    continue
                head = [h.strip() for h in next(csv.reader([body]), [])]
                seen_header = True
                continue
            lines.append(no)
            texts.append(body)
    return lines, texts, head


def _column(head: list[str], name: str, given: str | None, path: Path) -> int | None:
    folded = {_fold(h): i for i, h in reversed(list(enumerate(head)))}
    if given is None:
        return folded.get(name)
    i = folded.get(_fold(given))
    if i is None:
        raise AuditError(f"{path}: --map {name}={given!r}: no such column in the header "
                         f"(columns: {', '.join(head)})")
    return i


def read_side(path: str | Path, *, format: str = "auto",
              mapping: Mapping[str, str] | None = None, where: Sequence[str] = (),
              tz: str | None = None, strict: bool = False,
              charges: bool = True, side: str | None = None) -> tuple[Side, ImportReport]:
    """Read one side of an audit: its CDRs, line numbers and (``charges``) charge column.

    Parameters
    ----------
    path
        The CDR file.
    format, tz, strict
        As for :func:`sim.read_cdrs`.
    mapping
        Our column -> their header; may also map ``charge`` and ``currency``.
    where
        ``COLUMN=VALUE`` / ``COLUMN!=VALUE`` filters (needs a reader that has them).
    charges
        Look for a ``charge`` column (mapped, or a header named ``charge``).
    side
        ``"ours"`` or ``"theirs"``: the reader's errors name the options of ``dialsim
        audit`` for that side (``--theirs-format``, not ``--format``).

    Raises
    ------
    AuditError
        A mapped charge column is missing, a charge is not a decimal, currencies differ.
    """
    path = Path(path)
    mapping = dict(mapping or {})
    extra = {k: mapping.pop(k) for k in _EXTRA if k in mapping}
    try:
        imported = read_cdrs(path, format=format,  # type: ignore[arg-type]
                             mapping=mapping or None, strict=strict, tz=tz,
                             where=list(where or ()))
    except CDRFormatError as exc:
        if side is None:
            raise
        raise respell(exc, side) from None
    cdrs, report = imported.cdrs, imported.report
    header = report.format in ("native", "mapped")
    need_cells = charges and header
    known = getattr(imported, "source_line", None)
    if known is not None and not need_cells and "charge" not in extra:
        return Side(cdrs, np.asarray(known, dtype=np.int64), source=str(path)), report
    rec_lines, texts, head = _record_lines(path, header)
    rec = np.asarray(rec_lines, dtype=np.int64)
    if known is not None:  # the reader kept each row's line
        lines = np.asarray(known, dtype=np.int64)
        keep_pos = np.minimum(np.searchsorted(rec, lines), max(len(rec) - 1, 0))
        ok = len(rec) > 0 and bool((rec[keep_pos] == lines).all()) if len(lines) else True
    else:  # accepted lines = record lines less the rejected ones (nothing excluded)
        rejected = {r.line for r in report.rejected}
        keep_pos = np.array([i for i, ln in enumerate(rec_lines) if ln not in rejected],
                            dtype=np.int64)
        lines = rec[keep_pos] if len(keep_pos) else np.zeros(0, dtype=np.int64)
        ok = len(keep_pos) == len(cdrs)
    if not ok:
        raise AuditError(f"{path}: cannot line up the {len(cdrs)} rows read with the "
                         f"file's {len(rec_lines)} records to join the charge column")
    if not need_cells:
        if "charge" in extra:
            raise AuditError(f"{path}: --map charge=...: a charge column needs a CSV with a "
                             f"header (this file is {report.format})")
        return Side(cdrs, lines, source=str(path)), report
    ci = _column(head, "charge", extra.get("charge"), path)
    ki = _column(head, "currency", extra.get("currency"), path)
    if ci is None:
        return Side(cdrs, lines, source=str(path)), report
    cells = [texts[i] for i in keep_pos.tolist()]
    rows = list(csv.reader(cells))
    charge_text = [r[ci] if ci < len(r) else "" for r in rows]
    currency: str | None = None
    if ki is not None:
        for r, ln in zip(rows, lines.tolist(), strict=True):
            code = (r[ki] if ki < len(r) else "").strip().upper()
            if not code:
                continue
            if currency is None:
                currency = code
            elif code != currency:
                raise AuditError(f"{path}:{ln}: {head[ki]}: currency {code} differs from "
                                 f"{currency} on earlier rows: one bill, one currency")
    units, places, written = parse_charges(charge_text, source=str(path),
                                           lines=lines.tolist(), currency=currency)
    return Side(cdrs, lines, units, places, written or currency, str(path)), report


# -- writing ---------------------------------------------------------------------------
