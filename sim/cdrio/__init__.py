"""Reading and writing CDR files: dialsim's native CSV, Asterisk, FreeSWITCH, any PBX export.

A business prices its *own* traffic by importing its switch's CDRs; a simulated
campaign is saved and re-rated later without simulating again. Both go through here::

    imp = sim.read_cdrs("Master.csv")                 # format detected from the first lines
    print(imp.report.summary())                       # read = accepted + rejected + excluded
    sim.write_cdrs(imp.cdrs, "calls.csv")             # native CSV, lossless

Formats
-------
``native``
    Header (first line) = the CDR columns (:data:`sim.cdr.COLUMNS`); timestamps
    ISO-8601 to the microsecond with the UTC offset of the table's zone; labels for
    categories. The sidecar ``<name>.meta.json`` beside it keeps ``tz``, ``epoch``,
    category order and meta (:mod:`._sidecar`): lossless with it, readable without it.
    Files of older versions, with leading ``# key=value`` lines instead, still read.
``asterisk``
    ``cdr_csv`` Master.csv, no header, 16 to 21 columns (see
    :data:`._fields.ASTERISK_FIELDS`); local ``YYYY-MM-DD HH:MM:SS`` times.
``parquet``
    dialsim's columns in row groups, categories as dictionary columns, zone, epoch,
    category order and meta in the file's key-value metadata (:mod:`._parquet`;
    needs pyarrow). Detected by its magic bytes; read whole, or chunk by chunk with
    :func:`iter_cdrs`.
``freeswitch``
    ``mod_cdr_csv`` with the shipped "example" template (15 columns, no header);
    answered from hang-up cause + answer stamp (:mod:`._fields`).
``mapped``
    Any CSV with a header, through ``mapping`` = {our column: file header}. Mappable:
    the CDR columns plus ``duration`` (start to end, s) and ``hangup_cause``. Needed:
    ``disposition`` or ``hangup_cause``; ``start`` (or ``end`` and ``duration``);
    ``billsec`` or ``talk_s`` (or ``answer`` and ``end``). Missing values are derived
    (``end = start + duration``, ``answer = end - billsec``, ...: :mod:`._build`).
    Known exports are recognised without a mapping: Grandstream UCM, and Asterisk CDR
    database dumps (PBXware, FreePBX: ``calldate, ..., duration, billsec, disposition``).

Times
-----
A table's times are seconds from its ``epoch`` (local midnight of the first call's
start date, unless a native file names it) on the wall clock of ``tz``. The zone is
``tz=`` if given, else the native file's sidecar, else a fixed zone from the
UTC offsets written in the file, else UTC (wall-clock times kept as written). Offsets
written in a file are honoured: the times are converted to ``tz``.

Legs
----
Every row gets a ``direction`` (outbound, inbound, internal, unknown) from the format's
own fields (:mod:`._direction`); ``read_cdrs`` keeps the outbound legs by default (what
a carrier bills; rows of unknown direction too, with a warning), ``direction=`` and
``where=["COLUMN=VALUE", "COLUMN!=VALUE"]`` select others. Rows left out are
*excluded*, counted per reason: rows read = accepted + rejected + excluded. Each row
keeps its file line and the export's own call id (``CDRImport.source_line``,
``source_id``).

Rows
----
Every record is accepted or rejected with its line and reason (wrong field count,
broken quoting, bad or missing timestamps, negative durations, unknown disposition,
times out of order, nothing to tell talk time, a number out of its column's range, a
billsec longer than the call: :mod:`._checks`). ``strict=True`` raises
:class:`~sim.errors.CDRFormatError` at the first rejection. Blank lines are skipped;
fields beyond the known ones are ignored (the report says so once). A line ends at LF,
CRLF or a lone CR, in any mix; there is no limit on the length of lines or of the
head of a file (comment or blank lines before the header).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

from .._lazy import lazy_attributes
from ..cdr import CDRTable
from ._write import write_asterisk, write_native

__all__ = [
    "CDRImport",
    "ImportReport",
    "PRESETS",
    "Rejection",
    "iter_cdrs",
    "read_cdrs",
    "write_cdrs",
]

WriteFormat = Literal["native", "asterisk", "parquet"]


# -- writing ---------------------------------------------------------------------------
def write_cdrs(cdrs: CDRTable, path: str | Path, *, format: WriteFormat = "native") -> None:
    """Write a CDR table to ``path`` atomically.

    Parameters
    ----------
    cdrs
        The table.
    path
        Output file (written to a temporary name, then renamed). A native file gets
        its sidecar beside it: ``calls.csv`` -> ``calls.meta.json``.
    format
        ``"native"`` (lossless CSV with its sidecar), ``"asterisk"`` (Master.csv, whole
        seconds, dialsim's columns in the userfield) or ``"parquet"`` (lossless, in row
        groups; needs pyarrow: :mod:`._parquet`).
    """
    if format == "native":
        write_native(cdrs, path)
    elif format == "asterisk":
        write_asterisk(cdrs, path)
    elif format == "parquet":
        from ._parquet import write_parquet

        write_parquet(cdrs, path)
    else:
        raise ValueError(f"format: must be 'native', 'asterisk' or 'parquet' (got {format!r})")


# Reading (detection, parsers, the import report) is imported on first use: a command
# that only writes, such as ``dialsim run``, does not pay its start-up.
_LAZY = {"read_cdrs": "_read", "iter_cdrs": "_chunks", "PRESETS": "_read", "CDRImport": "_report",
         "ImportReport": "_report", "Rejection": "_report"}
__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, globals())


if TYPE_CHECKING:  # pragma: no cover
    from ._chunks import iter_cdrs
    from ._read import PRESETS, read_cdrs
    from ._report import CDRImport, ImportReport, Rejection
