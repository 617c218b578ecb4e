"""``dialsim sweep``: run a scenario over a grid or a Latin hypercube of parameter values.

Prints one line per point (parameters, key KPIs and the cheapest plan's cost per
contact, each mean ± CI half-width), and writes to the output folder: ``sweep.csv``
(tidy: one row per point × replication), ``aggregate.csv`` (mean and CI per point and
metric), ``plots/*.png`` and the resumable state (``sweep.json``, ``runs/``). Running
the same command again after an interruption computes only the missing runs.

Exit codes: 0 all runs done; 1 some runs failed (listed; the others are saved);
2 bad input (nothing run); 130 interrupted (finished runs saved).
"""

from __future__ import annotations

import argparse
import math
import re
import sys
import time
from pathlib import Path
from typing import Any

from ..errors import SweepError
from ._common import (
    MAX_RUNS,
    Console,
    add_scenario_args,
    check_count,
    default_out,
    format_table,
    load_from_args,
)

__all__ = ["add_parser", "default_metrics", "run", "summary_rows"]

#: KPIs shown and plotted unless --metric is given.
DEFAULT_KPIS: tuple[str, ...] = ("contact_rate", "abandonment_rate",
                                 "contacts_per_agent_hour", "occupancy")
#: Points listed on stdout before "... and N more".
MAX_PRINTED = 40


def add_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "sweep", help="run a scenario over a grid / Latin hypercube of parameter values",
        description="Run a scenario at every point of a parameter grid (--vary) or of a\n"
                    "Latin hypercube (--samples with --range), several replications each\n"
                    "with the same seeds at every point, on local cores or a Dask cluster.\n"
                    "Writes sweep.csv, aggregate.csv and plots; an interrupted sweep\n"
                    "resumes when run again with the same arguments and --out.",
        epilog="examples:\n"
               "  dialsim sweep scenarios/baseline.toml --vary dialer.ratio=1,1.5,2 "
               "--vary agents.count=20:60:10 --reps 3 --out sweeps/ratio\n"
               "  dialsim sweep scenarios/baseline.toml --samples 40 --range dialer.ratio=1:2 "
               "--range agents.count=20:60 --quick",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    add_scenario_args(p)
    p.add_argument("--vary", action="append", default=[], metavar="KEY=VALUES",
                   help="a grid axis: KEY=a,b,c (values read as TOML) or KEY=start:stop:step "
                        "(stop included); repeat for a full-factorial grid")
    p.add_argument("--samples", type=int, metavar="N",
                   help="N Latin-hypercube points over the --range bounds")
    p.add_argument("--range", dest="ranges", action="append", default=[], metavar="KEY=LO:HI",
                   help="bounds of a sampled key; an integer key (agents.count) gets "
                        "integers, a float key (dialer.ratio) floats; repeatable")
    p.add_argument("--reps", type=int, default=3, metavar="R",
                   help="replications per point, seeds SEED..SEED+R-1 at every point "
                        "(default 3)")
    p.add_argument("--workers", type=int, metavar="N",
                   help="local worker processes (default: all CPUs; 1 = this process)")
    p.add_argument("--dask", metavar="ADDRESS",
                   help="run on a Dask cluster, e.g. tcp://scheduler:8786 (needs the "
                        "[dask] extra; --keep-cdrs then needs a shared --out)")
    p.add_argument("--plans", action="append", default=[], type=Path, metavar="FILE",
                   help="billing plan file(s) (default: the scenario's billing.plans)")
    p.add_argument("--metric", dest="metrics", action="append", default=[], metavar="NAME",
                   help="a column to print and plot, e.g. occupancy or "
                        "campaign_per_contact:cn-60/60 (repeatable; default: key KPIs and "
                        "the cheapest plan's cost per contact)")
    p.add_argument("--out", type=Path,
                   help="output folder (default: sweeps/<scenario>-NNN); the same folder "
                        "and arguments resume an interrupted sweep")
    p.add_argument("--force", action="store_true",
                   help="replace an --out folder that holds a different sweep")
    p.add_argument("--keep-cdrs", action="store_true",
                   help="also save every run's CDRs to OUT/cdrs/ (streamed to disk "
                        "as each run is simulated)")
    p.add_argument("--no-plots", action="store_true", help="do not draw plots")
    p.set_defaults(func=run)


def default_metrics(res: Any) -> list[str]:
    """Key KPIs, then cost per contact under the plan cheapest over all points."""
    out = [m for m in DEFAULT_KPIS if m in res.metrics]
    cost = [m for m in res.metrics if m.startswith("campaign_per_contact:")]
    if cost:
        means = {m: _overall(res, m) for m in cost}
        finite = {m: v for m, v in means.items() if math.isfinite(v)}
        if finite:
            out.append(min(finite, key=finite.__getitem__))
    return out


def _overall(res: Any, metric: str) -> float:
    vals = [r["mean"] for r in res.aggregate([metric]) if math.isfinite(r["mean"])]
    return sum(vals) / len(vals) if vals else math.nan


def share_metrics() -> set[str]:
    """KPIs that are shares (0-1 in files and JSON, % in human tables)."""
    from ..analysis.kpis import KPI_LABELS

    return {k for k, (_label, fmt) in KPI_LABELS.items() if fmt.endswith("%}")}


def _column(cells: list[dict[str, Any] | None], metric: str, shares: set[str]) -> list[str]:
    """One metric's ``mean ± half`` cells down the points, with the same places."""
    from ..fmt import ci_column

    share = metric in shares
    scale = 100.0 if share else 1.0
    means, halves = [], []
    for a in cells:
        mean = a["mean"] if a is not None else math.nan
        lo, hi = (a["low"], a["high"]) if a is not None else (math.nan, math.nan)
        means.append(mean * scale)
        halves.append((hi - lo) / 2 * scale if math.isfinite(lo) and math.isfinite(hi)
                      and hi != lo else None)
    out = ci_column(means, halves, is_money=":" in metric)
    out = [c if c == "n/a" else c.replace(" ± ", "% ± ") + "%" if share and "±" in c
           else c + "%" if share else c for c in out]
    return ["failed" if a is None else c for a, c in zip(cells, out, strict=True)]


def _cell(value: Any) -> str:
    from ..fmt import plain

    return plain(value) if isinstance(value, float) else str(value)


def summary_rows(res: Any, metrics: list[str]) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the stdout table: one row per point (shares in %)."""
    agg = {(r["point"], r["metric"]): r for r in res.aggregate(metrics)}
    cheapest: dict[int, tuple[float, str]] = {}  # point -> (cost per contact, plan)
    cost = [m for m in res.metrics if m.startswith("campaign_per_contact:")]
    for r in res.aggregate(cost) if cost else ():
        if math.isfinite(r["mean"]):
            cheapest[r["point"]] = min(cheapest.get(r["point"], (math.inf, "")),
                                       (r["mean"], r["metric"].split(":", 1)[1]))
    header = ["point", *res.params, *metrics] + (["cheapest plan"] if cost else [])
    shares = share_metrics()
    n = len(res.design.points)
    columns = {m: _column([agg.get((p, m)) for p in range(n)], m, shares) for m in metrics}
    rows = []
    for p, values in enumerate(res.design.points):
        row = [str(p), *(_cell(values[k]) for k in res.params)]
        row += [columns[m][p] for m in metrics]
        if cost:
            row.append(cheapest[p][1] if p in cheapest else "n/a")
        rows.append(row)
    return header, rows


def _most_agents(grid: dict[str, Any], ranges: dict[str, Any]) -> int | None:
    """The largest ``agents.count`` a sweep's points ask for (None if not swept)."""
    values = [*grid.get("agents.count", ()), *ranges.get("agents.count", ())]
    nums = [int(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    return max(nums) if nums else None


def sweep_summary(res: Any, metrics: list[str], out: Path | str,
                  files: list[str]) -> dict[str, Any]:
    """What ``--json`` prints: the design, and per point its parameters and each metric's
    mean and CI (shares as 0-1, money in the plan's currency, as in aggregate.csv)."""
    agg: dict[int, dict[str, Any]] = {}
    for r in res.aggregate(metrics):
        agg.setdefault(r["point"], {})[r["metric"]] = {
            "mean": r["mean"], "low": r["low"], "high": r["high"]}
    return {
        "out": str(out), "files": files, "kind": res.design.kind, "seeds": list(res.seeds),
        "params": list(res.params), "metrics": metrics,
        "points": [{"point": p, "values": dict(values), "metrics": agg.get(p, {})}
                   for p, values in enumerate(res.design.points)],
        "computed": res.computed, "reused": res.reused,
        "failures": [str(f) for f in res.failures],
    }


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.=-]+", "_", name).strip("_")


def write_plots(res: Any, metrics: list[str], folder: Path) -> list[Path]:
    """One PNG per metric (line with CI band, heat map, or main-effects panels)."""
    from ..output import atomic_write
    from ..sweeps.plots import sweep_figure

    paths = []
    for m in metrics:
        fig = sweep_figure(res, m)
        path = folder / f"{_safe(m)}.png"
        with atomic_write(path, "wb") as fh:
            fig.savefig(fh, format="png", dpi=110)
        paths.append(path)
    return paths


def _executor(address: str | None) -> tuple[Any, Any]:
    if address is None:
        return None, None
    try:
        from distributed import Client
    except ImportError:
        raise SweepError("--dask: needs the dask extra: python -m pip install "
                         "'dialsim[dask]'") from None
    try:
        client = Client(address, timeout=30)
    except OSError as exc:
        raise SweepError(f"--dask {address}: cannot connect ({exc})") from None
    return client, client.get_executor()


def _parse(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    from ..sweeps import parse_range, parse_vary

    grid: dict[str, Any] = {}
    for text in args.vary:
        key, values = parse_vary(text)
        if key in grid:
            raise SweepError(f"--vary {key}: given twice")
        grid[key] = values
    ranges: dict[str, Any] = {}
    for text in args.ranges:
        key, bounds = parse_range(text)
        if key in ranges:
            raise SweepError(f"--range {key}: given twice")
        ranges[key] = bounds
    return grid, ranges


def _check_counts(args: argparse.Namespace, grid: dict[str, Any]) -> None:
    """``--reps``, ``--samples`` and the runs they plan, before the scenario is read."""
    check_count("--reps", args.reps)
    if args.samples is not None:
        check_count("--samples", args.samples)
    points = math.prod(len(v) for v in grid.values()) * (args.samples or 1)
    if points * args.reps > MAX_RUNS:
        raise SweepError(f"--reps {args.reps}: {points:,} points × {args.reps:,} replications "
                         f"= {points * args.reps:,} runs, more than {MAX_RUNS:,} in one "
                         "sweep; sweep fewer values (--vary, --samples) or fewer --reps")


def run(args: argparse.Namespace) -> int:
    from ..sweeps import ProgressBar, _plans, sweep
    from ._metrics import check_metrics

    con = Console(args)
    grid, ranges = _parse(args)  # malformed values fail before the scenario is read
    _check_counts(args, grid)
    scenario = load_from_args(args, most_agents=_most_agents(grid, ranges))
    plans = _plans(scenario, args.plans or None)  # loaded once: priced by every run
    check_metrics("--metric", args.metrics, plans,
                  ", ".join(map(str, args.plans)) if args.plans else "the scenario")
    out = args.out or default_out(scenario, root="sweeps")
    bar = ProgressBar(f"sweep {scenario.name}", enabled=False if con.quiet else None)
    client, executor = _executor(args.dask)
    t0 = time.perf_counter()
    try:
        res = sweep(scenario, grid=grid or None, samples=args.samples, ranges=ranges or None,
                    replications=args.reps, seed=args.seed, workers=args.workers,
                    executor=executor, plans=plans, out=out, force=args.force,
                    keep_cdrs=args.keep_cdrs, progress=bar, errors="collect")
    except KeyboardInterrupt:
        bar.close()
        saved = len(list((Path(out) / "runs").glob("p*.json")))
        print(f"dialsim sweep: {saved} finished runs are saved in {out}/; run the same "
              f"command with --out {out} to resume", file=sys.stderr)
        raise
    finally:
        bar.close()
        if client is not None:
            client.close()

    metrics = args.metrics or default_metrics(res)
    unknown = [m for m in metrics if m not in res.metrics]
    if unknown and len(res.table):
        from ..validate import did_you_mean

        raise SweepError("; ".join(f"--metric {m}: no such column"
                                   + did_you_mean(m, list(res.metrics)) for m in unknown))
    con.table(f"{scenario.name}: {len(res.design)} points × {len(res.seeds)} replications "
              f"({res.design.kind}), seeds {res.seeds[0]}..{res.seeds[-1]}")
    header, rows = summary_rows(res, metrics)
    shown = rows[:MAX_PRINTED]
    con.table(format_table(shown, header, align="r" * len(header)))
    if len(rows) > MAX_PRINTED:
        con.table(f"... and {len(rows) - MAX_PRINTED} more points (see aggregate.csv)")
    written = ["sweep.csv", "sweep_long.csv", "aggregate.csv"]
    if not args.no_plots and len(res.table):
        plots = write_plots(res, metrics, Path(out) / "plots")
        written.append(f"plots/ ({len(plots)} PNG)")
    con.note(f"wrote {out}/ ({', '.join(written)})")
    workers = "Dask" if args.dask else f"{args.workers or 'all'} workers"
    con.note(f"{res.computed} runs in {time.perf_counter() - t0:.1f} s on {workers}"
             + (f", {res.reused} resumed from {out}/" if res.reused else ""))
    con.emit(sweep_summary(res, metrics, out, written))
    if res.failures:
        print(f"dialsim sweep: {len(res.failures)} runs failed (the others are saved; "
              "run the same command again to retry them):", file=sys.stderr)
        for f in res.failures:
            print(f"  {f}", file=sys.stderr)
        return 1
    return 0
