"""Writing results safely: never half-written, never over a user's results by surprise.

Files are written to a temporary name in the same folder and renamed into place (an
atomic step on POSIX). A run's output folder is built as a hidden staging folder and
renamed to its final name when complete; an existing folder is replaced only with
``force=True``. A staging folder left by a killed run (its process is gone) is removed
by the next run that writes beside it. :func:`check_writable` finds a read-only or
unwritable destination before any work is done.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from .errors import OutputError, OutputExistsError

__all__ = ["atomic_write", "atomic_write_text", "check_writable", "output_dir",
           "probe_writable", "remove_stale_staging", "safe_cell"]

#: First characters that make a spreadsheet read a cell as a formula (or a DDE call).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def safe_cell(value: Any) -> Any:
    """A cell for a human-facing CSV (costs, charges, comparisons, sweep tables).

    Text starting like a formula (``=``, ``+``, ``-``, ``@``, a tab or line break, or
    their full-width forms) gets a leading apostrophe, so a plan or variant named
    ``=HYPERLINK(...)`` shows as text in a spreadsheet instead of running. Numbers,
    and text that reads as a number (``-3.5``), are left alone. Native CDR files are
    *not* passed through this: they stay lossless for re-import.
    """
    if not isinstance(value, str) or not value.startswith(FORMULA_START):
        return value
    try:
        float(value)
    except ValueError:
        return "'" + value
    return value



def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_write(path: str | Path, mode: str = "w", *, newline: str | None = "",
                 encoding: str | None = "utf-8") -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; rename it onto ``path`` on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        fh: IO[Any]
        if "b" in mode:
            fh = os.fdopen(fd, mode)
        else:
            fh = os.fdopen(fd, mode, newline=newline, encoding=encoding)
        with fh:
            yield fh
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual mode
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and exc.filename is None:
            exc.filename = str(path)  # "No space left on device" names the file it hit
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (UTF-8)."""
    with atomic_write(path) as fh:
        fh.write(text)


def check_writable(out: str | Path, force: bool) -> Path:
    """Check that the output folder ``out`` can be written, before any work is done.

    Raises :class:`OutputExistsError` if ``out`` exists and ``force`` is false, and
    :class:`OutputError` if it is not a folder or the folder it would be made in cannot
    be written (read-only disk, no permission): a test file is created and removed there.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():  # --force would not help: say so first
        raise OutputError(f"{out}: is a file, expected an output folder; choose another --out")
    if out.exists() and not force:
        raise OutputExistsError(
            f"{out}: output folder already exists; use --force to overwrite it "
            "or choose another --out"
        )
    probe_writable(out.parent, out)
    return out


def probe_writable(folder: Path, out: Path) -> None:
    """Raise :class:`OutputError` unless a file can be created in ``folder`` (or in the
    nearest existing folder above it, where the missing ones would be made)."""
    here = folder.absolute()
    while not here.exists() and here != here.parent:
        here = here.parent
    if not here.is_dir():
        raise OutputError(f"{out}: cannot write there: {here} is not a folder")
    try:
        fd, tmp = tempfile.mkstemp(prefix=".dialsim-probe.", dir=here)
    except OSError as exc:
        raise OutputError(f"{out}: cannot write there: {here}: "
                          f"{exc.strerror or exc}") from None
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(tmp)


#: After ``.<name>.``: a staging folder (pid, mkdtemp's 8 random characters) or an old one.
_STAGING = re.compile(r"([0-9]+)\.[A-Za-z0-9_]{8}\.partial|old-([0-9]+)")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_staging(out: Path) -> list[Path]:
    """Remove staging folders of ``out`` left by runs whose process no longer exists.

    A staging folder is named ``.<name>.<pid>.<random>.partial`` (``.old-<pid>`` for a
    replaced folder on its way out); one whose pid is not running is a killed run's
    remains. Returns what was removed.
    """
    removed = []
    pattern = f".{out.name}.*"
    with contextlib.suppress(OSError):
        for p in out.parent.glob(pattern):
            m = _STAGING.fullmatch(p.name[len(out.name) + 2:])
            if m and not _alive(int(m[1] or m[2])) and p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
                removed.append(p)
    return removed


@contextlib.contextmanager
def output_dir(out: str | Path, *, force: bool = False) -> Iterator[Path]:
    """Build an output folder in a staging folder and move it to ``out`` when complete.

    Yields the staging path to write into. On error the staging folder is removed and
    ``out`` is left as it was. An existing ``out`` is only replaced with ``force``.
    """
    out = check_writable(out, force)
    out.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_staging(out)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.{os.getpid()}.", suffix=".partial",
                                    dir=out.parent))
    os.chmod(staging, 0o777 & ~_umask())
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        os.replace(out, old)
        os.replace(staging, out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staging, out)


def end_atomic(ctx: Any, error: BaseException | None) -> None:
    """Finish an :func:`atomic_write` context opened by hand (a writer fed chunk by
    chunk): rename the file into place, or after ``error`` remove it."""
    if error is None:
        ctx.__exit__(None, None, None)
    else:
        ctx.__exit__(type(error), error, error.__traceback__)
