"""Pieces shared by the ``dialsim`` sub-commands: scenario arguments, outputs, tables."""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import CDRFormatError, ScenarioError
from ..fmt import format_table
from ..output import atomic_write_text
from ..progress import ProgressBar as Progress  # the one progress bar (old name kept)
from ..scenario import Scenario, load_scenario, parse_override, quick, quick_leads

__all__ = [
    "Console",
    "Progress",
    "add_output_args",
    "add_cdr_args",
    "add_scenario_args",
    "parse_mapping",
    "run_progress",
    "MAX_REPS",
    "MAX_RUNS",
    "blame_set",
    "check_count",
    "check_out",
    "default_out",
    "format_table",
    "json_default",
    "load_from_args",
    "no_rows_accepted",
    "seed_arg",
    "write_json",
]


def seed_arg(text: str) -> int:
    """``--seed``: an integer >= 0 (numpy's seeds are unsigned)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0 (got {text!r})") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0 (got {value})")
    return value


#: Most replications (seeds), samples or candidates one option may ask for. A study of
#: more is several commands on disjoint seeds; a larger number is taken for a typo (a
#: full scenario runs about a second, so 10,000 is already hours, and each replication
#: keeps its row of figures in memory).
MAX_REPS = 10_000
#: Most simulation runs one sweep or optimisation may plan (points × replications).
MAX_RUNS = 1_000_000


def check_count(option: str, value: int, *, least: int = 1, most: int = MAX_REPS,
                why: str = "") -> None:
    """Refuse a count option outside ``least..most`` before any work: ``--reps: must be
    an integer from 1 to 10,000 (got 100000000)``; ``why`` follows the lower bound (its
    reason, e.g. `` (for confidence intervals)``)."""
    if not least <= value <= most:
        raise ScenarioError(f"{option}: must be an integer from {least}{why} to {most:,} "
                            f"(got {value})")


def no_rows_accepted(path: str | Path, counts: str, rejected: Sequence[Any] = (),
                     doing: str = "price") -> CDRFormatError:
    """The error for a CDR file of which no row was accepted and none left out on purpose
    (a header alone, or every row rejected): bad input, not an empty result. ``counts``
    is the import's ``N rows read = A accepted + R rejected + E excluded``; the first
    rejection (``.line``, ``.reason``) is named."""
    first = f" (line {rejected[0].line}: {rejected[0].reason})" if rejected else ""
    return CDRFormatError(f"{path}: no CDR row to {doing}: {counts}{first}")


def add_scenario_args(p: argparse.ArgumentParser, *, seed: bool = True) -> None:
    """SCENARIO, ``--set`` overrides, ``--quick``, (optionally) ``--seed``, and the output
    conventions ``--json`` and ``-q/--quiet`` (:func:`add_output_args`)."""
    p.add_argument("scenario", metavar="SCENARIO", help="scenario file (TOML)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a scenario value, e.g. --set dialer.ratio=1.5 "
                        "(value read as TOML; repeatable)")
    p.add_argument("--quick", action="store_true",
                   help="scaled-down run (list, agents and trunks scaled together, one day) "
                        "for a smoke test")
    if seed:
        p.add_argument("--seed", type=seed_arg, default=1,
                       help="root random seed, an integer >= 0 (default 1)")
    add_output_args(p)


def add_output_args(p: argparse.ArgumentParser) -> None:
    """``--json`` (the summary as JSON on stdout, nothing else there) and ``-q``."""
    p.add_argument("--json", action="store_true",
                   help="print the summary as JSON on stdout instead of the tables "
                        "(notes and progress go to stderr)")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="no progress bar and no notes on stderr (errors still shown)")


class Console:
    """Where a command writes: results on stdout (tables, or JSON with ``--json``),
    notes and progress on stderr (none with ``-q``)."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.json = bool(getattr(args, "json", False))
        self.quiet = bool(getattr(args, "quiet", False))

    def table(self, text: str = "") -> None:
        """A human result (suppressed with ``--json``)."""
        if not self.json:
            print(text)

    def note(self, text: str) -> None:
        """A diagnostic or note, on stderr (suppressed with ``-q``)."""
        if not self.quiet:
            print(text, file=sys.stderr)

    def emit(self, data: Any) -> None:
        """The machine-readable summary, on stdout with ``--json``."""
        if self.json:
            sys.stdout.write(json.dumps(_clean(data), indent=2, default=json_default) + "\n")


def add_cdr_args(p: argparse.ArgumentParser | Any, *, legs: str = "legs to read") -> None:
    """How to read a CDR export: ``--format``, ``--map``, ``--direction``, ``--where``,
    ``--tz`` (the options of :func:`sim.read_cdrs`)."""
    p.add_argument("--format", default="auto",
                   choices=("auto", "native", "asterisk", "freeswitch", "mapped", "parquet"),
                   help="CDR format (default: detect; --map implies mapped)")
    p.add_argument("--map", metavar="COLUMN=HEADER", action="append", default=[],
                   help="read our COLUMN from the file's HEADER column (header CSVs); repeat")
    p.add_argument("--direction", default="outbound",
                   choices=("outbound", "inbound", "internal", "all"),
                   help=f"{legs} (default: outbound, the legs a carrier bills; rows whose "
                        "direction cannot be told are kept too, with a warning)")
    p.add_argument("--where", metavar="COLUMN=VALUE", action="append", default=[],
                   help="keep only rows whose COLUMN (the file's own header name; "
                        "Asterisk/FreeSWITCH: their field names) equals VALUE, or with "
                        "COLUMN!=VALUE differs from it; repeat (all must hold)")
    p.add_argument("--tz", metavar="ZONE",
                   help="IANA time zone of the file's wall-clock times (bands use local time)")


def parse_mapping(items: Sequence[str], option: str = "--map") -> dict[str, str] | None:
    """``--map COLUMN=HEADER`` items as {our column: the file's header}, or None."""
    from ..errors import CDRFormatError

    out: dict[str, str] = {}
    for item in items:
        column, sep, header = item.partition("=")
        if not sep or not column.strip() or not header.strip():
            raise CDRFormatError(f"{option} {item!r}: must be COLUMN=HEADER, like "
                                 "billsec=\"Talk Time\"")
        out[column.strip()] = header.strip()
    return out or None


def run_progress(label: str, *, quiet: bool = False
                 ) -> tuple[Callable[[int, int], None], Callable[[], None]]:
    """A ``progress(done, total)`` callback on stderr (the total may grow as the work is
    planned), and the function that ends it: a bar on a terminal, otherwise about ten
    plain lines so logs show progress too; nothing when ``quiet``."""
    from ..progress import ProgressBar

    bar = ProgressBar(label, 1.0, lines=0 if quiet else 10, unit="runs",
                      enabled=False if quiet else None)

    def progress(done: int, total: int) -> None:
        bar.total = max(total, 1)
        bar.update(done, f"{done}/{total} runs")

    return progress, bar.close


def check_out(out: Path | None) -> None:
    """Refuse ``--out -``: every command writes a folder, not a stream."""
    if out is not None and str(out) == "-":
        raise ScenarioError("--out -: dialsim writes a folder of files, not a stream; "
                            "give a folder name (use --json for the summary on stdout)")


def overrides_from(items: Sequence[str]) -> dict[str, Any]:
    return dict(parse_override(text) for text in items)


def load_from_args(args: argparse.Namespace, *, most_agents: int | None = None) -> Scenario:
    """The scenario of ``args`` with its ``--set`` overrides (and ``--quick``).

    A problem caused by an override is reported as the ``--set`` that caused it, not as
    a problem of the file. ``most_agents`` (a sweep over ``agents.count``) sizes the
    quick list for the largest team, so that no point runs out of leads at once.
    """
    check_out(getattr(args, "out", None))
    overrides = overrides_from(args.overrides)
    try:
        scenario = load_scenario(args.scenario, overrides=overrides)
    except ScenarioError as exc:
        if not overrides:
            raise
        load_scenario(args.scenario)  # the file alone is broken: report that
        raise blame_set(exc, args.scenario, args.overrides) from None
    if not getattr(args, "quick", False):
        return scenario
    if most_agents is not None and most_agents > min(scenario.agents.count, 10):
        return quick(scenario, leads=quick_leads(scenario, most_agents))
    return quick(scenario)


def blame_set(exc: ScenarioError, source: str | Path, items: Sequence[str]) -> ScenarioError:
    """``exc`` with each ``<file>: key: msg`` line told as ``--set KEY=VALUE: key: msg``."""
    keys = [(text.partition("=")[0].strip(), text) for text in items]
    lines = list(exc.problems) or str(exc).splitlines()
    out = []
    for line in lines:
        rest = line
        for prefix in (f"{source}: ", f"{Path(source)}: "):
            rest = rest.removeprefix(prefix)
        match = [t for k, t in keys if rest.startswith(k) or k.startswith(rest.split(":")[0])]
        who = f"--set {match[0]}" if match else f"--set ({', '.join(items)})"
        out.append(f"{who}: {rest}")
    return ScenarioError("\n".join(out), out)


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
