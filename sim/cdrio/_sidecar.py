"""The sidecar of a native CDR file: what the CSV cannot say, in JSON beside it.

A native CSV (``cdrs.csv``) holds one row per dial attempt under a header on its first
line, so ``pandas.read_csv(path)``, ``csv.DictReader`` and spreadsheets read it with
their defaults. What a table has beyond its rows goes to ``cdrs.meta.json`` (the CSV's
name with ``.csv`` replaced by ``.meta.json``)::

    {"format": "dialsim native CDR metadata", "version": 1,
     "csv": {"file": "cdrs.csv", "bytes": 123456, "rows": 1500, "columns": [...]},
     "tz": "Asia/Shanghai", "epoch": "2026-03-02T00:00:00",
     "categories": {"stage": ["", "greeting", ...], "destination": [...], ...},
     "meta": {"scenario": "baseline", "seed": 1, ...}}

``tz`` is the zone of the wall-clock times, ``epoch`` the table's time 0, ``categories``
the label order of the open categorical columns (so codes survive a round trip) and
``meta`` the table's JSON-able provenance. ``csv.bytes`` is the size of the CSV it was
written with: a sidecar whose CSV has since changed (re-saved by a spreadsheet,
overwritten by another program) is ignored with a note, and the CSV is read as a
bare file: the zone from the UTC offsets written in its timestamps, the epoch from
its first call, categories in order of appearance. Both files are written atomically,
the sidecar just before the CSV is renamed into place.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..cdr import COLUMNS, CDRTable
from ..output import atomic_write_text
from ._fields import OPEN_CATEGORIES
from ._report import Rejections

__all__ = ["FORMAT", "VERSION", "read_sidecar", "sidecar_data", "sidecar_path", "write_sidecar"]

FORMAT = "dialsim native CDR metadata"
VERSION = 1


def sidecar_path(path: str | Path) -> Path:
    """``cdrs.csv`` -> ``cdrs.meta.json`` (a name not ending in ``.csv`` gets
    ``.meta.json`` appended)."""
    path = Path(path)
    name = path.name
    stem = name[:-4] if name.lower().endswith(".csv") and len(name) > 4 else name
    return path.with_name(stem + ".meta.json")


def _json_able(meta: Mapping[str, Any]) -> dict[str, Any]:
    """The items of ``meta`` that JSON keeps as they are (others stay in memory only)."""
    out: dict[str, Any] = {}
    for key, value in meta.items():
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError):
            continue
        out[str(key)] = value
    return out


def sidecar_data(cdrs: CDRTable, csv_name: str, csv_bytes: int) -> dict[str, Any]:
    """The sidecar of ``cdrs`` written as a CSV named ``csv_name`` of ``csv_bytes``."""
    return {
        "format": FORMAT, "version": VERSION,
        "csv": {"file": csv_name, "bytes": int(csv_bytes), "rows": len(cdrs),
                "columns": [c.name for c in COLUMNS]},
        "tz": cdrs.tz, "epoch": cdrs.epoch,
        "categories": {name: list(cdrs.vocabulary(name)) for name in OPEN_CATEGORIES},
        "meta": _json_able(cdrs.meta),
    }


def write_sidecar(path: Path, data: Mapping[str, Any]) -> None:
    """Write a sidecar atomically."""
    atomic_write_text(path, json.dumps(data, ensure_ascii=False, indent=1) + "\n")


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def read_sidecar(csv_path: Path, notes: Rejections) -> dict[str, Any]:
    """What the sidecar of ``csv_path`` says, as ``tz``, ``epoch``, ``categories.NAME``
    (lists of labels) and ``meta`` (a dict); ``{}`` without a usable sidecar.

    A sidecar that cannot be read, is not one, or was written for another version of
    the CSV is ignored, and ``notes`` says why; so is any entry of the wrong type.
    """
    side = sidecar_path(csv_path)
    try:
        text = side.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeError) as exc:
        notes.note(f"{side.name}: cannot be read ({exc}): ignored")
        return {}
    try:
        data = json.loads(text)
    except ValueError as exc:
        notes.note(f"{side.name}: not valid JSON ({exc}): ignored")
        return {}
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        notes.note(f"{side.name}: not a dialsim CDR sidecar (no \"format\": {FORMAT!r}): "
                   "ignored")
        return {}
    described = data.get("csv", {}).get("bytes") if isinstance(data.get("csv"), dict) else None
    size = csv_path.stat().st_size
    if described != size:
        notes.note(f"{side.name}: written for a CSV of {described} bytes, this one has "
                   f"{size} (changed since, e.g. re-saved by a spreadsheet): ignored; zone "
                   "from the file's UTC offsets, categories in order of appearance")
        return {}
    out: dict[str, Any] = {}
    for key in ("tz", "epoch"):
        if isinstance(data.get(key), str):
            out[key] = data[key]
        elif key in data:
            notes.note(f"{side.name}: {key!r} is not a string: ignored")
    categories = data.get("categories", {})
    for name in OPEN_CATEGORIES:
        vocab = categories.get(name) if isinstance(categories, dict) else None
        if _strings(vocab):
            out[f"categories.{name}"] = vocab
        elif vocab is not None:
            notes.note(f"{side.name}: categories.{name} is not a list of labels: ignored")
    if isinstance(data.get("meta"), dict):
        out["meta"] = data["meta"]
    notes.note(f"zone, epoch, category order and meta read from {side.name}")
    return out
