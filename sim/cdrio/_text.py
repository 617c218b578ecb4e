"""From bytes on disk to CSV records, one record per physical line, in blocks.

CDR exports are written line by line by a switch or a PBX and never legitimately hold a
newline inside a field. Parsing each physical line as one record keeps line numbers
exact and confines a broken quote to its own line: an unterminated quote cannot
swallow the rest of the file. A line ends at LF, CRLF or a lone CR, in any mix (a file
appended to by two tools, a line pasted from an old Mac editor): each is one line end,
so every record is counted once and line numbers are what an editor shows. Files are
read in blocks of a few MB so that a million rows never become a million row objects
at once; the csv module does the parsing (C speed), everything after it works on whole
columns.

Text is UTF-8 (a BOM is skipped, UTF-16 with a BOM is recognised). Bytes that are not
valid UTF-8 - typically a Latin-1 caller-ID name in an otherwise UTF-8 file - are read
as Latin-1 instead of failing the import, and the report says from which line.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import gc
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CDRFormatError
from ._report import Rejections

__all__ = ["Block", "gc_paused", "iter_blocks", "read_head"]

#: Bytes read per block: large enough to amortise per-block work, small enough that
#: the row lists of one block (a few 10^4 rows) stay cheap.
BLOCK_BYTES = 8 << 20
#: Piece size for reading the head of a file (pieces are read until enough records).
_HEAD_BYTES = 1 << 16


def _latin1_fallback(exc: UnicodeError) -> tuple[str, int]:
    # Each invalid UTF-8 sequence is read byte by byte as Latin-1; valid UTF-8 around it
    # stays UTF-8 (a mixed file, as written by a switch that copies caller-ID bytes).
    assert isinstance(exc, UnicodeDecodeError)
    return bytes(exc.object[exc.start:exc.end]).decode("latin-1"), exc.end


codecs.register_error("dialsim-latin1", _latin1_fallback)


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while millions of row lists are built.

    The csv module makes one list per row; CPython's collector would rescan them again
    and again (several times the parsing cost). Rows of strings cannot form cycles, so
    nothing is lost by collecting once afterwards.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@dataclass(slots=True)
class Block:
    """Records of consecutive lines: ``rows[i]`` was read from line ``lines[i]``."""

    rows: list[list[str]]
    lines: np.ndarray


class _Decoder:
    """Decodes blocks, remembering the first line that was not valid UTF-8."""

    def __init__(self, rejections: Rejections | None) -> None:
        self.rejections = rejections
        self.warned = False

    def __call__(self, data: bytes, first_line: int) -> str:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            if not self.warned and self.rejections is not None:
                line = first_line + data.count(b"\n", 0, exc.start)
                self.rejections.note(f"not valid UTF-8 from line {line} on: undecodable "
                                     "bytes were read as Latin-1 (e.g. a caller-ID name)")
                self.warned = True
            return data.decode("utf-8", "dialsim-latin1")


def _utf16(data: bytes) -> bool:
    return data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))


def _chunks(path: Path, size: int) -> Generator[bytes, None, None]:
    """The file's bytes in pieces of ``size``, as UTF-8 (BOM skipped, UTF-16 recoded)."""
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise CDRFormatError(f"{path}: cannot read the CDR file: {exc.strerror or exc}") from exc
    with fh:
        first = fh.read(size)
        if _utf16(first):
            # Rare (some Windows tools): decode whole, re-encode, go on as UTF-8.
            yield (first + fh.read()).decode("utf-16", errors="replace").encode("utf-8")
            return
        if first.startswith(codecs.BOM_UTF8):
            first = first[len(codecs.BOM_UTF8):]
        data = first
        while data:
            yield data
            data = fh.read(size)


def _lines_of(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Blocks of whole lines, each ending in ``\\n`` (the last block perhaps not).

    Every line end - CRLF, LF or a lone CR, mixed in one file as they come - becomes
    one LF, so a line is counted the same whichever end it has, and a lone CR never
    merges two records. A CR at the end of a piece is held back until the next piece
    shows whether an LF follows it. A line longer than a piece is gathered from its
    pieces without limit (and without copying them again for every piece).
    """
    pending: list[bytes] = []
    held_cr = False
    for data in chunks:
        if held_cr:
            data = b"\r" + data
        held_cr = data.endswith(b"\r")
        if held_cr:
            data = data[:-1]
        if b"\r" in data:
            data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        cut = data.rfind(b"\n") + 1
        if not cut:
            pending.append(data)
            continue
        if pending:
            pending.append(data[:cut])
            yield b"".join(pending)
        else:
            yield data[:cut]
        pending = [data[cut:]] if cut < len(data) else []
    if held_cr:
        pending.append(b"\n")
    rest = b"".join(pending)
    if rest:
        yield rest


def _raw_blocks(path: Path, size: int | None = None) -> Generator[bytes, None, None]:
    """Blocks of whole lines of about ``size`` bytes (default :data:`BLOCK_BYTES`), as
    UTF-8 with LF line ends (see :func:`_lines_of`)."""
    chunks = _chunks(path, size or BLOCK_BYTES)
    with contextlib.closing(chunks):  # the file closes when the reader stops early too
        yield from _lines_of(chunks)


def read_head(path: str | Path, records: int = 21) -> list[tuple[int, str]]:
    """The non-blank lines at the start of a file as ``(line number, text)``, without
    line ends, up to and including the ``records``-th that is not a leading ``#``
    comment line.

    There is no fixed byte or line limit: the file is read in small pieces until that
    many records are found (or it ends), so long comment lines, many blank lines or a
    very long first line cannot hide the header. Line numbers are those of
    :func:`iter_blocks` (the same line ends are recognised).
    """
    path = Path(path)
    head: list[tuple[int, str]] = []
    seen = 0
    no = 1
    with contextlib.closing(_raw_blocks(path, _HEAD_BYTES)) as blocks:
        for raw in blocks:
            lines = raw.decode("utf-8", "dialsim-latin1").split("\n")
            if raw.endswith(b"\n"):
                lines.pop()
            for text in lines:
                if text.strip():
                    head.append((no, text))
                    if seen or not text.startswith("#"):
                        seen += 1
                        if seen >= records:
                            return head
                no += 1
    return head


def _parse_slow(lines: list[str], first_no: int,
                rejections: Rejections) -> tuple[list[list[str]], list[int]]:
    """Line-by-line parsing that rejects the lines the csv module cannot read alone."""
    rows: list[list[str]] = []
    nums: list[int] = []
    for i, line in enumerate(lines):
        no = first_no + i
        try:
            # The empty sentinel item is swallowed if a quote stays open at line end.
            parsed = list(csv.reader((line, "")))
        except csv.Error as exc:
            rejections.add(no, f"unreadable CSV line ({exc}; a stray carriage return "
                               "or NUL byte?)")
            continue
        if len(parsed) == 1:
            rejections.add(no, "broken quoting: a quoted field is not closed on its line")
            continue
        rows.append(parsed[0])
        nums.append(no)
    return rows, nums


def parse_lines(lines: list[str], first_no: int, rejections: Rejections) -> Block:
    """Parse physical lines (numbered from ``first_no``) into records; skip blank lines."""
    with gc_paused():
        try:
            rows = list(csv.reader(chain(lines, ("",))))
            fast = len(rows) == len(lines) + 1
        except csv.Error:
            fast = False
        if fast:
            rows.pop()
            nums = np.arange(first_no, first_no + len(lines), dtype=np.int64)
        else:
            rows, slow_nums = _parse_slow(lines, first_no, rejections)
            nums = np.asarray(slow_nums, dtype=np.int64)
        blank = rows.count([])
        rejections.tally("{n} blank lines skipped (not rows)", blank)
        if blank:
            keep = [i for i, r in enumerate(rows) if r]
            rows = [rows[i] for i in keep]
            nums = nums[np.asarray(keep, dtype=np.int64)]
    return Block(rows, nums)


def iter_blocks(path: str | Path, rejections: Rejections, first_line: int = 1,
                max_lines: int | None = None,
                fast: Callable[[bytes, int], Any] | None = None) -> Iterator[Any]:
    """Records of ``path`` from physical line ``first_line`` (1-based) on, block by block.

    Parameters
    ----------
    path
        CDR file.
    rejections
        Receives lines that cannot be parsed as CSV, and encoding notes.
    first_line
        Lines before it (header, comments) are skipped.
    max_lines
        Split blocks into at most this many lines (tests use it to exercise block
        boundaries); ``None`` keeps whole byte blocks.
    fast
        Optional whole-block parser ``(bytes, first line number) -> (result, number
        of lines) | None`` tried first on each block; its result is yielded as is, and
        a ``None`` (a block it does not handle) sends the block through the csv module.

    Yields
    ------
    Block or the result of ``fast``
    """
    path = Path(path)
    decode = _Decoder(rejections)
    line_no = 1
    for raw in _raw_blocks(path):
        start_no = line_no
        if fast is not None and start_no >= first_line and raw.endswith(b"\n"):
            result = fast(raw, start_no)
            if result is not None:
                line_no += result[1]
                yield result[0]
                continue
        line_no += raw.count(b"\n") + (0 if raw.endswith(b"\n") else 1)
        if line_no <= first_line:
            continue
        lines = decode(raw, start_no).split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        if start_no < first_line:
            lines = lines[first_line - start_no:]
            start_no = first_line
        step = max_lines or len(lines) or 1
        for k in range(0, len(lines), step):
            yield parse_lines(lines[k:k + step], start_no + k, rejections)
