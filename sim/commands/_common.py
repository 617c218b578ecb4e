"""Pieces shared by the ``dialsim`` sub-commands: scenario arguments, outputs, tables."""

from __future__ import annotations

import argparse
import json
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import ScenarioError
from ..fmt import format_table
from ..output import atomic_write_text
from ..scenario import Scenario, load_scenario, parse_override, quick

__all__ = [
    "add_scenario_args",
    "default_out",
    "format_table",
    "json_default",
    "load_from_args",
    "write_json",
]


def add_scenario_args(p: argparse.ArgumentParser, *, seed: bool = True) -> None:
    """SCENARIO, ``--set`` overrides, ``--quick`` and (optionally) ``--seed``."""
    p.add_argument("scenario", metavar="SCENARIO", help="scenario file (TOML)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a scenario value, e.g. --set dialer.ratio=1.5 "
                        "(value read as TOML; repeatable)")
    p.add_argument("--quick", action="store_true",
                   help="scaled-down run (few leads, one day, ≤ 10 agents) for a smoke test")
    if seed:
        p.add_argument("--seed", type=int, default=1, help="root random seed (default 1)")


def overrides_from(items: Sequence[str]) -> dict[str, Any]:
    return dict(parse_override(text) for text in items)


def load_from_args(args: argparse.Namespace) -> Scenario:
    scenario = load_scenario(args.scenario, overrides=overrides_from(args.overrides))
    return quick(scenario) if getattr(args, "quick", False) else scenario


def default_out(scenario: Scenario, root: str | Path = "runs") -> Path:
    """The first free ``runs/<name>-NNN`` folder: a run without --out never overwrites."""
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(scenario.source).stem or scenario.name)
    root = Path(root)
    for i in range(1, 100_000):
        out = root / f"{stem}-{i:03d}"
        if not out.exists():
            return out
    raise ScenarioError(f"{root}: no free output folder name left; use --out")


def json_default(value: Any) -> Any:
    """JSON encoding of dates, Decimals, paths, numpy scalars and sets."""
    import datetime as dt
    from decimal import Decimal

    import numpy as np

    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return _finite(float(value))
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, set | frozenset | tuple):
        return sorted(value) if isinstance(value, set | frozenset) else list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def _clean(obj: Any) -> Any:
    """Replace NaN/inf floats by None so the JSON is standard."""
    if isinstance(obj, float):
        return _finite(obj)
    if isinstance(obj, Mapping):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    return obj


def write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(_clean(data), indent=2, default=json_default) + "\n")
