"""Sweep designs: which scenario variants a parameter sweep runs.

An analyst asks "what if the dial ratio were 1, 1.5 or 2, with 20 to 60 agents?" — a
full-factorial grid over dotted scenario keys — or, when the space is too large for a
grid, "try n combinations spread evenly over these ranges" — a Latin-hypercube sample
(McKay, Beckman & Conover 1979), drawn from the root seed's ``sweep`` stream so the
same seed gives the same points. Both together run every sample at every grid value.

Every point's scenario is validated before any simulation starts: a typo in the 50th
point fails in a second, not after an hour of simulating the first 49.
"""

from __future__ import annotations

import itertools
import math
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import ScenarioError, SweepError
from ..scenario import Scenario
from ..validate import MAX_DEPTH, check_depth

__all__ = [
    "Design",
    "design",
    "grid_points",
    "lhs_points",
    "parse_range",
    "parse_values",
    "parse_vary",
    "validate_points",
    "value_at",
]

#: A range like ``20:60:10`` (start, stop, step; stop included).
_NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_RANGE3 = re.compile(rf"^\s*({_NUM})\s*:\s*({_NUM})\s*:\s*({_NUM})\s*$")
_RANGE2 = re.compile(rf"^\s*({_NUM})\s*:\s*({_NUM})\s*$")
#: One key's values above this are almost surely a typo in a step (1:1000:0.001).
MAX_VALUES_PER_KEY = 10_000
#: Points shown in an error listing before "... and N more".
MAX_LISTED = 20


@dataclass(frozen=True, slots=True, kw_only=True)
class Design:
    """The points of a sweep.

    Attributes
    ----------
    params
        The varied dotted keys, in column order.
    points
        One ``{key: value}`` override mapping per point; the point id is the index.
    kind
        ``"grid"``, ``"lhs"`` or ``"grid+lhs"`` (every sample at every grid value).
    """

    params: tuple[str, ...]
    points: tuple[Mapping[str, Any], ...]
    kind: str

    def __len__(self) -> int:
        return len(self.points)

    def label(self, point: int) -> str:
        """``key=value, ...`` of one point, for messages."""
        return ", ".join(f"{k}={_show(v)}" for k, v in self.points[point].items())


def _show(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def _number(text: str) -> int | float:
    return int(text) if re.fullmatch(r"[-+]?\d+", text) else float(text)


def _scalar(text: str) -> Any:
    """A TOML scalar (``1.5``, ``true``, ``"x"``), else the bare text as a string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text.strip()
    except (RecursionError, ValueError):  # nested 1,000 deep, or a 5,000-digit integer
        raise SweepError(f"--vary: value {text[:40]!r}...: nested deeper than {MAX_DEPTH} "
                         "levels or an integer of more than 4300 digits") from None


def parse_values(key: str, text: str) -> list[Any]:
    """The values of ``--vary key=TEXT``.

    ``TEXT`` is either ``start:stop:step`` (stop included; integers stay integers) or a
    comma-separated list whose items are read as TOML (``1,1.5,2``; ``true,false``;
    ``{dist="constant", value=20},{dist="constant", value=30}``); bare words are
    strings (``progressive,predictive``).

    Raises
    ------
    SweepError
        Naming ``key`` when the range is malformed (stop below start, step <= 0,
        a missing step) or a value repeats.
    """
    where = f"--vary {key}={text}"
    if m := _RANGE3.match(text):
        lo, hi, step = (_number(g) for g in m.groups())
        if step <= 0:
            raise SweepError(f"{where}: step must be > 0 (got {step})")
        if hi < lo:
            raise SweepError(f"{where}: stop {hi} is below start {lo}")
        n = int(math.floor((hi - lo) / step + 1e-9)) + 1
        if n > MAX_VALUES_PER_KEY:
            raise SweepError(f"{where}: {n:,} values; at most {MAX_VALUES_PER_KEY:,} per key")
        if all(isinstance(v, int) for v in (lo, hi, step)):
            return [int(lo) + i * int(step) for i in range(n)]
        # i * step, not repeated addition, so 0.1 steps do not drift; 12 digits clean
        # the last binary bits (1 + 3 * 0.1 = 1.3000000000000003 -> 1.3).
        return [float(f"{lo + i * step:.12g}") for i in range(n)]
    if _RANGE2.match(text):
        raise SweepError(f"{where}: a range needs a step, e.g. {text.strip()}:STEP "
                         f"(or list values: a,b,c)")
    if not text.strip():
        raise SweepError(f"{where}: no values; give a,b,c or start:stop:step")
    try:
        values = list(tomllib.loads(f"v = [{text}]")["v"])
    except tomllib.TOMLDecodeError:
        values = [_scalar(item) for item in text.split(",")]
    except (RecursionError, ValueError):  # nested 1,000 deep, or a 5,000-digit integer
        raise SweepError(f"{where}: values nested deeper than {MAX_DEPTH} levels or an "
                         "integer of more than 4300 digits") from None
    check_depth(values, where, SweepError)
    if any(v == "" for v in values):
        raise SweepError(f"{where}: an empty value in the list")
    _check_unique(where, values)
    return values


def _check_unique(where: str, values: Sequence[Any]) -> None:
    seen: list[Any] = []
    for v in values:
        if any(v == s and type(v) is type(s) for s in seen):
            raise SweepError(f"{where}: value {_show(v)} is repeated")
        seen.append(v)


def _split_key(text: str, flag: str, form: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise SweepError(f"{flag} {text!r}: must be {form}")
    return key, value


def parse_vary(text: str) -> tuple[str, list[Any]]:
    """Split ``--vary key=values`` into the key and its values (:func:`parse_values`)."""
    key, value = _split_key(text, "--vary", "dotted.key=a,b,c or dotted.key=start:stop:step")
    return key, parse_values(key, value)


def parse_range(text: str) -> tuple[str, tuple[int | float, int | float]]:
    """Split ``--range key=lo:hi`` (for ``--samples``) into the key and its bounds."""
    key, value = _split_key(text, "--range", "dotted.key=low:high")
    m = _RANGE2.match(value)
    if not m:
        raise SweepError(f"--range {key}={value}: must be low:high with numbers, e.g. 1:2.5")
    lo, hi = (_number(g) for g in m.groups())
    _check_bounds(f"--range {key}={value}", lo, hi)
    return key, (lo, hi)


def _check_bounds(where: str, lo: Any, hi: Any) -> None:
    ok = all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
             for v in (lo, hi))
    if not ok:
        raise SweepError(f"{where}: bounds must be finite numbers (got {lo!r}, {hi!r})")
    if not lo < hi:
        raise SweepError(f"{where}: low {lo} must be below high {hi}")


def _plain(value: Any) -> Any:
    """numpy scalars and arrays (from ``np.linspace`` grids) as plain Python values."""
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 1) == 0:
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return value


def grid_points(grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Cartesian product of ``grid`` (first key slowest), one override dict per point."""
    keys = list(grid)
    columns = []
    for key in keys:
        raw = grid[key]
        if isinstance(raw, str | bytes | Mapping) or not hasattr(raw, "__iter__"):
            raise SweepError(f"grid {key}: must be a sequence of values (got {raw!r})")
        values = [_plain(v) for v in raw]
        if not values:
            raise SweepError(f"grid {key}: no values")
        _check_unique(f"grid {key}", values)
        columns.append(values)
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*columns)]


def lhs_points(ranges: Mapping[str, tuple[float, float]], samples: int, seed: int,
               integer: Mapping[str, bool] | None = None) -> list[dict[str, Any]]:
    """``samples`` Latin-hypercube points over ``ranges`` (``{key: (low, high)}``).

    Each range is cut into ``samples`` equal strata and each stratum is used once per
    key. A key drawn as integers (``integer[key]``; by default when both bounds are
    integers) is uniform over ``low..high`` inclusive; floats are kept to 6 significant
    digits so tables and labels stay readable. The draw comes from stream ``sweep`` of
    ``seed``: the same seed gives the same points.
    """
    import inspect

    import numpy as np
    from scipy.stats import qmc

    from ..rng import stream

    if samples < 1:
        raise SweepError(f"samples: must be >= 1 (got {samples})")
    if not ranges:
        raise SweepError("samples: needs at least one range (--range key=low:high)")
    keys = list(ranges)
    for key in keys:
        bounds = ranges[key]
        if not isinstance(bounds, Sequence) or len(bounds) != 2:
            raise SweepError(f"ranges {key}: must be (low, high) (got {bounds!r})")
        _check_bounds(f"ranges {key}", _plain(bounds[0]), _plain(bounds[1]))
    rng = stream(seed, "sweep", 1)
    # scipy >= 1.15 takes rng=; older versions only seed= (same meaning for a Generator).
    kw = "rng" if "rng" in inspect.signature(qmc.LatinHypercube).parameters else "seed"
    unit = qmc.LatinHypercube(d=len(keys), **{kw: rng}).random(samples)
    points: list[dict[str, Any]] = [{} for _ in range(samples)]
    for j, key in enumerate(keys):
        lo, hi = (_plain(b) for b in ranges[key])
        u = unit[:, j]
        whole = isinstance(lo, int) and isinstance(hi, int)
        if (integer or {}).get(key, whole) and whole:
            vals = np.minimum(lo + np.floor(u * (hi - lo + 1)), hi).astype(np.int64).tolist()
        else:
            vals = [float(f"{x:.6g}") for x in (lo + u * (hi - lo)).tolist()]
        for p, v in zip(points, vals, strict=True):
            p[key] = v
    return points


def design(grid: Mapping[str, Sequence[Any]] | None = None, samples: int | None = None,
           ranges: Mapping[str, tuple[float, float]] | None = None, *,
           seed: int = 1, scenario: Scenario | None = None) -> Design:
    """The sweep's points: a grid, a Latin hypercube, or every sample at every grid value.

    With ``scenario``, a range over a key the scenario holds as a float (``dialer.ratio
    = 1:2``) is sampled as floats even with integer bounds; integer keys
    (``agents.count``) and keys it cannot resolve follow the bounds.

    Raises
    ------
    SweepError
        When nothing varies, a key is given twice, or ranges come without samples.
    """
    grid = dict(grid or {})
    ranges = dict(ranges or {})
    if samples is None and ranges:
        raise SweepError("ranges: need samples=n (--samples n) to draw points from them")
    if samples is not None and not ranges:
        raise SweepError("samples: needs ranges to draw from (--range key=low:high)")
    if not grid and samples is None:
        raise SweepError("nothing to vary: give a grid (--vary key=values) or "
                         "samples with ranges (--samples n --range key=low:high)")
    both = sorted(set(grid) & set(ranges))
    if both:
        raise SweepError(f"{', '.join(both)}: both in the grid and in ranges; vary a key once")
    gpts = grid_points(grid) if grid else [{}]
    integer = {k: not isinstance(value_at(scenario, k), float) for k in ranges} \
        if scenario is not None else None
    spts = lhs_points(ranges, samples, seed, integer) if samples is not None else [{}]
    points = tuple({**g, **s} for g in gpts for s in spts)
    kind = "grid+lhs" if grid and samples is not None else ("grid" if grid else "lhs")
    return Design(params=(*grid, *ranges), points=points, kind=kind)


def value_at(scenario: Scenario | None, key: str) -> Any:
    """The validated value at dotted ``key`` (``script.stages[0].p_hangup``), or None."""
    node: Any = scenario
    for part in re.sub(r"\[(\d+)\]", r".\1", key).split("."):
        if node is None:
            return None
        if part.isdigit():
            node = node[int(part)] if isinstance(node, Sequence) and int(part) < len(node) \
                else None
        else:
            node = getattr(node, part, None)
    return node


def validate_points(scenario: Scenario, plan: Design) -> None:
    """Build every point's scenario once; raise one error listing every bad point.

    Each problem names the point, its values and the scenario's own message
    (``file: dotted.key: must be X (got Y)``, with "did you mean" for unknown keys).
    Points sharing the same problem are listed once, with a count.

    Raises
    ------
    SweepError
        Before any simulation, if any point's scenario is invalid.
    """
    seen: dict[str, list[int]] = {}
    for i, point in enumerate(plan.points):
        try:
            scenario.with_overrides(point)
        except ScenarioError as exc:
            for line in exc.problems or (str(exc),):
                seen.setdefault(line, []).append(i)
    if not seen:
        return
    lines = []
    for line, ids in seen.items():
        more = f" (and {len(ids) - 1} more points)" if len(ids) > 1 else ""
        lines.append(f"point {ids[0]} ({plan.label(ids[0])}): {line}{more}")
    bad = len({i for ids in seen.values() for i in ids})
    shown = lines[:MAX_LISTED]
    if len(lines) > MAX_LISTED:
        shown.append(f"... and {len(lines) - MAX_LISTED} more problems")
    raise SweepError(f"{bad} of {len(plan)} sweep points are invalid; nothing was run:\n"
                     + "\n".join(f"  {s}" for s in shown), problems=lines)
