"""Writing results safely: never half-written, never over a user's results by surprise.

Files are written to a temporary name in the same folder and renamed into place (an
atomic step on POSIX). A run's output folder is built as a hidden staging folder and
renamed to its final name when complete; an existing folder is replaced only with
``force=True``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from .errors import OutputExistsError

__all__ = ["atomic_write", "atomic_write_text", "check_writable", "output_dir"]


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
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (UTF-8)."""
    with atomic_write(path) as fh:
        fh.write(text)


def check_writable(out: str | Path, force: bool) -> Path:
    """Raise :class:`OutputExistsError` if ``out`` exists and ``force`` is false."""
    out = Path(out)
    if out.exists() and not force:
        raise OutputExistsError(
            f"{out}: output folder already exists; use --force to overwrite it "
            "or choose another --out"
        )
    if out.exists() and not out.is_dir():
        raise OutputExistsError(f"{out}: exists and is not a folder")
    return out


@contextlib.contextmanager
def output_dir(out: str | Path, *, force: bool = False) -> Iterator[Path]:
    """Build an output folder in a staging folder and move it to ``out`` when complete.

    Yields the staging path to write into. On error the staging folder is removed and
    ``out`` is left as it was. An existing ``out`` is only replaced with ``force``.
    """
    out = check_writable(out, force)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
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
