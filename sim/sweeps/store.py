"""A sweep's output folder: what makes an interrupted sweep resumable.

A long sweep will be interrupted — Ctrl-C, a laptop lid, a killed job on a cluster.
The folder therefore holds, from the first second:

- ``sweep.json``: the manifest — everything that determines the results (the base
  scenario after overrides, the points, the seeds, the plans, the dialsim version) and
  its SHA-256 fingerprint;
- ``runs/p<point>-r<replication>.json``: one file per finished run, written atomically
  the moment it is done (a crash leaves either the whole file or none);
- ``cdrs/p<point>-r<replication>.csv`` when CDRs are kept; and, at the end,
  ``sweep.csv`` and ``aggregate.csv``.

Opening the folder again with the *same* arguments resumes: finished runs are read
back and only the missing ones are computed. A folder holding a *different* sweep (or
anything else) is replaced only with ``force``. The worker count is not part of the
identity: it never changes the results.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import json
import math
import re
import shutil
from collections.abc import Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..errors import OutputExistsError, SweepError
from ..output import atomic_write_text

__all__ = ["MANIFEST", "SweepStore", "canonical", "fingerprint"]

MANIFEST = "sweep.json"
FORMAT = "dialsim-sweep/1"
_RUN = re.compile(r"^p(\d+)-r(\d+)\.json$")


def canonical(obj: Any) -> Any:
    """A JSON-able, order-stable form of ``obj`` (dataclasses, Decimals, dates, sets).

    Sets are sorted and floats written with ``repr``, so the same value always gives
    the same text, in any process and under any ``PYTHONHASHSEED``.
    """
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {"__type__": type(obj).__name__,
                **{f.name: canonical(getattr(obj, f.name)) for f in dataclasses.fields(obj)}}
    if isinstance(obj, Mapping):
        return {str(k): canonical(v) for k, v in sorted(obj.items(), key=lambda kv: str(kv[0]))}
    if isinstance(obj, set | frozenset):
        items = [canonical(v) for v in obj]
        return sorted(items, key=lambda v: json.dumps(v, sort_keys=True))
    if isinstance(obj, list | tuple):
        return [canonical(v) for v in obj]
    if isinstance(obj, bool | int | str) or obj is None:
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else repr(obj)
    if isinstance(obj, Decimal | Path | dt.date | dt.time | dt.timedelta):
        return str(obj) if not isinstance(obj, dt.date | dt.time) else obj.isoformat()
    if hasattr(obj, "item") and callable(obj.item):  # numpy scalar
        return canonical(obj.item())
    if hasattr(obj, "tolist"):
        return canonical(obj.tolist())
    return repr(obj)


def fingerprint(identity: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON of ``identity``."""
    text = json.dumps(canonical(identity), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _differences(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    keys = sorted(set(old) | set(new))
    return [k for k in keys if canonical(old.get(k)) != canonical(new.get(k))]


class SweepStore:
    """The output folder of one sweep, open for saving runs as they finish.

    Use :meth:`open`; hold it in a ``with`` block so the folder's lock is released.
    """

    def __init__(self, root: Path, key: str) -> None:
        self.root = root
        self.key = key
        self._lock_fh: Any = None

    # -- opening ---------------------------------------------------------------------

    @classmethod
    def open(cls, out: str | Path, identity: Mapping[str, Any], *, force: bool = False,
             info: Mapping[str, Any] | None = None) -> SweepStore:
        """Open ``out`` for the sweep described by ``identity``; create it if needed.

        Parameters
        ----------
        out
            The folder.
        identity
            Everything that determines the results (JSON-able through :func:`canonical`).
        force
            Replace a folder holding a different sweep, or anything else.
        info
            Extra facts for the manifest that do not affect results (e.g. workers).

        Raises
        ------
        OutputExistsError
            ``out`` holds something else and ``force`` is false.
        SweepError
            Another process is running a sweep in ``out`` right now.
        """
        root = Path(out)
        key = fingerprint(identity)
        if root.exists() and not root.is_dir():
            raise OutputExistsError(f"{root}: is a file, expected an output folder; choose "
                                    "another --out")
        manifest = root / MANIFEST
        old = _read_manifest(manifest)
        ours = old is not None and old.get("fingerprint") == key
        if _occupied(root) and not ours and not force:
            raise OutputExistsError(_refusal(root, old, identity))
        from ..output import probe_writable

        probe_writable(root if root.is_dir() else root.parent, root)  # read-only: exit 2
        store = cls(root, key)
        store._lock()  # before touching anything: another process may be resuming it
        try:
            old = _read_manifest(manifest)
            if old is None or old.get("fingerprint") != key:
                _empty(root)
                from .. import __version__

                data = {"format": FORMAT, "fingerprint": key, "dialsim_version": __version__,
                        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                        "info": dict(info or {}), "identity": canonical(identity)}
                atomic_write_text(manifest, json.dumps(data, indent=1) + "\n")
        except BaseException:
            store.close()
            raise
        return store

    def _lock(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: no advisory lock
            return
        fh = open(self.root / ".lock", "a")  # noqa: SIM115 - held until close()
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.close()
            raise SweepError(f"{self.root}: another sweep is running in this folder") from None
        self._lock_fh = fh

    def close(self) -> None:
        if self._lock_fh is not None:
            self._lock_fh.close()
            self._lock_fh = None

    def __enter__(self) -> SweepStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- runs ------------------------------------------------------------------------

    def run_path(self, point: int, replication: int) -> Path:
        return self.root / "runs" / f"p{point:06d}-r{replication:03d}.json"

    def cdr_path(self, point: int, replication: int) -> Path:
        return self.root / "cdrs" / f"p{point:06d}-r{replication:03d}.csv"

    def save(self, point: int, replication: int, seed: int, row: Mapping[str, Any],
             run_s: float) -> None:
        """Write one finished run (atomically: a crash leaves all of it or nothing)."""
        data = {"fingerprint": self.key, "point": point, "replication": replication,
                "seed": seed, "run_s": round(run_s, 6), "row": dict(row)}
        # json writes floats with repr: a run read back is bit-identical (NaN included)
        atomic_write_text(self.run_path(point, replication), json.dumps(data) + "\n")

    def finished(self) -> Iterator[tuple[int, int, dict[str, Any]]]:
        """``(point, replication, row)`` of every run saved by this sweep."""
        folder = self.root / "runs"
        if not folder.is_dir():
            return
        for path in sorted(folder.iterdir()):
            if path.name.startswith(".") and path.name.endswith(".tmp"):
                with contextlib.suppress(OSError):  # left by a crash mid-write
                    path.unlink()
                continue
            m = _RUN.match(path.name)
            if not m:
                continue
            try:
                data = json.loads(path.read_text())
            except (OSError, ValueError):
                continue  # unreadable: the run is simply made again
            if data.get("fingerprint") != self.key:
                continue
            yield int(m.group(1)), int(m.group(2)), data["row"]


def _read_manifest(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("format") == FORMAT else None


def _refusal(root: Path, old: Mapping[str, Any] | None, identity: Mapping[str, Any]) -> str:
    if old is None:
        return (f"{root}: folder exists and does not hold a dialsim sweep; use --force to "
                "replace it or choose another --out")
    changed = _differences(old.get("identity", {}), canonical(identity))
    return (f"{root}: holds a different sweep (differs in: {', '.join(changed) or 'version'}); "
            "run with the same arguments to resume it, --force to replace it, "
            "or choose another --out")


def _occupied(root: Path) -> bool:
    return root.is_dir() and any(p.name != ".lock" for p in root.iterdir())


def _empty(root: Path) -> None:
    """Remove everything inside ``root`` but the lock (its owner asked with ``force``)."""
    for child in root.iterdir():
        if child.name == ".lock":
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()
